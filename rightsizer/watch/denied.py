"""Denied calls: bursts above a role's usual rate, rises after a policy change, and for each
denied S3 call which policy blocks it.

The usual rate of a role is its denied calls per hour from its first call in the store to the
window end, the hour judged left out. An hour of the window is a burst when it holds at least
`burst_min_calls` denied calls and at least `burst_factor` times that rate; bursting hours in a
row are one finding. A policy change (queries/watch_policy_changes.sql) is followed by a rise
when the role's denied calls in the `change_hours` after it (counted by the hour, the change's
own hour included) are at least `burst_factor` times those in as many hours before it (any
number, when there were none).

Which policy blocks a denied call: the error message says so when S3 wrote it (`because no
identity-based policy allows ...`); otherwise today's policies of the snapshot are evaluated
(rightsizer.iam.policy.Evaluator): a Deny in an identity policy, no Allow in them, a
permissions boundary without it, or, when all of those allow it, a policy rightsizer cannot see
(a bucket policy, an SCP, a session or VPC endpoint policy).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rightsizer.engine import Engine
from rightsizer.iam.matching import escape_resource
from rightsizer.iam.policy import Decision, Evaluator
from rightsizer.iam.s3 import S3Resource
from rightsizer.iam.snapshot import ManagedPolicy, Role
from rightsizer.model import ActivityFinding, DeniedRow, Evidence, RoleAnalysis
from rightsizer.watch.codes import Activity
from rightsizer.window import Window

_HOUR = dt.timedelta(hours=1)
# How S3's error messages name the policy that denied a call, and the name rightsizer uses.
_STATED = (
    (re.compile(r"explicit deny in an? identity-based policy"), "identity-deny"),
    (re.compile(r"no identity-based policy allows"), "identity-policy"),
    (re.compile(r"permissions boundary"), "permissions-boundary"),
    (re.compile(r"resource-based policy"), "resource-policy"),
    (re.compile(r"(service|resource) control policy"), "organization-policy"),
    (re.compile(r"session policy"), "session-policy"),
    (re.compile(r"VPC endpoint policy"), "vpc-endpoint-policy"),
)
_BLOCKERS = {
    "identity-policy": "no identity policy of the role allows it",
    "identity-deny": "a Deny in an identity policy of the role",
    "permissions-boundary": "the role's permissions boundary does not allow it",
    "resource-policy": "a resource policy (the bucket policy, an access point policy)",
    "organization-policy": "an organization policy (SCP or RCP)",
    "session-policy": "a session policy",
    "vpc-endpoint-policy": "a VPC endpoint policy",
    "unknown": "a policy rightsizer cannot see",
}


@dataclass(frozen=True)
class DeniedHour:
    """One row of queries/watch_denied_hours.sql."""

    role_arn: str
    hour: dt.datetime
    calls: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    first_event_id: str
    last_event_id: str
    source_ips: Sequence[str]
    user_agents: Sequence[str]
    sessions: Sequence[str]
    event_names: Sequence[str]


def denied_hours(engine: Engine, window: Window) -> dict[str, list[DeniedHour]]:
    """Each role's hours with denied calls, in order."""
    hours: dict[str, list[DeniedHour]] = {}
    for row in engine.rows("watch_denied_hours", {"window_end": window.end}):
        hour = DeniedHour(*row)
        hours.setdefault(hour.role_arn, []).append(hour)
    return hours


def _hour_of(moment: dt.datetime) -> dt.datetime:
    """The UTC hour a moment falls in, as the queries' date_trunc('hour', ...) gives it."""
    return moment.replace(minute=0, second=0, microsecond=0)


def _evidence(hours: Sequence[DeniedHour]) -> Evidence:
    return Evidence(
        count=sum(h.calls for h in hours),
        first_seen=hours[0].first_seen,
        last_seen=hours[-1].last_seen,
        event_ids=tuple(dict.fromkeys([hours[0].first_event_id, hours[-1].last_event_id])),
        source_ips=tuple(sorted({ip for h in hours for ip in h.source_ips if ip}))[:5],
        user_agents=tuple(sorted({ua for h in hours for ua in h.user_agents if ua}))[:5],
        sessions=tuple(sorted({s for h in hours for s in h.sessions if s}))[:5],
    )


def bursts(
    hours: Mapping[str, list[DeniedHour]],
    first_call: Mapping[str, dt.datetime],
    window: Window,
    role_names: Mapping[str, str],
    *,
    min_calls: int,
    factor: int,
) -> list[ActivityFinding]:
    """`denied-burst` findings: runs of hours of the window far above the role's usual rate."""
    found = []
    for role_arn, role_hours in sorted(hours.items()):
        start = _hour_of(first_call.get(role_arn, role_hours[0].hour))
        span = max(1, round((window.end - start) / _HOUR))
        total = sum(h.calls for h in role_hours)
        runs: list[list[DeniedHour]] = []
        for hour in role_hours:
            usual = (total - hour.calls) / max(1, span - 1)
            if hour.hour < window.start or hour.calls < max(min_calls, factor * usual):
                continue
            if runs and runs[-1][-1].hour + _HOUR == hour.hour:
                runs[-1].append(hour)
            else:
                runs.append([hour])
        for run in runs:
            count = sum(h.calls for h in run)
            usual = (total - count) / max(1, span - len(run))
            names = sorted({n for h in run for n in h.event_names})
            found.append(
                ActivityFinding(
                    code=Activity.DENIED_BURST,
                    role_arn=role_arn,
                    role_name=role_names[role_arn],
                    subject=f"denied calls from {run[0].hour:%Y-%m-%dT%H:00Z}",
                    message=(
                        f"{count} denied calls ({', '.join(names[:5])}) in {len(run)} "
                        f"hour{'s' if len(run) != 1 else ''} from "
                        f"{run[0].hour:%Y-%m-%d %H:00} UTC; the role's usual rate is "
                        f"{usual:.2f} an hour"
                    ),
                    evidence=_evidence(run),
                    what_to_do=(
                        "a deployment that needs a permission it lacks, or someone probing "
                        "with the role's credentials: look at the sessions and sources of "
                        "these calls, and at the denied-call findings for what they tried"
                    ),
                )
            )
    return found


@dataclass(frozen=True)
class PolicyChange:
    """One row of queries/watch_policy_changes.sql."""

    event_id: str
    event_time: dt.datetime
    event_name: str
    role_name: str | None
    policy_arn: str | None
    bucket: str | None
    principal_arn: str | None
    source_ip: str | None
    user_agent: str | None


def policy_changes(
    engine: Engine, window: Window, change_hours: int
) -> tuple[list[PolicyChange], int]:
    """The policy changes from `change_hours` before the window to its end, and how many IAM
    events the store holds at all."""
    params = {"change_start": window.start - change_hours * _HOUR, "window_end": window.end}
    changes = [PolicyChange(*row) for row in engine.rows("watch_policy_changes", params)]
    counted = engine.rows("watch_iam_events", {"window_end": window.end})
    # An engine that returns no row for an empty result (some do for an aggregate) means none.
    return changes, (counted[0][0] or 0) if counted else 0


def _touches(change: PolicyChange, role: Role, buckets: set[str]) -> bool:
    """Whether a change is to a policy of the role (or a bucket it was denied on)."""
    if change.role_name is not None:
        return change.role_name.lower() == role.name.lower()
    if change.policy_arn is not None:
        boundary = role.permissions_boundary
        arns = {p.arn for p in role.managed_policies}
        arns.add(boundary.arn if isinstance(boundary, ManagedPolicy) else boundary or "")
        return change.policy_arn in arns
    return change.bucket is not None and change.bucket in buckets


def after_changes(
    changes: Sequence[PolicyChange],
    hours: Mapping[str, list[DeniedHour]],
    roles: Sequence[RoleAnalysis],
    snapshot_roles: Mapping[str, Role],
    *,
    change_hours: int,
    factor: int,
) -> list[ActivityFinding]:
    """`denied-after-policy-change` findings: a change to a role's (or a bucket's) policy
    followed by more denied calls of the role than before it."""
    found = []
    for analysis in roles:
        role = snapshot_roles.get(analysis.role_arn)
        role_hours = hours.get(analysis.role_arn, [])
        if role is None or not role_hours:
            continue
        buckets = {b for d in analysis.denied if (b := _bucket(d.resource))}
        for change in changes:
            if not _touches(change, role, buckets):
                continue
            hour = _hour_of(change.event_time)
            after = [h for h in role_hours if hour <= h.hour < hour + change_hours * _HOUR]
            before = sum(
                h.calls for h in role_hours if hour - change_hours * _HOUR <= h.hour < hour
            )
            count = sum(h.calls for h in after)
            if not count or count < factor * before:
                continue
            what = change.role_name or change.policy_arn or change.bucket
            found.append(
                ActivityFinding(
                    code=Activity.DENIED_AFTER_POLICY_CHANGE,
                    role_arn=analysis.role_arn,
                    role_name=analysis.role_name,
                    subject=f"{change.event_name} {change.event_id}",
                    message=(
                        f"{count} denied calls in the {change_hours} hours after "
                        f"{change.event_name} on {what} at {change.event_time:%Y-%m-%d %H:%M} "
                        f"UTC by {change.principal_arn or 'an unknown principal'}, against "
                        f"{before} in the {change_hours} hours before"
                    ),
                    evidence=Evidence(
                        count=count,
                        first_seen=change.event_time,
                        last_seen=after[-1].last_seen,
                        event_ids=(change.event_id, after[0].first_event_id),
                        source_ips=tuple(filter(None, [change.source_ip])),
                        user_agents=tuple(filter(None, [change.user_agent])),
                        sessions=tuple(sorted({s for h in after for s in h.sessions if s}))[:5],
                    ),
                    what_to_do=(
                        "the change likely removed something the role needs: compare the "
                        "policy before and after it (the change event holds the new document) "
                        "and the denied-call findings of the role"
                    ),
                )
            )
    return found


def _bucket(resource: str) -> str | None:
    parsed = S3Resource.parse(resource)
    return parsed.bucket if parsed is not None and parsed.access_point is None else None


@dataclass(frozen=True)
class DeniedGroup:
    """One row of queries/watch_denied_calls.sql."""

    role_arn: str
    event_name: str
    error_code: str
    denied_action: str | None
    denied_resource: str | None
    bucket: str | None
    object_key: str | None
    calls: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    first_event_id: str
    last_event_id: str
    source_ips: Sequence[str]
    user_agents: Sequence[str]
    sessions: Sequence[str]
    error_message: str | None

    def names(self, row: DeniedRow, partition: str) -> bool:
        """Whether this group is among the calls the analysis folded into `row`."""
        if (self.event_name, self.error_code) != (row.event_name, row.error_code):
            return False
        if self.denied_action and self.denied_resource:
            return (self.denied_action, self.denied_resource) == (row.action, row.resource)
        base = f"arn:{partition}:s3:::{self.bucket}"
        return row.resource in (base, f"{base}/{self.object_key}")


def denied_groups(engine: Engine, window: Window) -> dict[str, list[DeniedGroup]]:
    """The denied S3 calls of the window, per role."""
    params = {"window_start": window.start, "window_end": window.end}
    groups: dict[str, list[DeniedGroup]] = {}
    for row in engine.rows("watch_denied_calls", params):
        group = DeniedGroup(*row)
        groups.setdefault(group.role_arn, []).append(group)
    return groups


def troubleshoot(
    analysis: RoleAnalysis, role: Role | None, groups: Sequence[DeniedGroup]
) -> list[ActivityFinding]:
    """A `denied-call` finding for each denied call of the analysis (action × resource × error):
    what was tried, by which functions, how often, and which policy would have to change."""
    partition = analysis.role_arn.split(":")[1] if analysis.role_arn.count(":") > 1 else "aws"
    found = []
    for row in analysis.denied:
        mine = [g for g in groups if g.names(row, partition)]
        message = next((g.error_message for g in mine if g.error_message), None)
        blocked_by, why = _blocked_by(role, row.action, row.resource, message)
        statement = (
            {"Effect": "Allow", "Action": row.action, "Resource": escape_resource(row.resource)}
            if blocked_by == "identity-policy"
            else None
        )
        functions = ", ".join(row.functions) or "an unknown session"
        found.append(
            ActivityFinding(
                code=Activity.DENIED_CALL,
                role_arn=analysis.role_arn,
                role_name=analysis.role_name,
                subject=f"{row.action} on {row.resource} ({row.error_code})",
                message=(
                    f"{functions} tried {row.action} on {row.resource} {row.count} "
                    f"time{'s' if row.count != 1 else ''} ({row.event_name}, {row.error_code}): "
                    f"{why}"
                ),
                evidence=_group_evidence(row, mine),
                what_to_do=_remedy(blocked_by, role, row.resource),
                blocked_by=blocked_by,
                statement=statement,
            )
        )
    return found


def _group_evidence(row: DeniedRow, groups: Sequence[DeniedGroup]) -> Evidence:
    if not groups:
        return Evidence(row.count, None, row.last_seen, (), (), (), row.functions)
    first = min(groups, key=lambda g: (g.first_seen, g.first_event_id))
    last = max(groups, key=lambda g: (g.last_seen, g.last_event_id))
    return Evidence(
        count=row.count,
        first_seen=first.first_seen,
        last_seen=last.last_seen,
        event_ids=tuple(dict.fromkeys([first.first_event_id, last.last_event_id])),
        source_ips=tuple(sorted({ip for g in groups for ip in g.source_ips if ip}))[:5],
        user_agents=tuple(sorted({ua for g in groups for ua in g.user_agents if ua}))[:5],
        sessions=tuple(sorted({s for g in groups for s in g.sessions if s}))[:5],
    )


def _blocked_by(
    role: Role | None, action: str, resource: str, message: str | None
) -> tuple[str, str]:
    """(which policy blocks the call, a sentence saying how that is known)."""
    stated = next((name for rx, name in _STATED if message and rx.search(message)), None)
    judged, detail = _judged(role, action, resource)
    if stated is None:
        return judged, detail
    said = f"the error message says {_BLOCKERS[stated]}"
    if judged in (stated, "unknown") or role is None:
        return stated, said
    # The snapshot may be newer or older than the call: both are worth reading.
    return stated, f"{said}; today's policies in the snapshot point to: {detail}"


def _judged(role: Role | None, action: str, resource: str) -> tuple[str, str]:
    """Which policy blocks (action, resource), from today's policies in the snapshot."""
    if role is None:
        return "unknown", "the role is not in the IAM snapshot; its policies are unknown"
    for label, document in role.policy_sources:
        if Evaluator(document, conditional_deny="ignore")(action, resource) is Decision.DENY:
            return "identity-deny", f"a Deny in {label.rsplit('/', 1)[-1]} blocks it"
    decision = Evaluator(role.policies, conditional_deny="apply")(action, resource)
    if decision is Decision.DENY:
        return "identity-deny", "a conditional Deny of the role's policies may block it"
    if decision is Decision.IMPLICIT_DENY:
        return "identity-policy", _BLOCKERS["identity-policy"]
    boundary = role.permissions_boundary
    held = role.boundary_document
    if held is not None and not Evaluator(held).allows(action, resource):
        return (
            "permissions-boundary",
            f"the permissions boundary {boundary_name(role)} does not allow it",
        )
    if boundary is not None and held is None:
        return "unknown", (
            f"the identity policies allow it; the permissions boundary {boundary_name(role)} "
            "is not in the snapshot, or a resource policy denies it"
        )
    return "resource-policy", (
        "the role's identity policies"
        + (" and boundary" if boundary is not None else "")
        + " allow it, so a policy rightsizer cannot see denies it: the bucket policy, an SCP "
        "or RCP, a session or VPC endpoint policy"
    )


def boundary_name(role: Role) -> str:
    boundary = role.permissions_boundary
    arn = boundary.arn if isinstance(boundary, ManagedPolicy) else boundary or ""
    return arn.rsplit("/", 1)[-1]


def _remedy(blocked_by: str, role: Role | None, resource: str) -> str:
    bucket = _bucket(resource)
    remedies = {
        "identity-policy": (
            "if the function needs it, add the statement shown to the role's policy "
            "(rightsizer never adds a denied call to its recommendation); if not, fix the code "
            "that makes the call"
        ),
        "identity-deny": "change the Deny statement if the call is wanted; else fix the code",
        "permissions-boundary": (
            f"widen the permissions boundary {boundary_name(role) if role else ''} if the "
            "call is wanted; the identity policy already allows it"
        ),
        "resource-policy": (
            f"check the bucket policy of {bucket or 'the resource'} (and SCPs, VPC endpoint "
            "policies) if the call is wanted; else fix the code"
        ),
    }
    return remedies.get(
        blocked_by, f"check {_BLOCKERS.get(blocked_by, 'the policies')} if the call is wanted"
    )
