"""rightsizer against trailscraper, end to end on the same CloudTrail tree, in the same run.

    python bench/vs_trailscraper.py [--records 600000] [--trailscraper PATH] [--role NAME]
                                    [--timeout 1800] [--fresh]

Writes (or reuses) the synthetic demo scenario at that scale under bench/.cache/ (a CloudTrail
tree as a trail delivers it: account, region and day folders of .json.gz files, with digest
and Insight files beside them), then times, each as a user runs it:

* rightsizer: `rightsizer analyze` into a new store, that is ingest plus the analysis of every
  Lambda role (six), with the IAM snapshot, as JSON;
* trailscraper: `trailscraper select --log-dir TREE --filter-assumed-role-arn ROLE --from
  START --to END | trailscraper generate` for one role.

Both read the window of the tree's 30 days. Prints both times and their ratio (target:
rightsizer at least 10 times faster), and the floor under rightsizer's run: the time its own
decoder takes to read, inflate and decode every log file, over one process per core as the
ingest does, with nothing normalized, stored or analysed.

The role is `report-role` unless `--role` names another Lambda role of the scenario: the third
busiest (a fifth of the records), touching few distinct objects (259). trailscraper's
`generate` merges each new resource into a sorted list, so its time grows with the square of a
role's distinct objects: for the busiest role, `thumbnailer-role-x1y2z3` (95,000 distinct
objects at 600,000 records), it takes far longer; a run over `--timeout` seconds is stopped
and the ratio printed as a lower bound.

trailscraper (0.10.0 on PyPI) pins old versions of libraries this project uses; install it
into a virtual environment of its own:

    python3 -m venv /tmp/ts-venv && /tmp/ts-venv/bin/pip install trailscraper
    python bench/vs_trailscraper.py --trailscraper /tmp/ts-venv/bin/trailscraper

trailscraper warns once for every digest and Insight file ("Invalid filename") and reads
every other file of the tree; its warnings are counted, not shown.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from analyze import dataset

from rightsizer import synth
from rightsizer.records import decode_log, inflate
from rightsizer.window import Window

CHECKOUT = Path(__file__).resolve().parent.parent
INSTALL = (
    "trailscraper not found: install it into its own virtual environment\n"
    "    python3 -m venv /tmp/ts-venv && /tmp/ts-venv/bin/pip install trailscraper\n"
    "then pass --trailscraper /tmp/ts-venv/bin/trailscraper (or put it on PATH)"
)
ROLES = {role.name: role for role in synth.LAMBDA_ROLES}
Seconds = tuple[float, float]  # wall, CPU


def _children_cpu() -> float:
    """CPU seconds of this process's children that have ended (and of their children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _trailscraper(given: str | None) -> str:
    """The trailscraper executable: `given`, else the one on PATH; exits 2 when there is none."""
    found = shutil.which(given or "trailscraper")
    if found is None:
        print(INSTALL, file=sys.stderr)
        sys.exit(2)
    return found


def _rightsizer(ds: synth.SynthDataset, folder: Path) -> tuple[Seconds, dict[str, Any]]:
    """Wall and CPU seconds of `rightsizer analyze` from an empty store (its decoding workers
    included), and its JSON output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTSIZER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "rightsizer.cli", "analyze"]
    command += ["--source", str(ds.source_dir), "--db", str(folder / "rightsizer.duckdb")]
    command += ["--iam-details", str(ds.iam_details), "--lambda-functions"]
    command += [str(ds.lambda_functions), "--event-selectors", str(ds.event_selectors)]
    command += ["--until", f"{ds.until:%Y-%m-%d}", "--days", str(ds.days), "--format", "json"]
    cpu = _children_cpu()
    began = time.monotonic()
    done = subprocess.run(command, env=env, cwd=folder, capture_output=True, text=True)
    seconds = time.monotonic() - began
    if done.returncode != 0:
        sys.exit(f"rightsizer analyze exited {done.returncode}: {done.stderr.strip()}")
    return (seconds, _children_cpu() - cpu), json.loads(done.stdout)


def _decode(paths: list[Path]) -> int:
    return sum(len(decode_log(inflate(path.read_bytes())).records) for path in paths)


def _decode_floor(ds: synth.SynthDataset) -> tuple[Seconds, int]:
    """Wall and CPU seconds to read, inflate and decode every log file of the tree (not its
    digest or Insight files) over one process per core, and the records decoded."""
    logs = sorted(p for p in ds.source_dir.rglob("*.json.gz") if "CloudTrail" in p.parts)
    workers = os.cpu_count() or 1
    chunks = [logs[i :: workers * 4] for i in range(workers * 4)]
    cpu = _children_cpu()
    began = time.monotonic()
    with ProcessPoolExecutor(workers) as pool:
        records = sum(pool.map(_decode, chunks))
    return (time.monotonic() - began, _children_cpu() - cpu), records


def _trailscraper_run(
    executable: str, ds: synth.SynthDataset, role: synth.RoleSpec, folder: Path, timeout: float
) -> tuple[Seconds, dict[str, Any] | None, int]:
    """Wall and CPU seconds of `select | generate` for `role`, the policy it wrote (None when
    stopped after `timeout` seconds), and its warning lines."""
    window = Window.ending(ds.until, ds.days)
    select = [executable, "select", "--log-dir", str(ds.source_dir)]
    select += ["--filter-assumed-role-arn", role.arn]
    select += ["--from", f"{window.start:%Y-%m-%d}", "--to", f"{window.end:%Y-%m-%d}"]
    warnings_path = folder / "select.stderr"
    cpu = _children_cpu()
    began = time.monotonic()
    with warnings_path.open("w") as warnings:
        selecting = subprocess.Popen(select, stdout=subprocess.PIPE, stderr=warnings, cwd=folder)
        generating = subprocess.Popen(
            [executable, "generate"],
            stdin=selecting.stdout,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=folder,
        )
        assert selecting.stdout is not None
        selecting.stdout.close()  # generate alone reads the pipe now
        try:
            policy, errors = generating.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for process in (selecting, generating):
                process.kill()
                process.wait()
            policy = None
        selected = selecting.wait()
    seconds = (time.monotonic() - began, _children_cpu() - cpu)
    warned = sum(1 for line in warnings_path.read_text().splitlines() if "WARNING" in line)
    if policy is None:
        return seconds, None, warned
    if selected != 0 or generating.returncode != 0:
        sys.exit(
            f"trailscraper failed (select {selected}, generate {generating.returncode}): "
            f"{errors.strip()[-500:]}"
        )
    return seconds, json.loads(policy), warned


def _s3_actions(statements: list[dict[str, Any]]) -> list[str]:
    named = [s["Action"] if isinstance(s["Action"], list) else [s["Action"]] for s in statements]
    return sorted({action for actions in named for action in actions if action.startswith("s3:")})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=600_000)
    parser.add_argument("--trailscraper", help="its executable (default: trailscraper on PATH)")
    parser.add_argument(
        "--role", choices=sorted(ROLES), default=synth.REPORT_ROLE.name, help="for trailscraper"
    )
    parser.add_argument(
        "--timeout", type=float, default=1800, help="stop trailscraper after this many seconds"
    )
    parser.add_argument("--fresh", action="store_true", help="regenerate the tree")
    args = parser.parse_args()
    executable = _trailscraper(args.trailscraper)
    role = ROLES[args.role]
    ds = dataset(args.records, args.fresh)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        floor, decoded = _decode_floor(ds)
        ours, analysis = _rightsizer(ds, folder)
        theirs, policy, warned = _trailscraper_run(executable, ds, role, folder, args.timeout)
    roles = analysis["roles"]
    used = next(r for r in roles if r["role_arn"] == role.arn)["used"]
    print(f"tree: {ds.records:,} records in {ds.files:,} log files, {ds.days} days")
    print(
        f"rightsizer analyze (ingest + {len(roles)} roles): {ours[0]:.1f} s, CPU {ours[1]:.1f} s"
        f"  ({analysis['ingest']['events_added']:,} events stored; {role.name}: "
        f"{len(used)} S3 grants used)"
    )
    print(
        f"decoding alone ({decoded:,} records, {os.cpu_count()} processes; nothing stored): "
        f"{floor[0]:.1f} s, CPU {floor[1]:.1f} s"
    )
    if policy is None:
        print(
            f"trailscraper select | generate ({role.name}): stopped after {theirs[0]:.0f} s, "
            f"CPU {theirs[1]:.0f} s"
        )
        print(
            f"ratio: rightsizer more than {theirs[0] / ours[0]:.1f}x faster, "
            f"{theirs[1] / ours[1]:.1f}x less CPU   (target >= 10x)"
        )
        return
    statements = policy["Statement"]
    print(
        f"trailscraper select | generate ({role.name}): {theirs[0]:.1f} s, CPU {theirs[1]:.1f} s"
        f"  ({len(statements)} statements, S3 actions {_s3_actions(statements)}; "
        f"{warned} warnings)"
    )
    print(
        f"ratio: rightsizer {theirs[0] / ours[0]:.1f}x faster, {theirs[1] / ours[1]:.1f}x less "
        "CPU   (target >= 10x; on a busy machine the CPU ratio is the better guide)"
    )
    print(
        f"10x would leave rightsizer {theirs[0] / 10:.1f} s ({theirs[1] / 10:.1f} s CPU) for the "
        f"whole run; decoding alone takes {floor[0] / theirs[0] * 10:.0%} of that "
        f"({floor[1] / theirs[1] * 10:.0%} of the CPU)"
    )


if __name__ == "__main__":
    main()
