"""Ingest end to end on small CloudTrail trees: incremental, idempotent, deduplicated, and
losing nothing good when a file or a record is bad."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from trail_logs import (
    ACCOUNT,
    WINDOW,
    log_key,
    make_record,
    query,
    run_ingest,
    write_file,
    write_log,
    write_tree,
)

from rightsizer.cli import main
from rightsizer.errors import StoreError
from rightsizer.ingest import IngestSummary, ingest
from rightsizer.progress import PlainProgress, terminal_progress
from rightsizer.sources import open_source
from rightsizer.store import connect, migrate


def test_tree_is_ingested_with_its_manifest(tmp_path: Path) -> None:
    ids = write_tree(tmp_path / "logs")
    db = tmp_path / "store.duckdb"
    summary = run_ingest(tmp_path / "logs", db)
    assert (summary.files_listed, summary.files_read, summary.records) == (6, 6, 120)
    assert (summary.events_added, summary.duplicates, summary.skipped_files) == (120, 0, [])
    assert sorted(r[0] for r in query(db, "SELECT event_id FROM events")) == sorted(ids)
    manifest = query(
        db,
        "SELECT account, region, delivered_at, records, events_added, duplicates, bad_records"
        " FROM files ORDER BY source_key",
    )
    assert manifest[0] == (ACCOUNT, "eu-west-1", dt.datetime(2026, 10, 1, 10, 3), 20, 20, 0, 0)
    assert {row[1] for row in manifest} == {"us-east-1", "eu-west-1"}
    assert query(db, "SELECT count(DISTINCT source_file) FROM events") == [(6,)]
    assert summary.exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs", "store.duckdb"]


def test_rerun_adds_nothing_and_reads_nothing(tmp_path: Path) -> None:
    write_tree(tmp_path / "logs")
    db = tmp_path / "store.duckdb"
    run_ingest(tmp_path / "logs", db)
    again = run_ingest(tmp_path / "logs", db)
    assert (again.files_read, again.files_already_ingested, again.records) == (0, 6, 0)
    assert again.files_skipped_before == 0
    assert (again.events_added, again.duplicates) == (0, 0)
    assert query(db, "SELECT count(*) FROM events") == [(120,)]
    assert query(db, "SELECT count(*), count(finished_at) FROM ingest_runs") == [(2, 2)]


def test_only_new_files_are_read(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    write_tree(root)
    db = tmp_path / "store.duckdb"
    run_ingest(root, db)
    late = dt.datetime(2026, 10, 3, 23, 55)
    write_log(root, log_key(late, unique="late000000000000"), [make_record("late-1", late)])
    summary = run_ingest(root, db)
    assert (summary.files_read, summary.events_added) == (1, 1)
    assert query(db, "SELECT count(*) FROM events") == [(121,)]


def test_same_event_id_in_two_files_is_stored_once(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    when = dt.datetime(2026, 10, 2, 8)
    shared = make_record("shared", when)
    write_log(root, log_key(when, unique="a000000000000000"), [shared, make_record("a1", when)])
    write_log(root, log_key(when, unique="b000000000000000"), [make_record("b1", when), shared])
    db = tmp_path / "store.duckdb"
    summary = run_ingest(root, db)
    assert (summary.records, summary.events_added, summary.duplicates) == (4, 3, 1)
    assert query(db, "SELECT source_file FROM events WHERE event_id = 'shared'") == [
        (log_key(when, unique="a000000000000000"),)
    ]
    assert query(db, "SELECT events_added, duplicates FROM files ORDER BY source_key") == [
        (2, 0),
        (1, 1),
    ]
    # Delivered again in a later run: still one row, counted as a duplicate.
    write_log(root, log_key(when, unique="c000000000000000"), [shared])
    assert run_ingest(root, db).duplicates == 1
    late_file = log_key(when, unique="c000000000000000")
    assert query(
        db, "SELECT events_added, duplicates FROM files WHERE source_key = ?", [late_file]
    ) == [(0, 1)]
    assert query(db, "SELECT count(*) FROM events WHERE event_id = 'shared'") == [(1,)]


FAULTS: dict[str, tuple[bytes, str]] = {
    "truncated": (
        gzip.compress(json.dumps({"Records": [make_record("t", WINDOW.start)] * 50}).encode())[
            :-40
        ],
        "truncated or corrupt gzip",
    ),
    "notgzip": (b'{"Records": []}', "not a gzip file"),
    "invalidjson": (gzip.compress(b'{"Records": [{"eventID": "x"},'), "invalid JSON"),
    "toplevel": (gzip.compress(b'[{"eventID": "x"}]'), "top level is not a JSON object"),
    "notalist": (gzip.compress(b'{"Records": {"eventID": "x"}}'), "Records is not a list"),
    "empty": (b"", "empty file"),
    "emptygzip": (gzip.compress(b""), "empty file"),
}


def write_faulty_tree(root: Path) -> tuple[list[str], dict[str, str]]:
    """Good files around one file per fault; returns good eventIDs and key -> reason."""
    ids = write_tree(root, files=4, per_file=5)
    reasons = {}
    for index, (name, (data, reason)) in enumerate(FAULTS.items()):
        key = log_key(dt.datetime(2026, 10, 2, 12, index), unique=f"{name:0<16}"[:16])
        write_file(root, key, data)
        reasons[key] = reason
    return ids, reasons


def test_bad_files_are_skipped_named_and_recorded(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    ids, reasons = write_faulty_tree(root)
    db = tmp_path / "store.duckdb"
    summary = run_ingest(root, db)
    assert {key: reason.split(" (")[0] for key, reason in summary.skipped_files} == reasons
    assert sorted(r[0] for r in query(db, "SELECT event_id FROM events")) == sorted(ids)
    recorded = dict(query(db, "SELECT source_key, reason FROM skipped_files"))
    assert {key: reason.split(" (")[0] for key, reason in recorded.items()} == reasons
    assert query(db, "SELECT count(*) FROM files") == [(4,)]
    assert summary.exit_code == 0
    text = "\n".join(summary.lines())
    assert all(key in text for key in reasons)


def test_strict_run_exits_one_on_a_skipped_file(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    write_faulty_tree(root)
    assert run_ingest(root, tmp_path / "store.duckdb", strict=True).exit_code == 1


def test_skipped_file_is_not_read_again_until_it_changes(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    _, reasons = write_faulty_tree(root)
    db = tmp_path / "store.duckdb"
    run_ingest(root, db)
    again = run_ingest(root, db)
    assert (again.files_read, again.skipped_files) == (0, [])
    assert (again.files_already_ingested, again.files_skipped_before) == (4, len(reasons))
    # The truncated file is delivered complete: it is read and leaves the skipped list.
    truncated = next(key for key, reason in reasons.items() if reason.startswith("truncated"))
    write_log(root, truncated, [make_record("fixed", WINDOW.start)])
    fixed = run_ingest(root, db)
    assert (fixed.files_read, fixed.events_added) == (1, 1)
    assert truncated not in {r[0] for r in query(db, "SELECT source_key FROM skipped_files")}
    assert query(db, "SELECT events_added FROM files WHERE source_key = ?", [truncated]) == [(1,)]


def test_malformed_record_costs_only_itself(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    when = dt.datetime(2026, 10, 2, 9)
    records = [
        make_record("ok-1", when),
        make_record("wrong-types", when, eventName=5, userIdentity=[], readOnly="false"),
        {"eventTime": "2026-10-02T09:00:00Z", "eventName": "NoId"},
        "not an object",
        make_record("ok-2", when, eventTime="2026-10-02 09:00:00.000000000"),
        {"eventID": "insight-1", "eventType": "AwsCloudTrailInsight"},
    ]
    write_log(root, log_key(when), records)
    db = tmp_path / "store.duckdb"
    summary = run_ingest(root, db)
    assert (summary.records, summary.events_added, summary.bad_records) == (6, 3, 2)
    assert summary.insight_records == 1
    assert query(
        db, "SELECT event_id, event_name, principal_type, read_only FROM events ORDER BY 1"
    ) == [
        ("ok-1", "GetObject", "AssumedRole", True),
        ("ok-2", "GetObject", "AssumedRole", True),
        ("wrong-types", None, None, False),
    ]
    assert query(db, "SELECT records, events_added, bad_records FROM files") == [(6, 3, 2)]


def test_a_record_whose_event_time_does_not_parse_is_a_bad_record(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    when = dt.datetime(2026, 10, 2, 12)
    records = [make_record(f"t-{n}", when) for n in range(3)]
    records += [
        make_record("no-time", when, eventTime="ThisIsAWrongEventTime"),
        make_record("month-13", when, eventTime="2026-13-01T12:00:00Z"),
        make_record("number", when, eventTime=1234),
        {k: v for k, v in make_record("absent", when).items() if k != "eventTime"},
    ]
    write_log(root, log_key(when), records)
    write_tree(root, files=2, per_file=3)  # a whole chunk of other files around it
    db = tmp_path / "store.duckdb"
    summary = run_ingest(root, db)
    assert (summary.records, summary.bad_records, summary.events_added) == (13, 4, 9)
    assert query(db, "SELECT count(*) FROM events WHERE event_time IS NULL") == [(0,)]
    manifest = "SELECT records, events_added, bad_records FROM files WHERE source_key = ?"
    assert query(db, manifest, [log_key(when)]) == [(7, 3, 4)]
    assert run_ingest(root, db, strict=True).files_read == 0  # recorded, not read again


def test_second_writer_gets_a_clear_message(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    connect(db).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from rightsizer.store import connect;"
            "c = connect(sys.argv[1]); print('ready', flush=True); time.sleep(60)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreError, match="in use by another rightsizer run"):
            connect(db, wait_seconds=0.5)
    finally:
        holder.kill()
        holder.wait()
    connect(db).close()


def test_tables_a_killed_run_left_in_the_spool_are_cleared(tmp_path: Path) -> None:
    ids = write_tree(tmp_path / "logs")
    db = tmp_path / "store.duckdb"
    spool = tmp_path / "store.duckdb.spool"
    spool.mkdir()
    (spool / "0123456789abcdef.arrow").write_bytes(b"left by a killed run")
    summary = run_ingest(tmp_path / "logs", db)
    assert summary.events_added == len(ids)
    assert not spool.exists()


def test_a_spool_left_by_a_run_killed_after_its_last_commit_goes_on_a_run_with_nothing_new(
    tmp_path: Path,
) -> None:
    write_tree(tmp_path / "logs")
    db = tmp_path / "store.duckdb"
    run_ingest(tmp_path / "logs", db)
    spool = tmp_path / "store.duckdb.spool"
    spool.mkdir()
    (spool / "0123456789abcdef.arrow").write_bytes(b"left by a killed run")
    summary = run_ingest(tmp_path / "logs", db)
    assert summary.events_added == 0
    assert not spool.exists()


def test_a_failed_insert_keeps_committed_batches_and_leaves_the_connection_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rightsizer.ingest as ingest_module

    ids = write_tree(tmp_path / "logs", files=12)
    # One file per task, per insert and per transaction: the third insert fails.
    monkeypatch.setattr(ingest_module, "CHUNK_FILES", 1)
    monkeypatch.setattr(ingest_module, "INSERT_ROWS", 1)
    monkeypatch.setattr(ingest_module, "BATCH_ROWS", 1)
    real = ingest_module.insert_events
    calls = 0

    def failing(conn: duckdb.DuckDBPyConnection, table: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("disk full")
        return real(conn, table)

    monkeypatch.setattr(ingest_module, "insert_events", failing)
    conn = connect(tmp_path / "store.duckdb")
    with pytest.raises(RuntimeError, match="disk full"):
        ingest(conn, open_source(str(tmp_path / "logs")), WINDOW, workers=2)
    assert conn.execute("SELECT count(*), sum(events_added) FROM files").fetchall() == [(2, 40)]
    assert conn.execute("SELECT count(*) FROM events").fetchall() == [(40,)]
    monkeypatch.setattr(ingest_module, "insert_events", real)
    again = ingest(conn, open_source(str(tmp_path / "logs")), WINDOW, workers=2)
    assert (again.files_already_ingested, again.events_added) == (2, len(ids) - 40)
    assert conn.execute("SELECT count(*) FROM events").fetchall() == [(len(ids),)]
    conn.close()


def test_a_database_in_memory_is_ingested_into(tmp_path: Path) -> None:
    ids = write_tree(tmp_path / "logs")
    conn = duckdb.connect()
    migrate(conn)
    summary = ingest(conn, open_source(str(tmp_path / "logs")), WINDOW, workers=2)
    assert summary.events_added == len(ids)
    assert conn.execute("SELECT count(*) FROM events").fetchall() == [(len(ids),)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]


def test_a_file_where_the_spool_folder_goes_is_named_and_kept(tmp_path: Path) -> None:
    write_tree(tmp_path / "logs")
    db = tmp_path / "store.duckdb"
    in_the_way = tmp_path / "store.duckdb.spool"
    in_the_way.write_text("not rightsizer's")
    with pytest.raises(StoreError, match=r"store\.duckdb\.spool"):
        run_ingest(tmp_path / "logs", db)
    assert in_the_way.read_text() == "not rightsizer's"
    assert query(db, "SELECT count(*) FROM files") == [(0,)]


def test_cli_prints_json_summary_and_honours_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "logs"
    _, reasons = write_faulty_tree(root)
    db = tmp_path / "store.duckdb"
    args = ["ingest", "--source", str(root), "--db", str(db), "--until", "2026-10-04"]
    assert main([*args, "--days", "3", "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["events_added"] == 20
    assert summary["window"] == {
        "start": "2026-10-01T00:00:00Z",
        "end": "2026-10-04T00:00:00Z",
        "days": 3,
    }
    assert {item["key"] for item in summary["skipped_files"]} == set(reasons)
    assert summary["non_log_objects"] == {"other": 0}
    assert summary["unexpected_folders"] == []
    # Nothing new, nothing skipped in this run: strict passes.
    assert main([*args, "--days", "3", "--strict"]) == 0
    assert "files: 0 read, 4 already ingested, 7 skipped before" in capsys.readouterr().out
    fresh = tmp_path / "fresh.duckdb"
    strict = ["ingest", "--source", str(root), "--db", str(fresh), "--until", "2026-10-04"]
    assert main([*strict, "--strict"]) == 1


def test_cli_names_a_full_disk_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    spooled = str(tmp_path / "store.duckdb.spool" / "0123.arrow")

    def full_disk(*args: Any, **kwargs: Any) -> IngestSummary:
        raise OSError(errno.ENOSPC, "No space left on device", spooled)

    monkeypatch.setattr("rightsizer.ingest.ingest_into", full_disk)
    write_tree(tmp_path / "logs")
    args = ["ingest", "--source", str(tmp_path / "logs"), "--db", str(tmp_path / "store.duckdb")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: [Errno 28] No space left on device")
    assert spooled in err[-1] and "Traceback" not in "\n".join(err)


@pytest.mark.parametrize("source", ["missing", "without-logs", "s3://no-such-bucket/logs"])
def test_a_first_run_whose_source_cannot_be_listed_leaves_no_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest, source: str
) -> None:
    if source.startswith("s3://"):
        request.getfixturevalue("moto")  # a bucket that does not exist, over HTTP
    else:
        (tmp_path / "without-logs").mkdir()
        source = str(tmp_path / source)
    db = tmp_path / "store.duckdb"
    args = ["ingest", "--source", source, "--db", str(db), "--until", "2026-10-04"]
    assert main(args) == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith("error: ")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(db.name)] == []


def test_cli_without_source_names_the_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["ingest"]) == 2
    assert "--source" in capsys.readouterr().err


def test_cli_takes_source_and_db_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tree(tmp_path / "logs")
    monkeypatch.setenv("RIGHTSIZER_SOURCE", str(tmp_path / "logs"))
    monkeypatch.setenv("RIGHTSIZER_DB", str(tmp_path / "env.duckdb"))
    assert main(["ingest", "--until", "2026-10-04", "--days", "3"]) == 0
    assert "120 added" in capsys.readouterr().out
    assert query(tmp_path / "env.duckdb", "SELECT count(*) FROM events") == [(120,)]


def test_plain_progress_when_not_a_terminal() -> None:
    stream = io.StringIO()
    progress = terminal_progress(stream)
    assert isinstance(progress, PlainProgress)
    progress.start(3)
    progress.advance(3, 300)
    progress.finish()
    assert "read 3/3 files, 300 records" in stream.getvalue()


def test_progress_reports_every_file(tmp_path: Path) -> None:
    write_tree(tmp_path / "logs")
    stream = io.StringIO()
    conn = connect(tmp_path / "store.duckdb")
    progress = PlainProgress(stream, interval=0.0)
    ingest(conn, open_source(str(tmp_path / "logs")), WINDOW, workers=1, progress=progress)
    assert (progress.files, progress.records) == (6, 120)
    assert "6 log files in the window, 6 new" in stream.getvalue()


def test_reused_event_id_with_another_time_is_still_one_row(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    when = dt.datetime(2026, 10, 1, 8)
    write_log(root, log_key(when, unique="a000000000000000"), [make_record("x", when)])
    write_log(
        root, log_key(when, unique="n000000000000000"), [make_record("n", when, eventTime="?")]
    )
    db = tmp_path / "store.duckdb"
    run_ingest(root, db)
    later = dt.datetime(2026, 10, 3, 8)
    write_log(
        root,
        log_key(later, unique="b000000000000000"),
        [make_record("x", later), make_record("n", later, eventTime="?"), make_record("y", later)],
    )
    summary = run_ingest(root, db)
    assert (summary.events_added, summary.duplicates, summary.bad_records) == (1, 1, 1)
    assert query(db, "SELECT event_id, event_time FROM events ORDER BY 1") == [
        ("x", when),
        ("y", later),
    ]
