"""S3 failing midway: throttling and broken connections are retried, then reported.

The faults are real HTTP: a proxy process in front of the local moto_server (tests/
fault_proxy.py) answers 503 SlowDown, resets the connection, or cuts a response body short.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fault_proxy import LIST_REQUEST, LOG_FILE_REQUEST, Fault, fault_proxy
from trail_logs import WINDOW, build_tree, upload

import rightsizer.ingest as ingest_module
from rightsizer.cli import main
from rightsizer.errors import SourceError
from rightsizer.ingest import ingest
from rightsizer.sources import open_source
from rightsizer.store import connect

BUCKET = "trail-bucket"
SPEC = f"s3://{BUCKET}/trail"
EVENTS = "SELECT * FROM events ORDER BY event_id"


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def run_ingest(spec: str, db: Path) -> int:
    conn = connect(db)
    try:
        return ingest(conn, open_source(spec), WINDOW, workers=1).events_added
    finally:
        conn.close()


@pytest.fixture
def trail(moto: str, tmp_path: Path) -> Path:
    """The test tree in moto under `trail/`, and the database of a clean local ingest."""
    build_tree(tmp_path / "tree")
    upload(tmp_path / "tree", BUCKET, "trail/")
    clean = tmp_path / "clean.duckdb"
    assert run_ingest(str(tmp_path / "tree"), clean) == 5
    return clean


@pytest.mark.parametrize("kind", ["slowdown", "reset", "truncate"])
@pytest.mark.parametrize("request_kind", ["listing", "download"])
def test_transient_faults_are_retried_and_every_record_arrives(
    trail: Path,
    moto: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: Any,
    request_kind: str,
) -> None:
    pattern = LIST_REQUEST if request_kind == "listing" else LOG_FILE_REQUEST
    db = tmp_path / "faulty.duckdb"
    with fault_proxy(moto, [Fault(kind, pattern, times=2)]) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        assert run_ingest(SPEC, db) == 5
        state = proxy.state()
    assert len(state["hits"][0]) == 2  # both faults were served
    assert rows(db, EVENTS) == rows(trail, EVENTS)
    assert rows(db, "SELECT count(*) FROM skipped_files") == [(0,)]


def test_a_file_that_cannot_be_read_is_reported_and_what_was_read_is_kept(
    trail: Path,
    moto: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # One file per worker task and per transaction, so some commit before the failure.
    monkeypatch.setattr(ingest_module, "CHUNK_FILES", 1)
    monkeypatch.setattr(ingest_module, "BATCH_FILES", 1)
    monkeypatch.setattr(ingest_module, "INSERT_ROWS", 1)
    keys = sorted(k for (k,) in rows(trail, "SELECT source_key FROM files"))
    broken = keys[-1]  # the last file in key order: the files before it can commit
    db = tmp_path / "faulty.duckdb"
    fault = Fault("truncate", re.escape(broken.rsplit("/", 1)[-1]) + "$", times=1000)
    with fault_proxy(moto, [fault]) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        with pytest.raises(SourceError) as caught:
            run_ingest(SPEC, db)
        attempts = len(proxy.state()["hits"][0])
        args = ["ingest", "--source", SPEC, "--db", str(db), "--until", "2026-10-04"]
        assert main([*args, "--days", "3"]) == 2
    message = str(caught.value)
    assert f"s3://{BUCKET}/trail/{broken}" in message and "\n" not in message
    assert attempts > 1  # retried before giving up
    last = capsys.readouterr().err.splitlines()[-1]  # after the progress lines
    assert last.startswith("error: cannot read") and broken in last

    kept = sorted(k for (k,) in rows(db, "SELECT source_key FROM files"))
    assert kept == [k for k in keys if k != broken]  # every file read before it is kept
    kept_events = rows(db, EVENTS)
    clean_events = rows(trail, EVENTS)
    assert kept_events and all(row in clean_events for row in kept_events)

    # Once S3 answers again, a rerun reads only what is missing and ends like a clean run.
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    conn = connect(db)
    summary = ingest(conn, open_source(SPEC), WINDOW, workers=1)
    conn.close()
    assert summary.files_already_ingested == len(kept)
    assert rows(db, EVENTS) == clean_events
