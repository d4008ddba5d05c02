"""Stopping a child process at a point its stderr shows, as a user at a terminal would.

Shared by the ingest and analysis interrupt tests; not a test module itself.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable

import pytest


def signal_when(
    run: subprocess.Popen[str], ready: Callable[[str], bool], signum: int, group: bool
) -> None:
    """Read the run's stderr until a line is `ready`, then send it `signum`: to its whole
    process group when `group` (as Ctrl-C in a terminal does; start the run with
    `start_new_session=True`). Fails the test when the run ends first."""
    assert run.stderr is not None
    lines = []
    for line in run.stderr:
        lines.append(line)
        if ready(line):
            break
    else:
        pytest.fail(f"the run ended before it was stopped: {lines}")
    if group:
        os.killpg(run.pid, signum)
    else:
        run.send_signal(signum)
