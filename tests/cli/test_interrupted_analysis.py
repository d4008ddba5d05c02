"""Ctrl-C (SIGINT) or SIGTERM during an analysis stops the query running at once and ends the run
in one line, "interrupted", with exit code 130: no traceback, no output, no scratch database
left beside the store, and the store as it was."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest
from child_runs import signal_when
from conftest import dataset_options, skip_or_fail

from rightsizer import synth
from rightsizer.cli import main
from rightsizer.engine.duckdb import DuckDBEngine
from rightsizer.interrupt import Interrupted, interrupt_on_signal, stop_on_signals
from rightsizer.store import connect

# Longer than any test waits (minutes of CPU): a query only a stop ends.
ENDLESS = "SELECT sum(hash(i)) FROM range(100000000000) AS t(i)"

# The real CLI in a child process. Before the step named in argv[1] (a staging query), it says
# so on stderr; on DuckDB it first runs a query as long as ENDLESS there: the part of a big
# store's analysis a Ctrl-C is likely to find running. DuckDB stages in a scratch database, as
# on a store of millions of events.
RUN_CLI = f"""
import sys

import rightsizer.cli
from rightsizer.engine import duckdb

duckdb.SCRATCH_FROM = -1
step = sys.argv.pop(1)

def announced(engine):
    materialize = engine.materialize

    def slow(self, name, params=None):
        if name == step:
            print("staging", name, file=sys.stderr, flush=True)
            if engine is duckdb.DuckDBEngine:
                self.conn.execute({ENDLESS!r}).fetchall()
        return materialize(self, name, params)

    engine.materialize = slow

announced(duckdb.DuckDBEngine)
if "spark" in sys.argv:  # --engine spark
    from rightsizer.engine import spark

    announced(spark.SparkEngine)
sys.exit(rightsizer.cli.main(sys.argv[1:]))
"""


def analyze_args(ds: synth.SynthDataset, db: Path) -> list[str]:
    return ["analyze", "--db", str(db), *dataset_options(ds), "--format", "json"]


def interrupted(args: list[str], step: str, signum: int, group: bool) -> tuple[int, str, str]:
    """Run the CLI with `args` and send `signum` once it starts staging `step`: the exit code,
    stdout and stderr of the run."""
    # A session of its own, so that a signal can go to its whole process group, as Ctrl-C in a
    # terminal does.
    run = subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, step, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        signal_when(run, lambda line: line.startswith(f"staging {step}"), signum, group)
        out, err = run.communicate(timeout=60)  # the endless query took minutes if not stopped
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    return run.returncode, out, err


@pytest.fixture(scope="module")
def store(dataset: synth.SynthDataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the demo data set, ingested by `rightsizer ingest`."""
    db = tmp_path_factory.mktemp("interrupted") / "store.duckdb"
    assert main(["ingest", "--source", str(dataset.source_dir), "--db", str(db)]) == 0
    return db


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "group"),
    [(signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["ctrl-c", "sigterm"],
)
def test_a_signal_during_the_analysis_ends_it_at_once_in_one_line(
    dataset: synth.SynthDataset, store: Path, signum: int, group: bool
) -> None:
    before = store.read_bytes()
    code, out, err = interrupted(analyze_args(dataset, store), "role_perms", signum, group)
    assert code == 130, err
    assert err.splitlines() == ["interrupted"], err  # no traceback
    assert out == ""
    assert sorted(store.parent.glob("rightsizer-stage-*")) == []
    assert store.read_bytes() == before
    assert main(analyze_args(dataset, store)) == 0  # and the next run goes through


@pytest.mark.slow
def test_ctrl_c_during_a_spark_analysis_ends_it_in_one_line(
    dataset: synth.SynthDataset, tmp_path: Path
) -> None:
    """A new SparkContext sets a SIGINT handler of its own; the command's must stay."""
    if importlib.util.find_spec("pyspark") is None:
        skip_or_fail("pyspark is not installed (pip install -e '.[spark]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        skip_or_fail("Spark needs Java (17 or later) on the PATH or in JAVA_HOME")
    args = analyze_args(dataset, tmp_path / "spark.duckdb")
    args += ["--engine", "spark", "--source", str(dataset.source_dir)]
    code, out, err = interrupted(args, "s3_calls", signal.SIGINT, group=True)
    assert code == 130, err
    assert err.splitlines()[-1] == "interrupted", err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert out == ""


def test_a_signal_stops_a_query_running_outside_the_main_thread(tmp_path: Path) -> None:
    """The signal handler (main thread) interrupts each engine's connection: DuckDB itself looks
    for a signal only in the main thread, and there only between some of its steps."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be set in the main thread")
    conn = connect(tmp_path / "store.duckdb")
    session = DuckDBEngine(conn).session()
    session.conn.execute("SET enable_progress_bar = true")  # for query_progress()
    session.conn.execute("SET enable_progress_bar_print = false")
    failed: list[BaseException] = []

    def query() -> None:
        try:
            session.conn.execute(ENDLESS).fetchall()
        except duckdb.Error as exc:
            failed.append(exc)

    worker = threading.Thread(target=query, daemon=True)
    try:
        with pytest.raises(Interrupted), stop_on_signals() as stop, stop.at_once():
            worker.start()
            while session.conn.query_progress() < 0 and worker.is_alive():
                worker.join(timeout=0.01)
            os.kill(os.getpid(), signal.SIGINT)
            worker.join(timeout=60)  # the handler raises Interrupted here
        worker.join(timeout=60)
        assert not worker.is_alive()
        assert [type(exc) for exc in failed] == [duckdb.InterruptException]
    finally:
        if worker.is_alive():
            session.conn.interrupt()
            worker.join()
        session.close()
        conn.close()


def test_a_signal_in_an_ingest_inside_a_command_still_keeps_what_was_decoded() -> None:
    """Every command runs in `at_once`, but an ingest marks itself `deferred`: there the handler
    only asks for a stop (and interrupts no query), and `check` raises with the files kept."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be set in the main thread")
    stopped: list[bool] = []

    class Query:
        def interrupt(self) -> None:
            stopped.append(True)

    query = Query()
    interrupt_on_signal(query)
    with (
        pytest.raises(Interrupted) as caught,
        stop_on_signals() as stop,
        stop.at_once(),
        stop.deferred(),
    ):
        stop.files_kept = 3
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested.is_set()
        assert stopped == []
        stop.check()
    assert str(caught.value) == "interrupted: 3 files kept; run again to continue"
    with pytest.raises(Interrupted) as caught, stop_on_signals() as stop, stop.at_once():
        os.kill(os.getpid(), signal.SIGINT)
        pytest.fail("the signal did not stop the run at once")
    assert stopped == [True]
    assert str(caught.value) == "interrupted"
