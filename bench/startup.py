"""Start-up benchmark: how long the CLI takes before it does any work (target: --help < 0.3 s).

    python bench/startup.py [--runs 15]

Each run is a fresh interpreter (a subprocess), as a user's shell starts one. Prints the median
and the fastest wall time of `rightsizer --help`, `rightsizer config` and
`python -c "import rightsizer.cli"`, a bare `python -c pass` for the interpreter's own share,
then the ten modules with the largest cumulative import time (`python -X importtime`).
The checkout measured is the one this script is in (first on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
# What the `rightsizer` console script runs.
CLI = "from rightsizer.cli import run; run()"
CASES: dict[str, list[str]] = {
    "rightsizer --help": ["-c", CLI, "--help"],
    "rightsizer config": ["-c", CLI, "config"],
    "import rightsizer.cli": ["-c", "import rightsizer.cli"],
    "python (no import)": ["-c", "pass"],
}


def _env(home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTSIZER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH")]))
    env["XDG_CONFIG_HOME"] = home  # no user rightsizer.toml: `config` shows the defaults
    return env


def _time(args: list[str], env: dict[str, str], cwd: str) -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - began


def _importtime(env: dict[str, str], cwd: str, top: int) -> list[tuple[float, float, str]]:
    """(cumulative ms, self ms, module) of the `top` slowest imports of rightsizer.cli."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import rightsizer.cli"],
        env=env,
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue  # the header line
        own, cumulative, module = int(parts[0]), int(parts[1]), parts[2].rstrip()
        rows.append((cumulative / 1000, own / 1000, module))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (15)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cwd:
        env = _env(cwd)
        # One warm-up run each, so the first timed run does not pay for a cold file cache.
        for case in CASES.values():
            _time(case, env, cwd)
        print(f"{'command':<24}{'median':>10}{'fastest':>10}   ({args.runs} runs)")
        for name, case in CASES.items():
            times = [_time(case, env, cwd) for _ in range(args.runs)]
            print(f"{name:<24}{statistics.median(times):>9.3f}s{min(times):>9.3f}s")
        print("\nslowest imports of rightsizer.cli (python -X importtime, one run):")
        print(f"{'cumulative':>12}{'self':>10}  module")
        for cumulative, own, module in _importtime(env, cwd, 10):
            print(f"{cumulative:>10.1f}ms{own:>8.1f}ms  {module}")


if __name__ == "__main__":
    main()
