"""Report figures kept in the store between runs, and what moved since the previous report.

The figures are a small JSON document per report in the `report_runs` table; fields are only
ever added, so an older document reads with defaults.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import duckdb

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
    )


def save_run(
    conn: duckdb.DuckDBPyConnection,
    report: Report,
    *,
    report_id: str | None = None,
    created_at: dt.datetime | None = None,
) -> str:
    """Store the figures of a report so the next one can say what moved; returns its id."""
    run_id = report_id or uuid.uuid4().hex
    when = created_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    s = report.summary
    conn.execute(
        "INSERT INTO report_runs (report_id, created_at, window_start, window_end, figures) "
        "VALUES (?, ?, ?, ?, ?)",
        [
            run_id,
            when,
            _timestamp(s.window_start),
            _timestamp(s.window_end),
            json.dumps(figures(report), sort_keys=True),
        ],
    )
    return run_id


def load_previous(conn: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The figures of the most recent report in the store, or None before the first."""
    row = conn.execute(
        "SELECT figures FROM report_runs ORDER BY created_at DESC, report_id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    value = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    return dict(value)


def _timestamp(text: str) -> dt.datetime | None:
    # The analysis writes UTC as `...Z`; the store keeps naive UTC datetimes.
    if not text:
        return None
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.astimezone(dt.UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
