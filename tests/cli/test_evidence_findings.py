"""Findings about the evidence itself, on every output: an idle role about to lose all its S3
access, a short window, a role with few calls; and the terminal shows them with skipped files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rightsizer import synth
from rightsizer.synth.scenario import CONFIG_READER_ROLE, LEGACY_CLEANUP_ROLE, REPORT_ROLE


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[synth.SynthDataset, Path]:
    ds = synth.generate(tmp_path_factory.mktemp("synth"), days=7)
    return ds, tmp_path_factory.mktemp("db") / "r.duckdb"


def cli(demo: tuple[synth.SynthDataset, Path], *args: str) -> subprocess.CompletedProcess[str]:
    ds, db = demo
    options = [
        *("--source", str(ds.source_dir), "--db", str(db)),
        *("--iam-details", str(ds.iam_details), "--lambda-functions", str(ds.lambda_functions)),
        *("--until", ds.until.isoformat()),
    ]
    program = "import sys; from rightsizer.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", program, "analyze", *options, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "400"},
    )


def codes(document: dict[str, Any], arn: str) -> list[str]:
    role = next(r for r in document["roles"] if r["role_arn"] == arn)
    return [w["code"] for w in role["warnings"]]


def test_an_idle_role_losing_all_s3_access_is_warned_on_the_terminal(
    demo: tuple[synth.SynthDataset, Path],
) -> None:
    done = cli(demo, "--days", "7", "--format", "table")
    assert done.returncode == 0, done.stderr
    assert f"warning {LEGACY_CLEANUP_ROLE.name}: no S3 call in the 7-day window" in done.stdout
    document = json.loads(cli(demo, "--days", "7", "--format", "json").stdout)
    assert "idle-role" in codes(document, LEGACY_CLEANUP_ROLE.arn)
    assert "idle-role" not in codes(document, REPORT_ROLE.arn)


def test_a_short_window_and_few_calls_are_low_evidence(
    demo: tuple[synth.SynthDataset, Path],
) -> None:
    document = json.loads(cli(demo, "--days", "7", "--format", "json").stdout)
    role = next(r for r in document["roles"] if r["role_arn"] == CONFIG_READER_ROLE.arn)
    short = [w["message"] for w in role["warnings"] if w["code"] == "low-evidence"]
    assert any("the window is 7 day(s), under 30" in m for m in short)
    calls = role["replay"]["calls"]
    # --min-calls above the role's calls: its few calls are named; at or below them: not.
    above = json.loads(
        cli(demo, "--days", "7", "--min-calls", str(calls + 1), "--format", "json").stdout
    )
    few = next(r for r in above["roles"] if r["role_arn"] == CONFIG_READER_ROLE.arn)
    assert any(f"only {calls:,} successful" in w["message"] for w in few["warnings"])
    enough = json.loads(
        cli(demo, "--days", "7", "--min-calls", str(calls), "--format", "json").stdout
    )
    role = next(r for r in enough["roles"] if r["role_arn"] == CONFIG_READER_ROLE.arn)
    assert not any("successful S3 call(s)" in w["message"] for w in role["warnings"])


def test_a_negative_min_calls_is_refused(demo: tuple[synth.SynthDataset, Path]) -> None:
    done = cli(demo, "--min-calls", "-1", "--format", "json")
    assert done.returncode == 2 and "min_calls must be 0 or more" in done.stderr
