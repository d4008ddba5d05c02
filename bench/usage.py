"""Usage-query benchmark: compute_usage over the synthetic ~500k-record tree (target < 2 s).

    python bench/usage.py [--scale 28] [--runs 5] [--fresh]

Writes (or reuses) the synthetic scenario of rightsizer.synth at the given scale under
bench/.cache/, ingests it once into a DuckDB file next to it, then times compute_usage on a
read-only connection: the whole call, and its staging step (queries/s3_calls.sql) alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import statistics
import time
from pathlib import Path

from rightsizer.ingest import ingest
from rightsizer.sources import open_source
from rightsizer.store import connect
from rightsizer.synth import generate
from rightsizer.usage import compute_usage, discover_lambda_roles, stage_s3_calls, window_params
from rightsizer.window import Window

CACHE = Path(__file__).resolve().parent / ".cache"
UNTIL = dt.datetime(2026, 11, 1)
DAYS = 30
WINDOW = Window.ending(UNTIL, DAYS)


def _prepare(scale: int, fresh: bool) -> Path:
    root = CACHE / f"usage-scale-{scale}"
    if fresh and root.exists():
        shutil.rmtree(root)
    db = root / "usage.duckdb"
    if db.exists():
        return db
    began = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    dataset = generate(root, until=UNTIL, days=DAYS, scale=scale)
    print(f"wrote {dataset.records:,} records in {time.perf_counter() - began:.1f}s")
    began = time.perf_counter()
    conn = connect(db)
    summary = ingest(conn, open_source(str(dataset.source_dir)), WINDOW)
    conn.close()
    print(f"ingested {summary.events_added:,} events in {time.perf_counter() - began:.1f}s")
    return db


def _time_staging(db: Path) -> float:
    conn = connect(db, read_only=True)
    cursor = conn.cursor()
    roles = sorted(discover_lambda_roles(cursor, WINDOW))
    began = time.perf_counter()
    stage_s3_calls(cursor, WINDOW, roles)
    seconds = time.perf_counter() - began
    conn.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=28, help="synth scale (28 ≈ 510k records)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fresh", action="store_true", help="regenerate the tree and database")
    args = parser.parse_args()

    db = _prepare(args.scale, args.fresh)
    conn = connect(db, read_only=True)
    (events,) = conn.execute(
        "SELECT count(*) FROM events WHERE event_time >= $window_start AND "
        "event_time < $window_end",
        window_params(WINDOW),
    ).fetchall()[0]

    seconds: list[float] = []
    for _ in range(args.runs):
        began = time.perf_counter()
        report = compute_usage(conn, WINDOW)
        seconds.append(time.perf_counter() - began)
    conn.close()
    staging = min(_time_staging(db) for _ in range(args.runs))

    calls = sum(call.count for usage in report.roles.values() for call in usage.calls)
    used = sum(len(usage.used) for usage in report.roles.values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"events in window: {events:,}; Lambda roles: {len(report.roles)}")
    print(f"authorized S3 calls: {calls:,}; role x action x resource rows: {used:,}")
    print(
        f"compute_usage: best {min(seconds):.2f}s, median {statistics.median(seconds):.2f}s "
        f"over {args.runs} runs (target < 2 s)"
    )
    print(f"  of which staging (queries/s3_calls.sql): best {staging:.2f}s")
    print(f"peak RSS: {peak:.0f} MB (machine busy? compare best and median)")


if __name__ == "__main__":
    main()
