"""Report figures kept in the store between runs: one row per report in `report_runs`.

The figures document and the comparison with it live in `changes.py`; this module only
writes and reads them.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import duckdb

from rightsizer.report.changes import figures
from rightsizer.report.model import Report


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


def load_previous(conn: duckdb.DuckDBPyConnection, scope: str = "") -> dict[str, Any] | None:
    """The figures of the most recent report of `scope` (the report's `Summary.scope`: its
    filters in words, empty for every role) in the store, or None before the first.

    A report of some roles (`--role`, `--account`, `--only-changes`) compared with one of all
    of them would call every role it left out gone; figures saved before scopes were kept are
    taken as those of every role.
    """
    row = conn.execute(
        "SELECT figures FROM report_runs WHERE coalesce(figures ->> '$.scope', '') = ? "
        "ORDER BY created_at DESC, report_id DESC LIMIT 1",
        [scope],
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
