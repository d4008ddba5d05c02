"""Ingest runs that are killed or stopped: the tree they read, and what to check afterwards.

Shared by the crash-recovery and interrupt tests; not a test module itself.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from pathlib import Path
from typing import Any

import duckdb
from trail_logs import log_key, make_record, write_file, write_log


def build(root: Path, files: int = 120) -> None:
    """`files` files of 40 records, some eventIDs delivered twice, one broken file."""
    rng = random.Random(5)
    for index in range(files):
        delivered = dt.datetime(2026, 10, 1 + index % 3, index % 24, index % 60)
        records = [make_record(f"ev-{index}-{n}", delivered) for n in range(40)]
        records += [make_record(f"ev-{rng.randrange(index + 1)}-0", delivered)]
        write_log(root, log_key(delivered, unique=f"{index:016d}"), records)
    write_file(root, log_key(dt.datetime(2026, 10, 2), unique="broken0000000000"), b"\x1f\x8b")


def snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The stored events, manifest and skipped files, in a stable order to compare runs."""
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
    """Wait up to `seconds` for those processes to end; the ones still there."""
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
