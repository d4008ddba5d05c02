"""No-op benchmark: `rightsizer analyze` on an ingested store with nothing new to read.

    python bench/noop.py [--records 600000] [--runs 3] [--fresh] [--checkout DIR]

Writes (or reuses) the synthetic demo scenario at that scale under bench/.cache/ and ingests
it with `rightsizer ingest` (a subprocess; the store is reused by later runs, `--fresh` makes
both anew), then runs `rightsizer analyze --format json` `--runs` times, each a fresh process
as a user starts it. `--checkout` measures the rightsizer of another checkout on the same
store (a before/after comparison; alternate the two, as the machine's load drifts).

Each run is split into: start-up (interpreter and imports), listing the source, the rest of
the ingest step (open the store, check the manifest, record the run), loading the IAM
snapshot and selectors, the analysis, and the rest (options, rendering the JSON, Python's
shutdown), in wall and CPU seconds: on a machine other jobs keep busy, the wall time of a
step grows with the load and its CPU time hardly does. The no-op part is everything but the
analysis (target: under 1 s at 600,000 records). The split comes from timers wrapped around
those functions in the analyze process; they add microseconds. The imports the commands make
lazily happen up front there, so they count as start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from analyze import CACHE, dataset

CHECKOUT = Path(__file__).resolve().parent.parent
# Runs the console script's entry point with timers around the steps; writes them as JSON to
# the file named by argv[1]. Both processes read the same system-wide monotonic clock.
WRAPPER = """
import atexit, json, sys, time
began = time.monotonic()
import rightsizer.analyze as library
import rightsizer.cli as cli
import rightsizer.cli.analysis as command
from rightsizer.sources.base import LogSource
spent = {"began": [began, 0.0], "imported": [time.monotonic(), time.process_time()]}
def timed(name, func):
    def wrapper(*args, **kwargs):
        wall, cpu = time.monotonic(), time.process_time()
        try:
            return func(*args, **kwargs)
        finally:
            total = spent.setdefault(name, [0.0, 0.0])
            total[0] += time.monotonic() - wall
            total[1] += time.process_time() - cpu
    return wrapper
LogSource.list_files = timed("listing", LogSource.list_files)
command.run_ingest = timed("ingest", command.run_ingest)
library.load_snapshot = timed("snapshot", library.load_snapshot)
library.load_selectors = timed("snapshot", library.load_selectors)
library.analyze = timed("analysis", library.analyze)
out, sys.argv = sys.argv[1], ["rightsizer", *sys.argv[2:]]
# Written just before Python's shutdown, which then counts as part of the rest.
atexit.register(lambda: json.dump(spent, open(out, "w")))
if hasattr(cli, "run"):
    cli.run()  # what the console script runs
sys.exit(cli.main())  # a checkout from before `run`
"""
STEPS = ("start-up", "listing", "ingest, rest", "IAM + selectors", "analysis", "rest")
Split = dict[str, tuple[float, float]]  # step -> (wall seconds, CPU seconds)


def _env(checkout: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTSIZER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(checkout), env.get("PYTHONPATH")]))
    return env


def _options(source: Path, db: Path, until: str, days: int) -> list[str]:
    return ["--db", str(db), "--source", str(source), "--until", until, "--days", str(days)]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed_run(args: list[str], env: dict[str, str], cwd: str) -> Split:
    """One `rightsizer analyze` process: each step's wall and CPU seconds (see STEPS)."""
    spent_file = Path(cwd) / "spent.json"
    cpu_before = _children_cpu()
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(spent_file), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    total = (time.monotonic() - began, _children_cpu() - cpu_before)
    if done.returncode != 0:
        sys.exit(f"rightsizer analyze exited {done.returncode}: {done.stderr.strip()}")
    summary = json.loads(done.stdout)["ingest"]
    if summary["files_read"] or summary["events_added"]:
        sys.exit(f"the second run was not a no-op: {summary}")
    spent = {name: tuple(pair) for name, pair in json.loads(spent_file.read_text()).items()}
    steps: Split = {
        "start-up": (spent["imported"][0] - began, spent["imported"][1]),
        "listing": spent["listing"],
        "ingest, rest": _minus(spent["ingest"], spent["listing"]),
        "IAM + selectors": spent["snapshot"],
        "analysis": spent["analysis"],
    }
    steps["rest"] = _minus(total, *steps.values())
    steps["total"] = total
    steps["no-op part"] = _minus(total, steps["analysis"])
    return steps


def _minus(whole: tuple[float, float], *parts: tuple[float, float]) -> tuple[float, float]:
    return whole[0] - sum(p[0] for p in parts), whole[1] - sum(p[1] for p in parts)


def _span(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.2f}" if high - low < 0.005 else f"{low:.2f}–{high:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=600_000)
    parser.add_argument("--runs", type=int, default=3, help="no-op analyze runs (3)")
    parser.add_argument("--fresh", action="store_true", help="regenerate the tree and store")
    parser.add_argument(
        "--checkout", type=Path, default=CHECKOUT, help="the checkout to measure (this one)"
    )
    args = parser.parse_args()
    ds = dataset(args.records, args.fresh)
    db = CACHE / f"noop-{args.records}.duckdb"
    if args.fresh:
        for stale in (db, db.with_name(db.name + ".wal")):
            stale.unlink(missing_ok=True)
    options = _options(ds.source_dir, db, f"{ds.until:%Y-%m-%d}", ds.days)
    snapshot = ["--iam-details", str(ds.iam_details), "--lambda-functions"]
    snapshot += [str(ds.lambda_functions), "--event-selectors", str(ds.event_selectors)]
    env = _env(args.checkout.resolve())
    print(f"measuring {args.checkout.resolve()}")
    with tempfile.TemporaryDirectory() as cwd:
        if not db.exists():
            began = time.monotonic()
            cli = [sys.executable, "-m", "rightsizer.cli", "ingest", *options, "--format", "json"]
            subprocess.run(cli, env=env, cwd=cwd, check=True, capture_output=True)
            print(f"first ingest (rightsizer ingest): {time.monotonic() - began:.2f} s")
        runs = [
            _timed_run(["analyze", *options, *snapshot, "--format", "json"], env, cwd)
            for _ in range(args.runs)
        ]
    print(f"\nrightsizer analyze, nothing new ({args.runs} runs, min–max seconds):")
    print(f"  {'step':<18}{'wall':>12}{'CPU':>12}")
    for step in (*STEPS, "total", "no-op part"):
        wall = _span([run[step][0] for run in runs])
        cpu = _span([run[step][1] for run in runs])
        print(f"  {step:<18}{wall:>12}{cpu:>12}")
    print("  (target: no-op part under 1 s; on a busy machine, its CPU is the better guide)")


if __name__ == "__main__":
    main()
