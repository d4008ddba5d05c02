"""End-to-end benchmark: `analyze` over a synthetic tree of about 500,000 records.

    python bench/analyze.py [--records 500000] [--fresh]

Writes (or reuses) the synthetic demo scenario at that scale under bench/.cache/, ingests it
into a new DuckDB file, then runs the analysis twice in this process: cold (first run, caches
empty) and warm. Prints records, ingest time, both analysis times and peak memory (of this
process and its ingest workers). The large run of the reliability suite is
`python bench/analyze.py --records 2000000`.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--fresh", action="store_true", help="regenerate the tree")
    args = parser.parse_args()
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
