"""Every record of the real-world corpus goes through ingest without a crash; only records
without an eventID or an eventTime are left out (and counted), and Insight records are
skipped."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import CORPUS_DIR
from trail_logs import log_key, write_file

from rightsizer.ingest import ingest
from rightsizer.records import read_log_file
from rightsizer.sources import open_source
from rightsizer.store import connect
from rightsizer.window import Window

pytestmark = pytest.mark.corpus

CORPUS_FILES = sorted(CORPUS_DIR.glob("*.json"))


def usable_ids(records: list[Any], *, stored: bool = False) -> list[str]:
    """eventIDs of the records decoding keeps, worked out independently with json; `stored`:
    of those ingest stores, which also need an eventTime (some samples have none)."""
    return [
        r["eventID"]
        for r in records
        if isinstance(r, dict)
        and isinstance(r.get("eventID"), str)
        and r["eventID"]
        and r.get("eventType") != "AwsCloudTrailInsight"
        and (not stored or has_time(r))
    ]


def has_time(record: dict[str, Any]) -> bool:
    text = record.get("eventTime")
    try:
        return isinstance(text, str) and bool(dt.datetime.fromisoformat(text))
    except ValueError:
        return False


def test_corpus_is_present() -> None:
    assert len(CORPUS_FILES) >= 20


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_every_corpus_record_is_decoded_or_counted(path: Path) -> None:
    data = path.read_bytes()
    records = json.loads(data)["Records"]
    decoded = read_log_file(gzip.compress(data))
    assert [r.eventID for r in decoded.records] == usable_ids(records)
    assert len(decoded.records) + decoded.bad_records + decoded.insight_records == len(records)


def test_whole_corpus_ingests_into_the_store(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    expected: list[str] = []
    total = 0
    for index, path in enumerate(CORPUS_FILES):
        data = path.read_bytes()
        records = json.loads(data)["Records"]
        total += len(records)
        expected += usable_ids(records, stored=True)
        key = log_key(dt.datetime(2026, 10, 1, 0, index), unique=f"{index:016d}")
        write_file(root, key, gzip.compress(data))
    conn = connect(tmp_path / "store.duckdb")
    summary = ingest(conn, open_source(str(root)), Window.ending(dt.datetime(2026, 10, 2), 1))
    assert summary.skipped_files == []
    assert summary.records == total
    assert summary.events_added == len(set(expected))
    assert summary.duplicates == len(expected) - len(set(expected))
    stored = {row[0] for row in conn.execute("SELECT event_id FROM events").fetchall()}
    assert stored == set(expected)
    check_known_quirks(conn)
    conn.close()


def check_known_quirks(conn: duckdb.DuckDBPyConnection) -> None:
    def one(sql: str, params: list[Any] | None = None) -> Any:
        row = conn.execute(sql, params or []).fetchone()
        assert row is not None
        return row[0]

    # The Cribl capture writes readOnly as the strings "true"/"false": stored as booleans.
    index = next(i for i, p in enumerate(CORPUS_FILES) if p.stem.startswith("criblpacks"))
    cribl = json.loads(CORPUS_FILES[index].read_bytes())["Records"]
    as_text = {r["eventID"]: r["readOnly"] == "true" for r in cribl if "readOnly" in r}
    assert set(map(type, [r["readOnly"] for r in cribl if "readOnly" in r])) == {str}
    key = log_key(dt.datetime(2026, 10, 1, 0, index), unique=f"{index:016d}")
    stored = dict(
        conn.execute(
            "SELECT event_id, read_only FROM events WHERE source_file = ?", [key]
        ).fetchall()
    )
    assert stored and all(stored[i] is as_text[i] for i in stored)
    # Panther's space-separated times with nanoseconds are parsed, not dropped.
    assert one("SELECT count(*) FROM events WHERE event_time = '2022-11-21 18:06:52'") >= 1
    # Assumed-role sessions keep the role ARN with its path and the session name.
    assert one("SELECT count(*) FROM events WHERE role_arn LIKE '%:role/%'") > 100
    assert one("SELECT count(*) FROM events WHERE session_name IS NOT NULL") > 100
