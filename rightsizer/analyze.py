"""The main job: usage → recommendation → replay → diff, for every Lambda role.

`analyze` returns the analysis in the documented JSON shape (README, "The analysis JSON").
Only Lambda roles appear, and every Lambda role of the IAM snapshot appears, idle ones too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import duckdb

from rightsizer import aws, sql
from rightsizer.diff import counts, diff, merged
from rightsizer.errors import ConfigError
from rightsizer.generate import recommend
from rightsizer.iam.policy import PolicyDocument, canonical_json, policy_size, to_dict
from rightsizer.iam.snapshot import (
    AccountSnapshot,
    Role,
    attach_functions,
    load_lambda_functions_file,
    load_live,
    load_snapshot_file,
)
from rightsizer.selectors import EventSelectors, fetch_event_selectors, load_event_selectors
from rightsizer.usage import RoleUsage, UsageReport, compute_usage, discover_lambda_roles
from rightsizer.verify import replay
from rightsizer.window import Window

# 2: ingest.non_log_objects counts only "other" (digest and insight folders are never listed).
SCHEMA_VERSION = 2


def iso(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


@dataclass(frozen=True)
class Analysis:
    """The analysis document and the roles whose recommendation failed the replay."""

    data: dict[str, Any]
    refused: tuple[str, ...]

    @property
    def exit_code(self) -> int:
        return 3 if self.refused else 0


def analyze(
    conn: duckdb.DuckDBPyConnection,
    window: Window,
    snapshot: AccountSnapshot,
    *,
    granularity: str = "prefix",
    selectors: EventSelectors | None = None,
    role_filter: Sequence[str] = (),
    ingest_summary: Mapping[str, Any] | None = None,
) -> Analysis:
    """Analyze every Lambda role (or those named in `role_filter`) over `window`."""
    scope = _lambda_roles(conn, window, snapshot)
    if role_filter:
        scope = _filter(scope, role_filter)
    usage = compute_usage(conn, window, lambda_roles=scope, selectors=selectors, with_calls=False)
    roles: list[dict[str, Any]] = []
    refused: list[str] = []
    for role_arn in sorted(scope):
        role = snapshot.roles.get(role_arn)
        role_usage = usage.roles.get(role_arn)
        entry = _role_entry(
            role_arn,
            role,
            role_usage,
            usage,
            granularity,
            partial(_example_call, conn, window, role_arn, scope[role_arn], selectors),
        )
        if entry["recommended_policy"] is None and any(
            w["code"] == "verification-failed" for w in entry["warnings"]
        ):
            refused.append(role_arn)
        roles.append(entry)
    data = {
        "schema_version": SCHEMA_VERSION,
        "window": window.as_dict(),
        "granularity": granularity,
        "ingest": dict(ingest_summary) if ingest_summary is not None else None,
        "store": store_totals(conn),
        "coverage": _coverage(usage),
        "skipped_log_files": [
            {
                "key": log.key,
                "reason": log.reason,
                "account": log.account,
                "region": log.region,
                "delivered_at": iso(log.delivered_at),
            }
            for log in usage.coverage.skipped
        ],
        "unmapped_events": [
            {
                "event_source": u.event_source,
                "event_name": u.event_name,
                "reason": u.reason,
                "count": u.count,
            }
            for u in usage.unmapped
        ],
        "roles": roles,
    }
    return Analysis(data, tuple(refused))


def _lambda_roles(
    conn: duckdb.DuckDBPyConnection, window: Window, snapshot: AccountSnapshot
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
        matches = [arn for arn in scope if name in (arn, arn.rsplit("/", 1)[-1])]
        if not matches:
            raise ConfigError(
                f"--role {name!r} is not a Lambda role of the snapshot or the logs; "
                "give a role name or ARN from `rightsizer analyze` output"
            )
        out.update({arn: scope[arn] for arn in matches})
    return out


def _role_entry(
    role_arn: str,
    role: Role | None,
    role_usage: RoleUsage | None,
    usage: UsageReport,
    granularity: str,
    example_call: Callable[[str, str], str],
) -> dict[str, Any]:
    functions = sorted(
        set(role_usage.functions if role_usage else ()) | set(role.functions if role else ())
    )
    entry: dict[str, Any] = {
        "role_arn": role_arn,
        "role_name": role_arn.rsplit("/", 1)[-1],
        "account": role_arn.split(":")[4] if role_arn.count(":") >= 5 else "",
        "functions": functions,
        "lambda_role_source": "snapshot" if role is not None else "user_agent",
        "denied": _denied(role_usage),
        "kms_keys": _kms(role_usage),
        "activity": [
            {"day": a.day.isoformat(), "calls": a.calls, "denied": a.denied}
            for a in (role_usage.daily if role_usage else ())
        ],
    }
    if role is None:
        return entry | _no_recommendation(
            "role-not-in-snapshot",
            "the logs show Lambda code using this role, but the IAM snapshot does not hold it; "
            "refresh the snapshot (aws iam get-account-authorization-details)",
            role_usage,
        )
    rec = recommend(role, role_usage, usage.coverage, granularity=granularity)
    if role.missing_policies:
        rec.warnings.append(
            {
                "code": "missing-policy",
                "message": "attached policies missing from the snapshot: "
                + ", ".join(role.missing_policies)
                + "; their grants could not be considered",
            }
        )
    current_docs = role.policies
    check = replay(rec.policy, current_docs, role_usage.used if role_usage else ())
    current = merged(current_docs)
    entry |= {
        "used": [_iso_row(row) for row in rec.used],
        "unknown": rec.unknown,
        "not_granted_by_identity_policy": rec.not_granted,
        "current_policies": [
            {
                "name": label.rsplit("/", 1)[-1],
                "kind": "managed" if label.startswith("arn:") else "inline",
                "arn": label if label.startswith("arn:") else None,
                "document": to_dict(doc),
            }
            for label, doc in role.policy_sources
        ],
        "permissions_boundary": getattr(
            role.permissions_boundary, "arn", role.permissions_boundary
        ),
        "current_policy": to_dict(current),
        "recommended_policy": to_dict(rec.policy),
        "recommended_policy_size": policy_size(rec.policy),
        "diff": diff(current_docs, rec.policy, rec.unknown_grants),
        "counts": {"before": counts(current), "after": counts(rec.policy)},
        "out_of_scope": rec.out_of_scope,
        "precision_given_up": rec.precision_given_up,
        "replay": {
            "calls": role_usage.call_count if role_usage else 0,
            "permissions": check.permissions,
            "not_granted_today": check.not_granted_today,
            "incomplete": role_usage.incomplete_calls if role_usage else 0,
        },
        "warnings": rec.warnings,
    }
    if not check.ok:
        first = dataclasses.replace(
            check.failures[0],
            call=example_call(check.failures[0].action, check.failures[0].resource),
        )
        entry["recommended_policy"] = None
        entry["warnings"].append(
            {
                "code": "verification-failed",
                "message": f"refused: the recommendation would deny {first.describe()}"
                + (f" and {len(check.failures) - 1} more" if len(check.failures) > 1 else ""),
            }
        )
    return entry


def _example_call(
    conn: duckdb.DuckDBPyConnection,
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


def _no_recommendation(code: str, message: str, role_usage: RoleUsage | None) -> dict[str, Any]:
    used = [
        {
            "action": u.action,
            "resource": u.resource,
            "count": u.count,
            "first_seen": iso(u.first_seen),
            "last_seen": iso(u.last_seen),
        }
        for u in (role_usage.used if role_usage else ())
    ]
    return {
        "used": used,
        "unknown": [],
        "not_granted_by_identity_policy": [],
        "current_policies": [],
        "permissions_boundary": None,
        "current_policy": None,
        "recommended_policy": None,
        "recommended_policy_size": None,
        "diff": {"removed": [], "kept": [], "unknown": [], "unified": ""},
        "counts": None,
        "out_of_scope": [],
        "precision_given_up": [],
        "replay": None,
        "warnings": [{"code": code, "message": message}],
    }


def _iso_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {**row, "first_seen": iso(row["first_seen"]), "last_seen": iso(row["last_seen"])}


def _denied(role_usage: RoleUsage | None) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for call in role_usage.denied if role_usage else ():
        action = call.denied_action or (call.needs[0][0] if call.needs else call.event_name)
        resource = call.denied_resource or (call.needs[0][1] if call.needs else "")
        row = rows.setdefault(
            (action, resource, call.error_code),
            {
                "action": action,
                "resource": resource,
                "error_code": call.error_code,
                "event_name": call.event_name,
                "functions": set(),
                "count": 0,
                "last_seen": None,
            },
        )
        row["count"] += call.count
        row["functions"].add(call.function or "")
        row["last_seen"] = max(filter(None, [row["last_seen"], call.last_seen]))
    return [
        {**row, "functions": sorted(row["functions"] - {""}), "last_seen": iso(row["last_seen"])}
        for _, row in sorted(rows.items())
    ]


def _kms(role_usage: RoleUsage | None) -> list[dict[str, Any]]:
    keys: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"operations": set(), "buckets": set(), "count": 0, "last_seen": None}
    )
    for use in role_usage.kms_keys if role_usage else ():
        key = keys[use.key_arn]
        key["operations"].add(use.operation)
        if use.bucket_arn:
            key["buckets"].add(use.bucket_arn.split(":::", 1)[-1].split("/", 1)[0])
        key["count"] += use.count
        key["last_seen"] = max(filter(None, [key["last_seen"], use.last_seen]))
    return [
        {
            "key_arn": arn,
            "operations": sorted(k["operations"]),
            "buckets": sorted(k["buckets"]),
            "count": k["count"],
            "last_seen": iso(k["last_seen"]),
        }
        for arn, k in sorted(keys.items())
    ]


def _coverage(usage: UsageReport) -> list[dict[str, Any]]:
    source = usage.coverage.source
    rows = []
    for seen in usage.coverage.observed:
        rows.append(
            {
                "account": seen.account,
                "region": seen.region,
                "read": usage.coverage.check(seen.account, seen.region, "*", "", "read").status,
                "write": usage.coverage.check(seen.account, seen.region, "*", "", "write").status,
                "read_events": seen.read_events,
                "write_events": seen.write_events,
                "source": source,
            }
        )
    return rows


def store_totals(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """How much the database holds: files, events and skipped files."""
    ((files, events, skipped),) = sql.run(conn, "store_totals", {})
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
