"""The figures (README, "The figures"): defined once, counted alike before and after, and the
same on every output (JSON, terminal table, Markdown, report)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import dataset_options

from rightsizer import analyze as analyze_module
from rightsizer import synth
from rightsizer.cli import main
from rightsizer.diff import counts
from rightsizer.generate import Recommendation
from rightsizer.iam.policy import parse_policy
from rightsizer.iam.s3 import expand_s3_family_actions, is_s3_action
from rightsizer.model import WILDCARD_NOTE
from rightsizer.report import build_report, render_html, render_markdown, render_text
from rightsizer.synth.scenario import (
    CONFIG_READER_ROLE,
    EU_INGEST_ROLE,
    REPORT_ROLE,
    THUMBNAILER_ROLE,
)


def run(ds: synth.SynthDataset, db: Path, output_format: str, command: str = "analyze") -> str:
    import contextlib
    import io

    args = [
        *command.split(),
        *("--source", str(ds.source_dir), "--db", str(db)),
        *dataset_options(ds),
        *("--format", output_format),
    ]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        main(args)
    return buffer.getvalue()


def every_output(ds: synth.SynthDataset, db: Path) -> dict[str, Any]:
    """The analysis as JSON, table and Markdown, and the report as Markdown, text and HTML."""
    document = json.loads(run(ds, db, "json"))
    report = build_report(document, previous=None)
    return {
        "json": document,
        "table": run(ds, db, "table"),
        "markdown": run(ds, db, "markdown"),
        "report.md": render_markdown(report),
        "report.txt": render_text(report),
        "report.html": render_html(report, charts=[]),
    }


@pytest.fixture(scope="module")
def outputs(
    dataset: synth.SynthDataset, tmp_path_factory: pytest.TempPathFactory, request: Any
) -> dict[str, Any]:
    request.getfixturevalue("_wide_terminal")
    return every_output(dataset, tmp_path_factory.mktemp("db") / "r.duckdb")


@pytest.fixture(scope="module")
def dark(tmp_path_factory: pytest.TempPathFactory, request: Any) -> dict[str, Any]:
    """Every output of a window whose trail logs no S3 data events: object-level use unknown."""
    request.getfixturevalue("_wide_terminal")
    ds = synth.generate(tmp_path_factory.mktemp("dark"), days=7, data_events=False)
    db = tmp_path_factory.mktemp("dark-db") / "r.duckdb"
    shown = every_output(ds, db)
    shown["explain"] = run(ds, db, "text", f"explain {REPORT_ROLE.name}")
    return shown


@pytest.fixture(scope="module")
def _wide_terminal() -> Any:
    patch = pytest.MonkeyPatch()
    patch.setenv("COLUMNS", "400")
    yield
    patch.undo()


def role(outputs: dict[str, Any], arn: str) -> dict[str, Any]:
    return next(r for r in outputs["json"]["roles"] if r["role_arn"] == arn)


def table_row(outputs: dict[str, Any], name: str) -> list[str]:
    """The cells of the first line of a role's row: the table parts columns by two spaces."""
    line = next(line for line in outputs["table"].splitlines() if line.startswith(f"{name} "))
    return re.split(r" {2,}", line.strip())


def test_grants_narrowed_without_fewer_actions_do_not_read_zero_percent(
    outputs: dict[str, Any],
) -> None:
    # eu-ingest keeps its five actions but loses or narrows 8 of its 10 grants.
    figures = role(outputs, EU_INGEST_ROLE.arn)["counts"]
    assert figures["before"]["s3_actions"] == figures["after"]["s3_actions"]
    assert (figures["removed_or_narrowed"], figures["before"]["grants"]) == (8, 10)
    assert figures["reduction"] == 0.8
    assert table_row(outputs, EU_INGEST_ROLE.name)[-1] == "80% (8 of 10)"
    assert "| 80% (8 of 10) |" in outputs["markdown"]


def test_a_role_that_changes_nothing_reads_zero(outputs: dict[str, Any]) -> None:
    figures = role(outputs, CONFIG_READER_ROLE.arn)["counts"]
    assert figures["before"] == figures["after"]
    assert (figures["removed_or_narrowed"], figures["reduction"]) == (0, 0.0)


def test_star_is_all_buckets_never_zero(outputs: dict[str, Any]) -> None:
    figures = role(outputs, REPORT_ROLE.arn)["counts"]
    assert figures["before"]["all_buckets"] and not figures["after"]["all_buckets"]
    # acme-reports and acme-reports-raw, and acme-exports the demo's builder reads once (planted).
    assert table_row(outputs, REPORT_ROLE.name)[5] == "all → 3"


def test_the_s3_family_counts_in_the_wildcard_figures(outputs: dict[str, Any]) -> None:
    thumbs = role(outputs, THUMBNAILER_ROLE.arn)
    kept = [
        s for s in thumbs["recommended_policy"]["Statement"] if "s3-object-lambda:*" in s["Action"]
    ]
    assert kept  # carried over as it is
    figures = thumbs["counts"]
    assert figures["after"]["wildcard_grants"] == 1
    # s3:* on * narrowed away, s3-object-lambda:* on * kept: its actions, counted on both sides.
    object_lambda = len(expand_s3_family_actions("s3-object-lambda:*"))
    assert figures["after"]["wildcard_actions"] == object_lambda
    assert figures["before"]["wildcard_actions"] == figures["before"]["s3_actions"] + object_lambda
    shown = f"{figures['before']['wildcard_actions']} → {object_lambda}"
    assert table_row(outputs, THUMBNAILER_ROLE.name)[6] == shown


def test_unknown_coverage_reads_falling_on_every_output(dark: dict[str, Any]) -> None:
    # No data events: report-role's s3:* on * is kept as the data actions it holds, each on
    # `*`. The wildcard grants rise (one becomes thirty); the figure people see falls.
    figures = role(dark, REPORT_ROLE.arn)["counts"]
    before, after = figures["before"], figures["after"]
    assert after["wildcard_grants"] > before["wildcard_grants"] == 1
    assert 0 < after["wildcard_actions"] < before["wildcard_actions"]
    shown = f"{before['wildcard_actions']} → {after['wildcard_actions']}"
    assert table_row(dark, REPORT_ROLE.name)[6] == shown
    (row,) = [line for line in dark["markdown"].splitlines() if line.startswith("| report-role")]
    assert f"| {shown} |" in row
    assert f"wildcard actions {shown}," in dark["explain"]
    b, a = before["wildcard_actions"], after["wildcard_actions"]
    roles = dark["json"]["roles"]
    total_b, total_a = (
        sum(r["counts"][side]["wildcard_actions"] for r in roles) for side in ("before", "after")
    )
    assert total_a < total_b
    for name, arrow in {"report.md": "→", "report.txt": "->", "report.html": "&rarr;"}.items():
        assert f"{b} today {arrow} {a} recommended" in dark[name], name  # the role's details
        assert f"{total_b:,} {arrow} {total_a:,}" in dark[name], name  # the summary


def test_every_human_output_says_which_wildcard_figure_it_shows(dark: dict[str, Any]) -> None:
    said = "not the number of wildcard grants"
    assert said in WILDCARD_NOTE
    for name in ("table", "markdown", "explain", "report.md", "report.txt", "report.html"):
        assert said in dark[name], name


@pytest.mark.parametrize("which", ["outputs", "dark"])
def test_the_wildcard_actions_of_a_recommendation_never_rise(which: str, request: Any) -> None:
    for analysed in request.getfixturevalue(which)["json"]["roles"]:
        if (figures := analysed["counts"]) is not None:
            before, after = figures["before"], figures["after"]
            assert after["wildcard_actions"] <= before["wildcard_actions"], analysed["role_name"]


def test_before_and_after_are_counted_by_one_rule(outputs: dict[str, Any]) -> None:
    for analysed in outputs["json"]["roles"]:
        figures = analysed["counts"]
        assert (
            counts(parse_policy(analysed["current_policy"]))["grants"]
            == figures["before"]["grants"]
        )
        assert counts(parse_policy(analysed["recommended_policy"])) == figures["after"]
        # Every grant of today is removed or narrowed, kept, or kept as unknown.
        diff = analysed["diff"]
        today_unknown = {
            (u["action"].lower(), u["resource"])
            for u in diff["unknown"]
            if not any(
                (n["action"], n["resource"]) == (u["action"], u["resource"])
                for r in diff["removed"]
                for n in r["narrowed_to"]
            )
        }
        held = len(diff["removed"]) + len(diff["kept"]) + len(today_unknown)
        assert held == figures["before"]["grants"], analysed["role_name"]


def test_the_report_reads_the_same_figures(outputs: dict[str, Any]) -> None:
    report = build_report(outputs["json"], previous=None)
    roles = outputs["json"]["roles"]
    assert report.summary.grants_before == sum(r["counts"]["before"]["grants"] for r in roles)
    assert report.summary.grants_after == sum(r["counts"]["after"]["grants"] for r in roles)
    assert report.summary.grants_removed == sum(r["counts"]["removed_or_narrowed"] for r in roles)
    for section in report.roles:
        analysed = next(r for r in roles if r["role_arn"] == section.role_arn)
        assert section.actions_used == analysed["counts"]["used_actions"]
        assert section.actions_held == analysed["counts"]["before"]["s3_actions"]


def test_a_refused_recommendation_counts_what_is_deployed_today_s(
    dataset: synth.SynthDataset,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: Any,
) -> None:
    # A recommendation that forgets report-role's S3 use, as a bug in generate would: the
    # replay refuses it and the role keeps today's policies.
    real = analyze_module.recommend

    def forgetful(lambda_role: Any, *args: Any, **kwargs: Any) -> Recommendation:
        rec = real(lambda_role, *args, **kwargs)
        if lambda_role.arn != REPORT_ROLE.arn:
            return rec
        kept = tuple(
            s for s in rec.policy.statements if not any(is_s3_action(a) for a in s.actions or ())
        )
        return dataclasses.replace(rec, policy=dataclasses.replace(rec.policy, statements=kept))

    monkeypatch.setattr(analyze_module, "recommend", forgetful)
    request.getfixturevalue("_wide_terminal")
    shown = every_output(dataset, tmp_path / "r.duckdb")
    refused = role(shown, REPORT_ROLE.arn)
    assert refused["recommended_policy"] is None and "verification-failed" in {
        w["code"] for w in refused["warnings"]
    }
    figures = refused["counts"]
    assert figures["after"] == figures["before"]
    assert (figures["removed_or_narrowed"], figures["reduction"]) == (0, 0.0)
    assert refused["changed"] is None  # no recommendation: neither changed nor "no change"
    grants = figures["before"]["grants"]
    row = table_row(shown, REPORT_ROLE.name)
    assert row[3] == f"{grants} → {grants}" and row[-1] == f"0% (0 of {grants})"
    assert f"| {REPORT_ROLE.name} (refused) |" in shown["markdown"]
    assert "refused" in shown["table"].split(REPORT_ROLE.name, 1)[1].splitlines()[1]
    # The report adds up what is deployed: the refused role's grants are all still held.
    report = build_report(shown["json"], previous=None)
    section = next(s for s in report.roles if s.role_arn == REPORT_ROLE.arn)
    assert (section.grants_after, section.grants_reduced) == (grants, 0)
    assert not any(x.role_arn == REPORT_ROLE.arn for x in report.summary.high_risk_removed)
    for name in ("report.md", "report.txt", "report.html"):
        assert "the role keeps today's policies, and its figures are today's" in shown[name]
