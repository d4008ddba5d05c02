"""End-to-end benchmark: `analyze` over a synthetic tree of about 500,000 records.

    python bench/analyze.py [--records 500000] [--fresh]
    python bench/analyze.py --distinct-keys [--records 1000000]

Writes (or reuses) the synthetic demo scenario at that scale under bench/.cache/, ingests it
into a new DuckDB file, then runs the analysis twice in this process: cold (first run, caches
empty) and warm. Prints records, ingest time, both analysis times and peak memory (of this
process and its ingest workers). The large run of the reliability suite is
`python bench/analyze.py --records 2000000`.

`--distinct-keys` uses the trail of bench/distinct_keys.py instead (every call a new object, so
about one distinct role × action × object permission per record): it prints the cold ingest
time, the analysis time in a fresh process, their ratio and the analysis's own peak RSS
(targets at 3M records: ratio <= 0.25, peak <= 1 GB).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import sys
import time
from pathlib import Path

import distinct_keys

from rightsizer import synth
from rightsizer.analyze import analyze, load_selectors, load_snapshot
from rightsizer.ingest import ingest
from rightsizer.sources import open_source
from rightsizer.store import connect
from rightsizer.window import Window

CACHE = Path(__file__).resolve().parent / ".cache"


def dataset(records: int, fresh: bool) -> synth.SynthDataset:
    folder = CACHE / f"synth-{records}"
    if folder.exists() and (fresh or not (folder / synth.DEMO_MANIFEST).is_file()):
        shutil.rmtree(folder)  # asked for, or an interrupted generation
    started = time.perf_counter()
    ds = synth.demo_dataset(folder, scale=synth.scale_for(records))
    print(f"tree ready: {ds.records:,} records ({time.perf_counter() - started:.1f} s)")
    return ds


def _analyze_store(
    db: Path, ds: distinct_keys.DistinctKeys
) -> tuple[float, float, int, int, float]:
    """In a fresh process: analysis seconds, its peak RSS in MB, roles and permissions checked,
    and its CPU seconds (all threads: on a busy machine less noisy than the wall time)."""
    snapshot = load_snapshot(str(ds.iam_details), str(ds.lambda_functions))
    selectors = load_selectors(str(ds.event_selectors))
    window = Window.ending(distinct_keys.UNTIL, distinct_keys.DAYS)
    started, cpu = time.perf_counter(), time.process_time()
    conn = connect(db, read_only=True)
    result = analyze(conn, window, snapshot, selectors=selectors)
    conn.close()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    checked = sum(r["replay"]["permissions"] for r in result.data["roles"] if r["replay"])
    return seconds, peak_mb, len(result.data["roles"]), checked, cpu


def distinct_keys_run(records: int, fresh: bool) -> None:
    """Cold ingest of the distinct-keys trail, then its analysis in a fresh process."""
    root = CACHE / f"distinct-keys-{records}"
    if fresh:
        shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    ds = distinct_keys.write(root, records)
    print(f"tree ready: {records:,} records ({time.perf_counter() - started:.1f} s)")
    db = CACHE / f"distinct-keys-{records}.duckdb"
    db.unlink(missing_ok=True)
    shutil.rmtree(f"{db}.tmp", ignore_errors=True)
    window = Window.ending(distinct_keys.UNTIL, distinct_keys.DAYS)
    conn = connect(db)
    started = time.perf_counter()
    summary = ingest(conn, open_source(str(ds.source_dir)), window)
    ingest_seconds = time.perf_counter() - started
    conn.close()
    # A spawned process: its peak RSS is the analysis's alone, not the ingest's.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        seconds, peak_mb, roles, checked, cpu = pool.apply(_analyze_store, (db, ds))
    print(f"records in tree      {summary.records:,} ({summary.events_added:,} events added)")
    print(f"cold ingest          {ingest_seconds:.2f} s ({summary.records_per_second:,.0f} rec/s)")
    print(f"roles analysed       {roles}, distinct permissions replayed {checked:,}")
    print(f"analysis             {seconds:.2f} s (fresh process, store opened read-only)")
    print(f"analysis CPU         {cpu:.2f} s (all threads)")
    print(f"analysis / ingest    {seconds / ingest_seconds:.2f}   (target <= 0.25)")
    print(f"analysis peak RSS    {peak_mb:,.0f} MB   (target <= 1,024 MB at 3M records)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--fresh", action="store_true", help="regenerate the tree")
    parser.add_argument(
        "--distinct-keys", action="store_true", help="every call a new object (see above)"
    )
    args = parser.parse_args()
    if args.distinct_keys:
        distinct_keys_run(args.records, args.fresh)
        return
    ds = dataset(args.records, args.fresh)
    window = Window.ending(ds.until, ds.days)
    db = CACHE / f"analyze-{args.records}.duckdb"
    db.unlink(missing_ok=True)
    conn = connect(db)
    started = time.perf_counter()
    summary = ingest(conn, open_source(str(ds.source_dir)), window)
    ingest_seconds = time.perf_counter() - started
    snapshot = load_snapshot(str(ds.iam_details), str(ds.lambda_functions))
    selectors = load_selectors(str(ds.event_selectors))
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        result = analyze(conn, window, snapshot, selectors=selectors)
        timings.append(time.perf_counter() - started)
    conn.close()
    peak_mb = (
        max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024
    )
    calls = sum(r["replay"]["calls"] for r in result.data["roles"] if r["replay"])
    checked = sum(r["replay"]["permissions"] for r in result.data["roles"] if r["replay"])
    print(f"records in tree      {summary.records:,} ({summary.events_added:,} events added)")
    print(f"ingest               {ingest_seconds:.2f} s ({summary.records_per_second:,.0f} rec/s)")
    print(f"roles analysed       {len(result.data['roles'])}, authorized S3 calls {calls:,}")
    print(f"replay               {checked:,} distinct permissions checked")
    print(f"analyze, cold        {timings[0]:.2f} s   (target < 3 s at 500,000 records)")
    print(f"analyze, warm        {timings[1]:.2f} s")
    print(f"peak memory          {peak_mb:,.0f} MB   (bound: 1 GB)")
    sys.exit(result.exit_code)


if __name__ == "__main__":
    main()
