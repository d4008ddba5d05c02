"""A run killed with SIGKILL at any moment leaves a consistent database, and the next run ends
with exactly the rows of a run that was never interrupted."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from trail_logs import log_key, make_record, write_file, write_log

# The real CLI in a child process, with small transactions so a kill lands between commits.
RUN_CLI = """
import sys
import rightsizer.ingest
rightsizer.ingest.BATCH_ROWS = 400
rightsizer.ingest.INSERT_ROWS = 100
rightsizer.ingest.CHUNK_FILES = 4
from rightsizer.cli import main
sys.exit(main(sys.argv[1:]))
"""


def build(root: Path, files: int = 120) -> None:
    """`files` files of 40 records, some eventIDs delivered twice, one broken file."""
    rng = random.Random(5)
    for index in range(files):
        delivered = dt.datetime(2026, 10, 1 + index % 3, index % 24, index % 60)
        records = [make_record(f"ev-{index}-{n}", delivered) for n in range(40)]
        records += [make_record(f"ev-{rng.randrange(index + 1)}-0", delivered)]
        write_log(root, log_key(delivered, unique=f"{index:016d}"), records)
    write_file(root, log_key(dt.datetime(2026, 10, 2), unique="broken0000000000"), b"\x1f\x8b")


def run(root: Path, db: Path) -> subprocess.Popen[bytes]:
    args = ["ingest", "--source", str(root), "--db", str(db), "--until", "2026-10-04"]
    env = {**os.environ, "RIGHTSIZER_WORKERS": "2"}
    return subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, *args, "--days", "3"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return {
            "events": sorted(conn.execute("SELECT * FROM events").fetchall(), key=repr),
            "files": conn.execute(
                "SELECT source_key, size_bytes, records, events_added, duplicates, bad_records"
                " FROM files ORDER BY source_key"
            ).fetchall(),
            "skipped": conn.execute(
                "SELECT source_key, reason FROM skipped_files ORDER BY source_key"
            ).fetchall(),
        }


def processes_naming(text: str) -> list[int]:
    """Processes whose command line contains `text` (Linux: /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_text():
                found.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile
    return found


def wait_until_gone(text: str, seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := processes_naming(text)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def check_consistent(db: Path) -> None:
    """Every committed file has exactly its own events; no event lacks its file."""
    with duckdb.connect(str(db), read_only=True) as conn:
        tables = {t for (t,) in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if not tables:
            return  # killed before the schema's transaction committed: an empty database
        assert {"meta", "events", "files", "skipped_files", "ingest_runs"} <= tables
        orphans = conn.execute(
            "SELECT count(*) FROM events WHERE source_file NOT IN (SELECT source_key FROM files)"
        ).fetchone()
        mismatched = conn.execute(
            "SELECT count(*) FROM files f LEFT JOIN (SELECT source_file, count(*) AS n"
            " FROM events GROUP BY source_file) e ON e.source_file = f.source_key"
            " WHERE coalesce(e.n, 0) <> f.events_added"
        ).fetchone()
    assert orphans == (0,) and mismatched == (0,)


@pytest.mark.slow
def test_sigkill_then_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    build(root)
    clean_db = tmp_path / "clean.duckdb"
    started = time.monotonic()
    clean = run(root, clean_db)
    assert clean.wait(timeout=120) == 0
    duration = time.monotonic() - started
    expected = snapshot(clean_db)
    assert len(expected["files"]) == 120 and len(expected["skipped"]) == 1

    rng = random.Random(11)
    for attempt, fraction in enumerate([0.3, 0.6, 0.75, 0.9, rng.uniform(0.5, 1.0)]):
        db = tmp_path / f"killed-{attempt}.duckdb"
        victim = run(root, db)
        time.sleep(duration * fraction)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        if sys.platform == "linux":  # its decoding workers do not outlive it
            assert wait_until_gone(db.name) == []
        if db.exists():
            # The interrupted database opens, and holds only whole files.
            check_consistent(db)
        rerun = run(root, db)
        assert rerun.wait(timeout=120) == 0, rerun.stderr.read() if rerun.stderr else ""
        assert snapshot(db) == expected
        # Decoded tables a killed run left on their way to the writer are cleared.
        assert not db.with_name(db.name + ".spool").exists()
