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
from rightsizer.report import build_report, render_html, render_markdown, render_text
from rightsizer.report.message import findings_csv
from rightsizer.synth.scenario import CONFIG_READER_ROLE, LEGACY_CLEANUP_ROLE, REPORT_ROLE


@pytest.fixture(scope="module")
def demo(
    dataset: synth.SynthDataset, tmp_path_factory: pytest.TempPathFactory
) -> tuple[synth.SynthDataset, Path]:
    return dataset, tmp_path_factory.mktemp("db") / "r.duckdb"


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


def test_a_short_window_is_said_once_on_every_output(
    demo: tuple[synth.SynthDataset, Path],
) -> None:
    short = "the window is 7 day(s), under 30"
    document = json.loads(cli(demo, "--days", "7", "--format", "json").stdout)
    assert [w["code"] for w in document["warnings"] if short in w["message"]] == ["low-evidence"]
    assert not any(short in w["message"] for r in document["roles"] for w in r["warnings"])
    report = build_report(document, previous=None)
    shown = {
        "table": cli(demo, "--days", "7", "--format", "table").stdout,
        "markdown": cli(demo, "--days", "7", "--format", "markdown").stdout,
        "report.md": render_markdown(report),
        "report.txt": render_text(report),
        "report.html": render_html(report, charts=[]),
        "findings.csv": findings_csv(report).decode(),
    }
    assert len(document["roles"]) > 1  # once for all of them
    assert {name: text.count(short) for name, text in shown.items()} == dict.fromkeys(shown, 1)
    assert "every role: " + short in shown["table"]
    # A window of 30 days or more is not short: no such warning anywhere.
    longer = json.loads(cli(demo, "--days", "30", "--format", "json").stdout)
    assert longer["warnings"] == []


def test_few_calls_are_low_evidence_per_role(
    demo: tuple[synth.SynthDataset, Path],
) -> None:
    document = json.loads(cli(demo, "--days", "7", "--format", "json").stdout)
    role = next(r for r in document["roles"] if r["role_arn"] == CONFIG_READER_ROLE.arn)
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
