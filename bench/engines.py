"""The usage stage on DuckDB and on Spark (local mode) over the same records.

    python bench/engines.py [--records 600000] [--fresh] [--master local[*]]

Writes (or reuses) the synthetic demo scenario at that scale under bench/.cache/, then times
`rightsizer analyze` in this process twice: with the DuckDB engine (a cold ingest into a new
store, then the analysis) and with `--engine spark` (Spark lists, reads and normalizes the raw
files, then the analysis). Spark's session is started before the clock runs; its start-up is
printed apart. Both analyses must agree apart from the ingest block, or the script fails.

One machine is not what Spark is for: the figure says what its fixed costs (a JVM, a job per
query, the JSON read twice) are at this size, not how it scales out over a cluster.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from analyze import dataset

from rightsizer.cli import main


def _analyze(ds: Any, db: Path, engine: str) -> tuple[float, dict[str, Any]]:
    args = [
        "analyze",
        "--engine",
        engine,
        "--source",
        str(ds.source_dir),
        "--db",
        str(db),
        "--iam-details",
        str(ds.iam_details),
        "--lambda-functions",
        str(ds.lambda_functions),
        "--event-selectors",
        str(ds.event_selectors),
        "--until",
        ds.until.isoformat(),
        "--days",
        str(ds.days),
        "--format",
        "json",
    ]
    out = io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(out):
        code = main(args)
    seconds = time.monotonic() - started
    if code != 0:
        raise SystemExit(f"analyze --engine {engine} exited {code}")
    return seconds, json.loads(out.getvalue())


def run(records: int, fresh: bool, master: str) -> None:
    from pyspark.sql import SparkSession

    ds = dataset(records, fresh)
    started = time.monotonic()
    spark = (
        SparkSession.builder.master(master)
        .appName("rightsizer-bench")
        .config("spark.driver.memory", "2g")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    jvm = time.monotonic() - started
    with tempfile.TemporaryDirectory() as tmp:
        duck_seconds, duck = _analyze(ds, Path(tmp) / "bench.duckdb", "duckdb")
        spark_seconds, sparked = _analyze(ds, Path(tmp) / "not-made.duckdb", "spark")
    spark.stop()
    events = duck["store"]["events"]
    if {**duck, "ingest": None} != {**sparked, "ingest": None}:
        raise SystemExit("the two engines' analyses differ apart from the ingest block")
    print(f"{duck['ingest']['records']:,} records, {events:,} events, {ds.days} days")
    print(f"duckdb: {duck_seconds:.1f} s (cold ingest {duck['ingest']['seconds']:.1f} s)")
    print(
        f"spark {master}: {spark_seconds:.1f} s (list, read and normalize "
        f"{sparked['ingest']['seconds']:.1f} s), plus {jvm:.1f} s to start the session"
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=600_000)
    parser.add_argument("--fresh", action="store_true", help="make the data set anew")
    parser.add_argument("--master", default="local[*]", help="Spark master (local[*])")
    options = parser.parse_args()
    run(options.records, options.fresh, options.master)


if __name__ == "__main__":
    cli()
