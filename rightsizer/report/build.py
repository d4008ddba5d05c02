"""The report of an analysis: the typed analysis (rightsizer.model) reduced to what a reader needs.

`build_report` is pure (no store, no I/O): the same analysis and previous figures give an
equal Report. The caller hands in the previous figures (`run.py` reads them with
`history.load_previous`); `changes.py` says what moved since them.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from rightsizer.iam.s3 import S3Resource
from rightsizer.model import (
    SCHEMA_VERSION,
    Analysis,
    GrantRow,
    RemovedGrant,
    RoleAnalysis,
    UsedRow,
)
from rightsizer.model_json import iso
from rightsizer.report import grants as g
from rightsizer.report.changes import changes_since
from rightsizer.report.errors import ReportError
from rightsizer.report.model import (
    BucketUsage,
    Coverage,
    DayActivity,
    DeniedCall,
    Grant,
    IngestHealth,
    KmsKeyUse,
    OutOfScope,
    Report,
    RoleGrant,
    RoleSection,
    SkippedGroup,
    Summary,
    UnknownUse,
    UnmappedEvent,
    UsedAction,
)

# How many example keys the report shows per reason a file was skipped.
SKIPPED_EXAMPLES = 5


def bucket_of(resource: str) -> str:
    """The bucket name of an S3 ARN (`arn:aws:s3:::b/k` → `b`); other resources (`*`, an access
    point) as given."""
    parsed = S3Resource.parse(resource)
    if parsed is None or parsed.access_point is not None or resource == "*":
        return resource
    return parsed.bucket


def _anchor(index: int, role_name: str) -> str:
    # HTML ids must be unique and plain; the index makes equal role names distinct.
    slug = re.sub(r"[^a-z0-9]+", "-", role_name.lower()).strip("-")[:48]
    return f"role-{index + 1}-{slug}" if slug else f"role-{index + 1}"


def _grants(
    items: tuple[GrantRow, ...] | tuple[RemovedGrant, ...], *, with_risk: bool = False
) -> tuple[Grant, ...]:
    out = [
        Grant(
            action=item.action,
            resource=item.resource,
            high_risk=with_risk and g.is_high_risk(item.action, item.resource),
            narrowed_to=tuple(
                f"{n.action} on {n.resource}" for n in getattr(item, "narrowed_to", ())
            ),
        )
        for item in items
    ]
    return tuple(sorted(out, key=lambda x: (x.action, x.resource)))


def _buckets(used: tuple[UsedRow, ...]) -> tuple[BucketUsage, ...]:
    by_bucket: dict[str, list[UsedAction]] = defaultdict(list)
    for item in used:
        row = UsedAction(item.action, item.resource, item.count, iso(item.last_seen) or "")
        by_bucket[bucket_of(row.resource)].append(row)
    return tuple(
        BucketUsage(
            bucket=bucket,
            calls=sum(r.count for r in rows),
            last_seen=max(r.last_seen for r in rows),
            actions=tuple(sorted(rows, key=lambda r: (r.action, r.resource))),
        )
        for bucket, rows in sorted(by_bucket.items())
    )


def _role(index: int, role: RoleAnalysis) -> RoleSection:
    removed = _grants(role.diff.removed, with_risk=True)
    kept = _grants(role.diff.kept)
    unknown_grants = _grants(role.diff.unknown)
    recommended = role.recommended_policy or {}
    counts = role.counts
    return RoleSection(
        role_name=role.role_name,
        role_arn=role.role_arn,
        account=role.account,
        anchor=_anchor(index, role.role_name),
        functions=tuple(sorted(role.functions)),
        lambda_role_source=role.lambda_role_source,
        buckets=_buckets(role.used),
        calls=sum(u.count for u in role.used),
        kms_keys=tuple(
            KmsKeyUse(k.key_arn, k.operations, k.count, k.buckets) for k in role.kms_keys
        ),
        denied=tuple(
            DeniedCall(d.action, d.resource, d.error_code, d.count, iso(d.last_seen) or "")
            for d in role.denied
        ),
        unknown=tuple(UnknownUse(u.action, u.resource, u.reason) for u in role.unknown),
        not_granted=tuple(
            UsedAction(n.action, n.resource, n.count, "")
            for n in role.not_granted_by_identity_policy
        ),
        removed=removed,
        kept=kept,
        unknown_grants=unknown_grants,
        unified_diff=role.diff.unified,
        current_policies=tuple(f"{p.name} ({p.kind})" for p in role.current_policies),
        permissions_boundary=role.permissions_boundary,
        recommended_policy=recommended,
        recommended_policy_json=json.dumps(recommended, indent=2, ensure_ascii=False),
        recommended_policy_size=role.recommended_policy_size or 0,
        # The analysis's figures (rightsizer.diff), so the report counts as every output does.
        grants_before=counts.before.grants if counts else 0,
        grants_after=counts.after.grants if counts else 0,
        grants_reduced=counts.removed_or_narrowed if counts else 0,
        actions_held=counts.before.s3_actions if counts else 0,
        actions_recommended=counts.after.s3_actions if counts else 0,
        actions_used=len(role.used_actions),
        wildcard_actions_before=counts.before.wildcard_actions if counts else 0,
        wildcard_actions_after=counts.after.wildcard_actions if counts else 0,
        warnings=role.warnings,
        out_of_scope=tuple(OutOfScope(o.policy, o.sid, o.actions) for o in role.out_of_scope),
        precision_given_up=tuple(f"{p.from_} → {p.to}" for p in role.precision_given_up),
        activity=tuple(DayActivity(a.day.isoformat(), a.calls, a.denied) for a in role.activity),
        evidence=role.evidence,
        unchanged=role.changed is False,
        refused=role.refused,
    )


def _ingest(analysis: Analysis) -> IngestHealth:
    ingest = analysis.ingest
    by_reason: dict[str, list[str]] = defaultdict(list)
    for item in ingest.skipped_files if ingest else ():
        by_reason[item.reason or "unknown reason"].append(item.key)
    return IngestHealth(
        ran=ingest is not None,
        files_read=ingest.files_read if ingest else 0,
        records_added=ingest.events_added if ingest else 0,
        duplicates=ingest.duplicates if ingest else 0,
        non_log_objects=sum(ingest.non_log_objects.values()) if ingest else 0,
        skipped=tuple(
            SkippedGroup(reason, len(keys), tuple(sorted(keys)[:SKIPPED_EXAMPLES]))
            for reason, keys in sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ),
        skipped_total=sum(len(keys) for keys in by_reason.values()),
        store_files=analysis.store.files,
        store_events=analysis.store.events,
        store_skipped_files=analysis.store.skipped_files,
    )


def _summary(analysis: Analysis, roles: tuple[RoleSection, ...]) -> Summary:
    window = analysis.window.as_dict()
    return Summary(
        window_start=str(window["start"]),
        window_end=str(window["end"]),
        days=analysis.window.days,
        granularity=analysis.granularity,
        scope=analysis.scope.describe(),
        roles_analysed=len(roles),
        idle_roles=sum(1 for r in roles if r.idle),
        grants_before=sum(r.grants_before for r in roles),
        grants_after=sum(r.grants_after for r in roles),
        grants_removed=sum(r.grants_reduced for r in roles),
        actions_held=sum(r.actions_held for r in roles),
        actions_recommended=sum(r.actions_recommended for r in roles),
        high_risk_before=sum(
            1 for r in roles for x in r.held if g.is_high_risk(x.action, x.resource)
        ),
        high_risk_removed=tuple(
            RoleGrant(r.role_name, r.role_arn, x.action, x.resource, x.narrowed_to)
            for r in roles
            if not r.refused  # a refused recommendation removes nothing
            for x in r.removed
            if x.high_risk
        ),
        roles_unknown_coverage=tuple(r.role_name for r in roles if r.unknown_grants or r.unknown),
        denied_calls=sum(d.count for r in roles for d in r.denied),
        wildcard_actions_before=sum(r.wildcard_actions_before for r in roles),
        wildcard_actions_after=sum(r.wildcard_actions_after for r in roles),
    )


def build_report(
    analysis: Analysis | Mapping[str, Any], *, previous: Mapping[str, Any] | None
) -> Report:
    """Build the report of an analysis (typed, or a saved analysis document); `previous` is
    the figures of the last report, if any."""
    if not isinstance(analysis, Analysis):
        version = analysis.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ReportError(
                f"analysis has schema_version {version!r}; this report understands "
                f"{SCHEMA_VERSION}: upgrade rightsizer or re-run `rightsizer analyze`"
            )
        analysis = Analysis.from_json(analysis)
    ordered = sorted(analysis.roles, key=lambda r: (r.role_name, r.role_arn))
    roles = tuple(_role(i, role) for i, role in enumerate(ordered))
    report = Report(
        summary=_summary(analysis, roles),
        ingest=_ingest(analysis),
        coverage=tuple(
            Coverage(c.account or "", c.region or "", c.read, c.write, c.source)
            for c in analysis.coverage
        ),
        unmapped_events=tuple(
            UnmappedEvent(u.event_source, u.event_name, u.count) for u in analysis.unmapped_events
        ),
        roles=roles,
        changes=None,
        selector_fixes=analysis.selector_fixes,
        findings=analysis.findings,
        watch=analysis.watch,
        warnings=analysis.warnings,
    )
    return report if previous is None else compared(report, previous)


def compared(report: Report, previous: Mapping[str, Any]) -> Report:
    """`report` with what moved since the report whose figures are `previous`."""
    return dataclasses.replace(report, changes=changes_since(previous, report))
