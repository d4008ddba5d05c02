"""The demo plants one of each activity finding it can show; `analyze` (every format) and the
report show those, and nothing else. The report marks the findings its predecessor lacked."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pytest

from rightsizer import synth
from rightsizer.cli import main
from rightsizer.model import Analysis
from rightsizer.report import build_report
from rightsizer.report.changes import figures
from rightsizer.report.render import render_html, render_markdown, render_text

LAPTOP = (
    "credentials-outside-lambda",
    "report-role",
    f"session report-mailer from {synth.LAPTOP_IP}",
)
NEW_BUCKET = ("first-seen", "report-role", f"bucket {synth.EXPORTS_BUCKET}")
DENIED = (
    "denied-call",
    "exporter-role",
    f"s3:GetObject on {synth.DENIED_OBJECT_ARN} (AccessDenied)",
)


def run(*args: str) -> tuple[int, str]:
    """The command's exit code and what it printed on stdout."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("demo")
    code, printed = run("demo", "--dir", str(folder), "--format", "json")
    assert code == 0
    return folder, json.loads(printed)


def shown(document: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(f["code"], f["role_name"], f["subject"]) for f in document["findings"]}


def burst_of(document: dict[str, Any]) -> tuple[str, str, str]:
    (burst,) = [f for f in document["findings"] if f["code"] == "denied-burst"]
    return burst["code"], burst["role_name"], burst["subject"]


def test_the_demo_shows_each_planted_finding_and_nothing_else(
    demo: tuple[Path, dict[str, Any]],
) -> None:
    _, document = demo
    burst = burst_of(document)
    assert burst[1] == "exporter-role"
    assert shown(document) == {LAPTOP, NEW_BUCKET, DENIED, burst}
    by_code = {f["code"]: f for f in document["findings"]}
    assert by_code["denied-burst"]["evidence"]["count"] == synth.BURST_CALLS
    laptop = by_code[LAPTOP[0]]
    assert laptop["severity"] == "high" and laptop["evidence"]["source_ips"] == [synth.LAPTOP_IP]
    assert all("os/macos" in agent for agent in laptop["evidence"]["user_agents"])
    assert by_code["denied-call"]["blocked_by"] == "permissions-boundary"
    assert by_code["denied-call"]["statement"] is None
    watch = document["watch"]
    assert watch["first_seen_judged"] and watch["history_days"] >= 7
    assert any("no IAM events" in note for note in watch["notes"])


@pytest.mark.parametrize("output_format", ["table", "markdown"])
def test_the_terminal_and_markdown_show_the_same_findings(
    demo: tuple[Path, dict[str, Any]], output_format: str
) -> None:
    folder, document = demo
    code, printed = run("demo", "--dir", str(folder), "--format", output_format)
    assert code == 0
    flat = " ".join(printed.split())  # the table folds long lines
    assert "Activity findings" in printed
    for finding in document["findings"]:
        assert finding["message"].split(" (")[0] in flat.replace("\\", "")
    assert flat.count("credentials-outside-lambda") == 1
    assert "To do:" in printed or "to do:" in printed


def test_the_report_shows_the_findings_and_marks_the_new_ones(
    demo: tuple[Path, dict[str, Any]],
) -> None:
    folder, document = demo
    args = [
        "report", "--db", str(folder / "rightsizer.duckdb"),
        "--iam-details", str(folder / "iam-details.json"),
        "--lambda-functions", str(folder / "lambda-functions.json"),
        "--until", document["window"]["end"], "--days", str(document["window"]["days"]),
    ]  # fmt: skip
    code, first = run(*args)
    assert code == 0 and "ACTIVITY FINDINGS" in first
    for code_name, role, _ in shown(document):
        assert f"{code_name} {role}" in first
    assert f"session 'report-mailer' from {synth.LAPTOP_IP}" in first
    assert "[NEW since the previous report]" not in first  # the first report: nothing to compare
    code, second = run(*args, "--preview")
    assert code == 0 and "New activity findings: 0" in second
    assert "[NEW since the previous report]" not in second


def test_a_finding_the_previous_report_lacked_is_marked_new(
    demo: tuple[Path, dict[str, Any]],
) -> None:
    _, document = demo
    analysis = Analysis.from_json(document)
    without_laptop = dataclasses.replace(
        analysis, findings=tuple(f for f in analysis.findings if f.code != LAPTOP[0])
    )
    previous = figures(build_report(without_laptop, previous=None))
    report = build_report(analysis, previous=previous)
    assert report.changes is not None
    (laptop,) = [f for f in analysis.findings if f.code == LAPTOP[0]]
    assert report.changes.new_findings == (laptop.key,)
    markdown = render_markdown(report)
    assert markdown.count("**new since the previous report**") == 1
    marked = next(line for line in markdown.splitlines() if "**new since" in line)
    assert "credentials-outside-lambda" in marked
    assert render_text(report).count("[NEW since the previous report]") == 1
    assert render_html(report, charts=[]).count('<span class="badge new">new</span></td>') == 1
    # Figures kept before activity findings existed: nothing can be called new.
    older = {k: v for k, v in previous.items() if k != "findings"}
    old_report = build_report(analysis, previous=older)
    assert old_report.changes is not None and not old_report.changes.findings_compared
    assert "not compared (the previous report kept no findings)" in render_markdown(old_report)
    assert "**new since the previous report**" not in render_markdown(old_report)
