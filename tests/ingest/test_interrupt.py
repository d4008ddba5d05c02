"""Ctrl-C (SIGINT) or SIGTERM during ingest keeps every file decoded by then, ends in one line
with exit code 130, and a rerun ends with exactly the rows of a run never interrupted."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from child_runs import signal_when
from ingest_runs import build, check_consistent, snapshot, wait_until_gone
from trail_logs import WINDOW, write_tree

import rightsizer.ingest as ingest_module
from rightsizer.ingest import ingest
from rightsizer.interrupt import Interrupted
from rightsizer.sources import open_source
from rightsizer.store import connect

# The real CLI in a child process. A progress line for every chunk handed to the writer tells
# the test how far the run is; reading like a slow bucket makes the run last long enough to be
# stopped before its end. Batches keep their real size: the whole run is one open transaction.
RUN_CLI = """
import sys
import time

import rightsizer.cli
import rightsizer.ingest
import rightsizer.progress
from rightsizer.progress import PlainProgress
from rightsizer.sources.local import LocalSource

rightsizer.ingest.CHUNK_FILES = 4
rightsizer.progress.terminal_progress = lambda: PlainProgress(sys.stderr, interval=0)
read = LocalSource.read

def slow_read(self, file):
    time.sleep(0.005)
    return read(self, file)

LocalSource.read = slow_read
sys.exit(rightsizer.cli.main(sys.argv[1:]))
"""
FILES = 240
UNTIL = ["--until", "2026-10-04", "--days", "3"]
PROGRESS = re.compile(r"^read (\d+)/(\d+) files")
KEPT = re.compile(r"^interrupted: ([\d,]+) files kept; run again to continue$")


def start(command: list[str]) -> subprocess.Popen[str]:
    # A session of its own, so that a signal can go to its whole process group, as Ctrl-C in a
    # terminal does (the decoding workers are in that group too).
    return subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, *command, *UNTIL],
        env={**os.environ, "RIGHTSIZER_WORKERS": "2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def ingest_args(root: Path, db: Path) -> list[str]:
    return ["ingest", "--source", str(root), "--db", str(db)]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[Any]]]:
    """The log tree and the store of one uninterrupted ingest of it."""
    folder = tmp_path_factory.mktemp("interrupt")
    root = folder / "logs"
    build(root, files=FILES)
    clean = folder / "clean.duckdb"
    run = start(ingest_args(root, clean))
    _, err = run.communicate(timeout=180)
    assert run.returncode == 0, err
    expected = snapshot(clean)
    assert len(expected["files"]) == FILES and len(expected["skipped"]) == 1
    return root, expected


def stop_at(run: subprocess.Popen[str], fraction: float, signum: int, group: bool) -> int:
    """Send `signum` once the run has handed `fraction` of its files to the writer (0: once it
    has listed them); returns how many it had."""
    handed = 0

    def ready(line: str) -> bool:
        nonlocal handed
        if "log files in the window" in line and fraction == 0:
            return True
        progress = PROGRESS.match(line)
        if not progress:
            return False
        handed, total = int(progress[1]), int(progress[2])
        assert handed < total, "the run ended before it was stopped"
        return handed >= fraction * total

    signal_when(run, ready, signum, group)
    return handed


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "fraction", "signum", "group"),
    [
        ("ingest", 0.0, signal.SIGINT, True),
        ("ingest", 0.4, signal.SIGTERM, False),
        ("ingest", 0.5, signal.SIGTERM, True),
        ("ingest", 0.75, signal.SIGINT, True),
        ("analyze", 0.5, signal.SIGINT, True),
    ],
    ids=["early-ctrl-c", "mid-sigterm", "mid-sigterm-to-group", "late-ctrl-c", "analyze-ctrl-c"],
)
def test_interrupted_run_keeps_what_it_decoded_and_a_rerun_completes_it(
    tmp_path: Path,
    tree: tuple[Path, dict[str, list[Any]]],
    command: str,
    fraction: float,
    signum: int,
    group: bool,
) -> None:
    root, expected = tree
    db = tmp_path / "store.duckdb"
    args = ingest_args(root, db)
    if command == "analyze":
        iam = tmp_path / "iam.json"
        iam.write_text('{"RoleDetailList": [], "Policies": []}')
        args = ["analyze", "--source", str(root), "--db", str(db), "--iam-details", str(iam)]
        args += ["--format", "markdown"]  # not json: that hides progress when not on a terminal
    run = start(args)
    handed = stop_at(run, fraction, signum, group)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    assert "Traceback" not in err, err
    kept = KEPT.match(err.splitlines()[-1])
    assert kept, err
    assert out == ""  # analyze did not run after the interrupted ingest
    if sys.platform == "linux":  # the decoding workers ended with it
        assert wait_until_gone(db.name) == []
    assert not db.with_name(db.name + ".spool").exists()

    # Every file the run listed as done is whole, and every file handed to the writer is kept.
    check_consistent(db)
    stored = snapshot(db)
    files_kept = len(stored["files"]) + len(stored["skipped"])
    assert int(kept[1].replace(",", "")) == files_kept >= handed
    if fraction > 0:
        assert handed > 0

    rerun = start(ingest_args(root, db))
    _, err = rerun.communicate(timeout=180)
    assert rerun.returncode == 0, err
    assert snapshot(db) == expected


class _SignalAfter:
    """Progress that sends this process `signum` once `files` files were handed over."""

    def __init__(self, files: int, signum: int) -> None:
        self.files, self.signum, self.handed = files, signum, 0

    def message(self, text: str) -> None:
        """Nothing to show."""

    def start(self, files: int) -> None:
        """Nothing to show."""

    def advance(self, files: int, records: int) -> None:
        self.handed += files
        if self.handed >= self.files and self.signum:
            os.kill(os.getpid(), self.signum)
            self.signum = 0

    def finish(self) -> None:
        """Nothing to show."""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_library_raises_interrupted_with_what_it_kept_and_restores_the_handlers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int
) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be set in the main thread")
    monkeypatch.setattr(ingest_module, "CHUNK_FILES", 2)
    root = tmp_path / "logs"
    write_tree(root, files=12, per_file=5)
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    progress = _SignalAfter(4, signum)
    conn = connect(tmp_path / "store.duckdb")
    with pytest.raises(Interrupted) as caught:
        ingest(conn, open_source(str(root)), WINDOW, workers=2, progress=progress)
    ((files,),) = conn.execute("SELECT count(*) FROM files").fetchall()
    ((interrupted,),) = conn.execute("SELECT summary->>'interrupted' FROM ingest_runs").fetchall()
    conn.close()
    assert caught.value.files_kept == files >= progress.handed >= 4
    assert str(caught.value) == f"interrupted: {files} files kept; run again to continue"
    assert interrupted == "true"
    assert {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} == before
    check_consistent(tmp_path / "store.duckdb")
