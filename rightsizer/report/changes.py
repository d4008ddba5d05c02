"""What moved since the previous report: the figures a report leaves for the next one, and the
comparison of a report with them. Pure; `history.py` keeps the figures in the store.

The figures are a small JSON document per report; fields are only ever added, so an older
document reads with defaults.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rightsizer.report.model import Changes, FigureChange, Report, RoleGrant, RoleSection

FIGURES_VERSION = 1

# (key in figures["summary"], label in the report), in the order the report shows them.
FIGURE_LABELS: tuple[tuple[str, str], ...] = (
    ("roles_analysed", "Roles analysed"),
    ("grants_before", "S3 grants held"),
    ("grants_after", "S3 grants after the recommendation"),
    ("grants_removed", "S3 grants removable"),
    ("high_risk_removed", "High-risk grants removable"),
    ("actions_held", "S3 actions allowed (sum over roles)"),
    ("roles_unknown_coverage", "Roles with unknown coverage"),
    ("denied_calls", "Denied calls"),
    ("skipped_files", "Log files skipped"),
)


def figures(report: Report) -> dict[str, Any]:
    """The figures of a report that the next report compares with (JSON-ready)."""
    s = report.summary
    return {
        "version": FIGURES_VERSION,
        "window": {"start": s.window_start, "end": s.window_end, "days": s.days},
        "scope": s.scope,  # the next report compares itself only with one of the same scope
        "summary": {
            "roles_analysed": s.roles_analysed,
            "grants_before": s.grants_before,
            "grants_after": s.grants_after,
            "grants_removed": s.grants_removed,
            "high_risk_removed": len(s.high_risk_removed),
            "actions_held": s.actions_held,
            "roles_unknown_coverage": len(s.roles_unknown_coverage),
            "denied_calls": s.denied_calls,
            "skipped_files": report.ingest.skipped_total,
        },
        "findings": sorted({finding.key for finding in report.findings}),
        "roles": {
            role.role_arn: {
                "role_name": role.role_name,
                "held": sorted([x.action, x.resource] for x in role.held),
                "removed": sorted([x.action, x.resource] for x in role.removed),
            }
            for role in report.roles
        },
    }


def _pairs(items: Iterable[Any]) -> set[tuple[str, str]]:
    return {(str(a), str(r)) for a, r in items}


def _named(role: RoleSection, pairs: set[tuple[str, str]]) -> list[RoleGrant]:
    return [RoleGrant(role.role_name, role.role_arn, a, r) for a, r in sorted(pairs)]


def changes_since(previous: Mapping[str, Any], report: Report) -> Changes:
    """Compare a report with the figures of the previous one."""
    before_summary = previous.get("summary") or {}
    now_summary = figures(report)["summary"]
    before_roles: Mapping[str, Any] = previous.get("roles") or {}
    window = previous.get("window") or {}

    new_grants: list[RoleGrant] = []
    newly_unused: list[RoleGrant] = []
    no_longer_held: list[RoleGrant] = []
    for role in report.roles:
        old = before_roles.get(role.role_arn)
        if old is None:
            continue
        held_then = _pairs(old.get("held") or ())
        needed_then = held_then - _pairs(old.get("removed") or ())
        held_now = {(x.action, x.resource) for x in role.held}
        removed_now = {(x.action, x.resource) for x in role.removed}

        new_grants += _named(role, held_now - held_then)
        # Needed at the previous report, removable now: no use of it in this window.
        newly_unused += _named(role, removed_now & needed_then)
        no_longer_held += _named(role, held_then - held_now)

    current_arns = {role.role_arn for role in report.roles}
    shown_then = previous.get("findings")  # absent from figures older than activity findings
    return Changes(
        previous_window_start=str(window.get("start") or ""),
        previous_window_end=str(window.get("end") or ""),
        figures=tuple(
            FigureChange(label, int(before_summary.get(key) or 0), int(now_summary[key]))
            for key, label in FIGURE_LABELS
        ),
        new_roles=tuple(r.role_name for r in report.roles if r.role_arn not in before_roles),
        gone_roles=tuple(
            sorted(
                str((before_roles[arn] or {}).get("role_name") or arn)
                for arn in before_roles
                if arn not in current_arns
            )
        ),
        new_grants=tuple(new_grants),
        newly_unused=tuple(newly_unused),
        no_longer_held=tuple(no_longer_held),
        new_findings=tuple(
            sorted({f.key for f in report.findings} - set(shown_then or ()))
            if shown_then is not None
            else ()
        ),
        findings_compared=shown_then is not None,
    )
