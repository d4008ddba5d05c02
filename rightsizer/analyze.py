"""The main job: usage → recommendation → replay → diff, for every Lambda role.

`analyze` returns the typed analysis (rightsizer.model); its `to_json()` is the documented
JSON (README, "The analysis JSON"). Only Lambda roles appear, and every Lambda role of the IAM
snapshot appears, idle ones too.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from rightsizer import aws
from rightsizer.coverage import Hole
from rightsizer.diff import counts, diff, merged, removed_or_narrowed
from rightsizer.engine import EngineOrConnection, as_engine
from rightsizer.errors import ConfigError
from rightsizer.evidence import explain_grants
from rightsizer.findings import Code
from rightsizer.generate import Recommendation, recommend
from rightsizer.iam.arn import names_role, parse_arn, role_name
from rightsizer.iam.policy import PolicyDocument, canonical_json, policy_size, to_dict
from rightsizer.iam.s3 import S3Resource
from rightsizer.iam.snapshot import (
    AccountSnapshot,
    ManagedPolicy,
    Role,
    attach_functions,
    load_lambda_functions_file,
    load_live,
    load_snapshot_file,
)
from rightsizer.model import (
    ActivityDay,
    Analysis,
    Coarsening,
    Counts,
    CoverageRow,
    CurrentPolicy,
    DeniedRow,
    Finding,
    GrantRow,
    IngestRun,
    KmsKeyRow,
    NotGrantedRow,
    OutOfScope,
    PolicyCounts,
    PolicyDiff,
    RemovedGrant,
    Replay,
    RoleAnalysis,
    Scope,
    StoreTotals,
    UnknownItem,
    UnmappedRow,
    UsedRow,
    used_actions,
)
from rightsizer.selectors import EventSelectors, fetch_event_selectors, load_event_selectors
from rightsizer.trailfix import selector_fixes
from rightsizer.usage import RoleUsage, UsageReport, compute_usage, discover_lambda_roles
from rightsizer.usedsets import UsedSets, staged_usage
from rightsizer.verify import replay_batches
from rightsizer.watch import WatchSettings, watch
from rightsizer.window import Window

# Below these, a recommendation rests on thin evidence (README, "Warning codes").
MIN_WINDOW_DAYS = 30
MIN_CALLS = 100  # the default of the min_calls setting (rightsizer.config), for library callers

__all__ = [
    "Analysis",
    "analyze",
    "check_accounts",
    "load_selectors",
    "load_snapshot",
    "policy_text",
    "store_totals",
]


def analyze(
    conn: EngineOrConnection,
    window: Window,
    snapshot: AccountSnapshot,
    *,
    granularity: str = "prefix",
    selectors: EventSelectors | None = None,
    role_filter: Sequence[str] = (),
    accounts: Sequence[str] = (),
    only_changes: bool = False,
    ingest_summary: Mapping[str, Any] | None = None,
    min_calls: int = MIN_CALLS,
    watch_settings: WatchSettings | None = None,
) -> Analysis:
    """Analyze every Lambda role over `window`, on the store `conn` or any engine
    (rightsizer.engine): all of them, or those named in `role_filter` and of the `accounts`
    given; `only_changes` leaves out the roles that need no change. A role with fewer than
    `min_calls` successful S3 calls is warned about as low evidence. Then watch what their
    credentials did (rightsizer.watch; `watch_settings` holds its thresholds)."""
    scope = _lambda_roles(conn, window, snapshot)
    if role_filter:
        scope = _filter(scope, role_filter)
    if accounts:
        scope = _of_accounts(scope, accounts)
    holes: set[Hole] = set()  # what the trail's selectors leave out, for every role
    with staged_usage(
        conn, window, lambda_roles=scope, selectors=selectors, granularity=granularity
    ) as staged:
        usage = staged.report
        roles = tuple(
            _role_analysis(
                role_arn,
                snapshot.roles.get(role_arn),
                usage.roles.get(role_arn),
                usage,
                granularity,
                staged.sets(role_arn),
                partial(_example_call, conn, window, role_arn, scope[role_arn], selectors),
                holes,
            )
            for role_arn in sorted(scope)
        )
    roles = tuple(_with_evidence_findings(role, window, min_calls) for role in roles)
    # Every analysed role is watched, also those --only-changes leaves out of the list.
    findings, basis = watch(conn, window, snapshot, roles, watch_settings)
    if only_changes:
        roles = tuple(role for role in roles if role.changed is not False)
    coverage = _coverage(usage)
    return Analysis(
        window=window,
        granularity=granularity,
        ingest=IngestRun.from_json(ingest_summary) if ingest_summary is not None else None,
        store=StoreTotals(**store_totals(conn)),
        coverage=tuple(c for c in coverage if not accounts or c.account in accounts),
        skipped_log_files=tuple(usage.coverage.skipped),
        unmapped_events=tuple(
            UnmappedRow(u.event_source, u.event_name, u.reason, u.count) for u in usage.unmapped
        ),
        roles=roles,
        selector_fixes=tuple(selector_fixes(selectors, holes)),
        findings=findings,
        watch=basis,
        warnings=_window_findings(window),
        scope=Scope.of(role_filter, accounts, only_changes),
    )


def _window_findings(window: Window) -> tuple[Finding, ...]:
    """Warnings about the window itself, which hold for every role: said once, not per role."""
    if window.days >= MIN_WINDOW_DAYS:
        return ()
    return (
        Finding(
            Code.LOW_EVIDENCE,
            f"the window is {window.days} day(s), under {MIN_WINDOW_DAYS}: monthly or rarer work "
            f"of any role may not appear; analyze --days {MIN_WINDOW_DAYS} or more",
        ),
    )


def _with_evidence_findings(role: RoleAnalysis, window: Window, min_calls: int) -> RoleAnalysis:
    """Warn where the role's own evidence is thin: an idle role about to lose all its S3
    access, a role with fewer than `min_calls` calls (the window's length: _window_findings)."""
    if role.counts is None or role.replay is None:
        return role
    calls, figures = role.replay.calls, role.counts
    found = []
    if calls == 0 and figures.before.grants and not figures.after.grants:
        found.append(
            Finding(
                Code.IDLE_ROLE,
                f"no S3 call in the {window.days}-day window: the recommendation removes all "
                f"{figures.before.grants} of the role's S3 grants; check that its functions are "
                "retired or run less often than the window before applying it",
            )
        )
    elif calls < min_calls:
        found.append(
            Finding(
                Code.LOW_EVIDENCE,
                f"only {calls:,} successful S3 call(s) in the window (fewer than --min-calls "
                f"{min_calls}): a rarer need may be missing; analyze a longer window (--days)",
            )
        )
    return dataclasses.replace(role, warnings=(*role.warnings, *found)) if found else role


def _lambda_roles(
    conn: EngineOrConnection, window: Window, snapshot: AccountSnapshot
) -> dict[str, tuple[str, ...]]:
    """Lambda roles of the snapshot, plus roles the logs show Lambda code using."""
    scope = {role.arn: tuple(role.functions) for role in snapshot.lambda_roles()}
    for role_arn, functions in discover_lambda_roles(conn, window).items():
        known = scope.get(role_arn, ())
        scope[role_arn] = tuple(sorted(set(known) | set(functions)))
    return scope


def _filter(scope: dict[str, tuple[str, ...]], wanted: Sequence[str]) -> dict[str, tuple[str, ...]]:
    out = {}
    for name in wanted:
        matches = [arn for arn in scope if names_role(name, arn)]
        if not matches:
            known = sorted(role_name(arn) for arn in scope)
            shown = ", ".join(known[:20]) + (
                f" and {len(known) - 20} more" if len(known) > 20 else ""
            )
            raise ConfigError(
                f"role {name!r} is not a Lambda role of the snapshot or the logs; "
                f"give a role name or ARN: {shown or 'none in this window'}"
            )
        out.update({arn: scope[arn] for arn in matches})
    return out


def check_accounts(accounts: Sequence[str]) -> None:
    """ConfigError naming the first of `accounts` that is not an AWS account id."""
    for account in accounts:
        if not (len(account) == 12 and account.isdigit()):
            raise ConfigError(f"--account {account!r} is not an AWS account id (12 digits)")


def _of_accounts(
    scope: dict[str, tuple[str, ...]], accounts: Sequence[str]
) -> dict[str, tuple[str, ...]]:
    """The roles of `scope` in one of `accounts`; ConfigError for an account with none."""
    check_accounts(accounts)
    out = {}
    for account in accounts:
        matches = [arn for arn in scope if (arn_ := parse_arn(arn)) and arn_.account == account]
        if not matches:
            raise ConfigError(
                f"--account {account} has no Lambda role to analyze; give an account from "
                "`rightsizer analyze` output"
            )
        out.update({arn: scope[arn] for arn in matches})
    return out


def _role_analysis(
    role_arn: str,
    role: Role | None,
    role_usage: RoleUsage | None,
    usage: UsageReport,
    granularity: str,
    sets: UsedSets,
    example_call: Callable[[str, str], str],
    holes: set[Hole],
) -> RoleAnalysis:
    """What the logs show of one role, then (when the snapshot holds it) the recommendation;
    adds to `holes` where the trail's selectors left its grants unknown."""
    functions = sorted(
        set(role_usage.functions if role_usage else ()) | set(role.functions if role else ())
    )
    observed = RoleAnalysis(
        role_arn=role_arn,
        role_name=role_name(role_arn),
        account=arn.account if (arn := parse_arn(role_arn)) else "",
        functions=tuple(functions),
        lambda_role_source="snapshot" if role is not None else "user_agent",
        denied=_denied(role_usage),
        kms_keys=_kms(role_usage),
        activity=tuple(
            ActivityDay(a.day, a.calls, a.denied) for a in (role_usage.daily if role_usage else ())
        ),
        used=(
            ()
            if role is not None  # the recommendation's rows replace them
            else tuple(
                UsedRow(
                    u.action,
                    u.resource,
                    u.count,
                    u.first_seen,
                    u.last_seen,
                    u.functions,
                    u.example_event_id,
                )
                for u in sorted(sets.used(), key=lambda u: (u.first_seen, u.action, u.resource))
            )
        ),
        unknown=(),
        not_granted_by_identity_policy=(),
        current_policies=(),
        missing_policies=(),
        permissions_boundary=None,
        current_policy=None,
        recommended_policy=None,
        recommended_policy_size=None,
        changed=None,
        diff=PolicyDiff(removed=(), kept=(), unknown=(), unified=""),
        counts=None,
        out_of_scope=(),
        precision_given_up=(),
        replay=None,
        warnings=(),
    )
    if role is None:
        return dataclasses.replace(
            observed,
            warnings=(
                Finding(
                    Code.ROLE_NOT_IN_SNAPSHOT,
                    "the logs show Lambda code using this role, but the IAM snapshot does not "
                    "hold it; refresh the snapshot (aws iam get-account-authorization-details)",
                ),
            ),
        )
    rec = recommend(role, role_usage, usage.coverage, granularity=granularity, sets=sets)
    holes |= rec.selector_holes
    warnings = [Finding(**w) for w in rec.warnings]
    if role.missing_policies:
        warnings.append(
            Finding(
                Code.MISSING_POLICY,
                "attached policies missing from the snapshot: "
                + ", ".join(role.missing_policies)
                + "; their grants could not be considered, so the recommendation does not "
                "replace them: keep them attached (the --emit files leave them so)",
            )
        )
    check = replay_batches(rec.policy, role.policies, sets.needs())
    current = merged(role.policies)
    found = diff(role.policies, rec.policy, rec.unknown_grants)
    rows = _recommendation_rows(rec)
    analysis = dataclasses.replace(
        observed,
        **rows,
        current_policies=tuple(
            CurrentPolicy(
                name=label.rsplit("/", 1)[-1],
                kind="managed" if label.startswith("arn:") else "inline",
                arn=label if label.startswith("arn:") else None,
                document=to_dict(doc, as_held=True),
            )
            for label, doc in role.policy_sources
        ),
        missing_policies=role.missing_policies,
        permissions_boundary=_boundary_arn(role),
        current_policy=to_dict(current),
        recommended_policy=to_dict(rec.policy),
        recommended_policy_size=policy_size(rec.policy),
        changed=bool(found["unified"]),
        diff=_policy_diff(found),
        counts=_counts(current, rec.policy, found, rows["used"]),
        replay=Replay(
            calls=role_usage.call_count if role_usage else 0,
            permissions=check.permissions,
            not_granted_today=check.not_granted_today,
            incomplete=role_usage.incomplete_calls if role_usage else 0,
        ),
        warnings=tuple(warnings),
        evidence=explain_grants(
            rec.policy,
            rows["used"],
            rec.companions,
            role_usage.companion_sources if role_usage else (),
            rows["unknown"],
            warnings,
        ),
    )
    if check.ok:
        return analysis
    first = dataclasses.replace(
        check.failures[0],
        call=example_call(check.failures[0].action, check.failures[0].resource),
    )
    more = f" and {len(check.failures) - 1} more" if len(check.failures) > 1 else ""
    refusal = Finding(
        Code.VERIFICATION_FAILED,
        f"refused: the recommendation would deny {first.describe()}{more}",
    )
    return dataclasses.replace(
        analysis,
        recommended_policy=None,
        changed=None,  # no recommendation: neither a change nor "no change"
        counts=_today_kept(analysis.counts),
        evidence=(),  # nothing is recommended, so nothing to explain
        warnings=(*warnings, refusal),
        refused=True,
    )


def _counts(
    current: PolicyDocument,
    recommended: PolicyDocument,
    found: Mapping[str, Any],
    used: tuple[UsedRow, ...],
) -> Counts:
    """The role's figures, each defined once (rightsizer.diff; README, "The figures")."""
    before, after = PolicyCounts(**counts(current)), PolicyCounts(**counts(recommended))
    changed = removed_or_narrowed(found["removed"])
    return Counts(
        before=before,
        after=after,
        used_actions=len(used_actions(used)),
        removed_or_narrowed=changed,
        reduction=changed / before.grants if before.grants else None,
    )


def _today_kept(figures: Counts | None) -> Counts | None:
    """The figures of a refused recommendation: the role keeps today's policies, so nothing is
    removed and after is before (the refused policy's figures would be a change never made)."""
    if figures is None:
        return None
    before = figures.before
    return dataclasses.replace(
        figures,
        after=before,
        removed_or_narrowed=0,
        reduction=0.0 if before.grants else None,
    )


def _boundary_arn(role: Role) -> str | None:
    boundary = role.permissions_boundary
    return boundary.arn if isinstance(boundary, ManagedPolicy) else boundary


def _recommendation_rows(rec: Recommendation) -> dict[str, Any]:
    """The rows of a recommendation as model values (generate hands back JSON-shaped dicts)."""
    return {
        "used": tuple(UsedRow(**row) for row in rec.used),
        "unknown": tuple(UnknownItem(**item) for item in rec.unknown),
        "not_granted_by_identity_policy": tuple(NotGrantedRow(**row) for row in rec.not_granted),
        "out_of_scope": tuple(
            OutOfScope(**{**row, "actions": tuple(row["actions"])}) for row in rec.out_of_scope
        ),
        "precision_given_up": tuple(
            Coarsening(from_=row["from"], to=row["to"]) for row in rec.precision_given_up
        ),
    }


def _policy_diff(found: Mapping[str, Any]) -> PolicyDiff:
    """diff.diff's result as model values."""
    return PolicyDiff(
        removed=tuple(
            RemovedGrant(
                action=row["action"],
                resource=row["resource"],
                narrowed_to=tuple(GrantRow(**n) for n in row["narrowed_to"]),
            )
            for row in found["removed"]
        ),
        kept=tuple(GrantRow(**row) for row in found["kept"]),
        unknown=tuple(GrantRow(**row) for row in found["unknown"]),
        unified=found["unified"],
    )


def _example_call(
    conn: EngineOrConnection,
    window: Window,
    role_arn: str,
    functions: Sequence[str],
    selectors: EventSelectors | None,
    action: str,
    resource: str,
) -> str:
    """One call of the role that needed (action, resource): only looked up when a replay
    fails, so the analysis never holds every call in memory."""
    report = compute_usage(conn, window, lambda_roles={role_arn: functions}, selectors=selectors)
    for call in report.roles[role_arn].calls:
        if (action, resource) in call.needs:
            return f"{call.event_name} by {call.function or '?'} (event {call.example_event_id})"
    return ""


def _denied(role_usage: RoleUsage | None) -> tuple[DeniedRow, ...]:
    rows: dict[tuple[str, str, str], DeniedRow] = {}
    for call in role_usage.denied if role_usage else ():
        action = call.denied_action or (call.needs[0][0] if call.needs else call.event_name)
        resource = call.denied_resource or (call.needs[0][1] if call.needs else "")
        key = (action, resource, call.error_code)
        seen = rows.get(key)
        functions = {call.function} if call.function else set()
        if seen is None:
            rows[key] = DeniedRow(
                action=action,
                resource=resource,
                error_code=call.error_code,
                event_name=call.event_name,
                functions=tuple(sorted(functions)),
                count=call.count,
                last_seen=call.last_seen,
            )
        else:
            rows[key] = dataclasses.replace(
                seen,
                functions=tuple(sorted(set(seen.functions) | functions)),
                count=seen.count + call.count,
                last_seen=max(seen.last_seen, call.last_seen),
            )
    return tuple(row for _, row in sorted(rows.items()))


def _kms(role_usage: RoleUsage | None) -> tuple[KmsKeyRow, ...]:
    keys: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"operations": set(), "buckets": set(), "count": 0, "last_seen": None}
    )
    for use in role_usage.kms_keys if role_usage else ():
        key = keys[use.key_arn]
        key["operations"].add(use.operation)
        if use.bucket_arn:
            parsed = S3Resource.parse(use.bucket_arn)
            key["buckets"].add(parsed.bucket if parsed else use.bucket_arn)
        key["count"] += use.count
        key["last_seen"] = max(filter(None, [key["last_seen"], use.last_seen]))
    return tuple(
        KmsKeyRow(
            key_arn=arn,
            operations=tuple(sorted(k["operations"])),
            buckets=tuple(sorted(k["buckets"])),
            count=k["count"],
            last_seen=k["last_seen"],
        )
        for arn, k in sorted(keys.items())
    )


def _coverage(usage: UsageReport) -> tuple[CoverageRow, ...]:
    check = usage.coverage.check
    return tuple(
        CoverageRow(
            account=seen.account,
            region=seen.region,
            read=check(seen.account, seen.region, "*", "", "read").status,
            write=check(seen.account, seen.region, "*", "", "write").status,
            read_events=seen.read_events,
            write_events=seen.write_events,
            source=usage.coverage.source,
        )
        for seen in usage.coverage.observed
    )


def store_totals(conn: EngineOrConnection) -> dict[str, int]:
    """How much the database (or what an in-place engine read) holds: files, events and
    skipped files."""
    ((files, events, skipped),) = as_engine(conn).rows("store_totals", {})
    return {"files": files, "events": events, "skipped_files": skipped}


def policy_text(document: Mapping[str, Any] | PolicyDocument) -> str:
    """A policy pretty-printed as it is written to `<role>.policy.json`."""
    return (
        canonical_json(document if isinstance(document, PolicyDocument) else dict(document)) + "\n"
    )


def load_snapshot(
    iam_details: str | None,
    lambda_functions: str | None,
    *,
    profile: str | None = None,
    region: str | None = None,
) -> AccountSnapshot:
    """Today's roles and policies: from the snapshot file when given, else live (read-only)."""
    if iam_details:
        snapshot = load_snapshot_file(iam_details)
        if lambda_functions:
            snapshot = attach_functions(snapshot, load_lambda_functions_file(lambda_functions))
        return snapshot
    return load_live(aws.session(profile, region))


LIVE = "live"


def load_selectors(
    path: str | None, *, profile: str | None = None, region: str | None = None
) -> EventSelectors | None:
    """The trails' data-event selectors: from `--event-selectors FILE`, or read from
    CloudTrail when it is `live`; None means coverage is inferred from the logs."""
    if path == LIVE:
        return fetch_event_selectors(aws.session(profile, region).client("cloudtrail"))
    return load_event_selectors(path) if path else None
