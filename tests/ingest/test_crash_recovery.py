"""A run killed with SIGKILL at any moment leaves a consistent database, and the next run ends
with exactly the rows of a run that was never interrupted."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ingest_runs import build, check_consistent, snapshot, wait_until_gone

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


def run(root: Path, db: Path) -> subprocess.Popen[bytes]:
    args = ["ingest", "--source", str(root), "--db", str(db), "--until", "2026-10-04"]
    env = {**os.environ, "RIGHTSIZER_WORKERS": "2"}
    return subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, *args, "--days", "3"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


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
