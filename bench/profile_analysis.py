"""Where the analysis of a distinct-keys store spends its time and memory.

    python bench/profile_analysis.py [--records 300000] [--top 25]

Reads the store `bench/analyze.py --distinct-keys --records N` left in bench/.cache/ and runs
`analyze` twice: under cProfile (prints the functions with the most own and cumulative time),
then under tracemalloc (prints the Python memory held at each stage boundary, the peak, and
the lines that hold the most at the peak stage, with objects per distinct permission).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import distinct_keys

from rightsizer import analyze as analyze_module
from rightsizer import generate, usedsets
from rightsizer.analyze import analyze, load_selectors, load_snapshot
from rightsizer.store import connect
from rightsizer.window import Window

CACHE = Path(__file__).resolve().parent / ".cache"
MB = 1024 * 1024


def _run(records: int) -> dict[str, Any]:
    ds = distinct_keys.DistinctKeys(CACHE / f"distinct-keys-{records}", records)
    db = CACHE / f"distinct-keys-{records}.duckdb"
    if not db.is_file():
        raise SystemExit(f"no {db}; run bench/analyze.py --distinct-keys --records {records}")
    conn = connect(db, read_only=True)
    try:
        return analyze(
            conn,
            Window.ending(distinct_keys.UNTIL, distinct_keys.DAYS),
            load_snapshot(str(ds.iam_details), str(ds.lambda_functions)),
            selectors=load_selectors(str(ds.event_selectors)),
        ).data
    finally:
        conn.close()


class Stages:
    """The traced memory each time a wrapped function returns; a snapshot of the largest."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []
        self.largest: tuple[str, int, tracemalloc.Snapshot | None] = ("", 0, None)

    def wrap(self, module: Any, name: str) -> None:
        original: Callable[..., Any] = getattr(module, name)
        label = f"{module.__name__}.{name} returned"

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            current, _ = tracemalloc.get_traced_memory()
            self.seen.append((label, current))
            if current > self.largest[1]:
                self.largest = (label, current, tracemalloc.take_snapshot())
            return result

        setattr(module, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    data = _run(args.records)
    profile.disable()
    print(f"analysis under cProfile: {time.perf_counter() - started:.1f} s")
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)

    distinct = sum(r["replay"]["permissions"] for r in data["roles"] if r["replay"])
    stages = Stages()
    stages.wrap(usedsets, "usage_in")
    stages.wrap(analyze_module, "recommend")
    stages.wrap(generate, "_place_used")
    stages.wrap(analyze_module, "replay_batches")
    tracemalloc.start(1)
    _run(args.records)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"distinct permissions: {distinct:,}; traced Python peak {peak / MB:,.0f} MB")
    for label, current in stages.seen:
        print(f"  {current / MB:8,.0f} MB  {label}")
    label, _, snapshot = stages.largest
    assert snapshot is not None
    print(f"largest at: {label}")
    for stat in snapshot.statistics("lineno")[: args.top]:
        frame = stat.traceback[0]
        print(
            f"  {stat.size / MB:8,.1f} MB {stat.count / max(distinct, 1):6.2f} obj/perm  "
            f"{frame.filename.rsplit('/', 2)[-1]}:{frame.lineno}"
        )


if __name__ == "__main__":
    main()
