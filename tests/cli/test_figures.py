"""The figures (README, "The figures"): defined once, counted alike before and after, and the
same on every output (JSON, terminal table, Markdown, report)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from rightsizer import synth
from rightsizer.cli import main
from rightsizer.diff import counts
from rightsizer.iam.policy import parse_policy
from rightsizer.report import build_report
from rightsizer.synth.scenario import (
    CONFIG_READER_ROLE,
    EU_INGEST_ROLE,
    REPORT_ROLE,
    THUMBNAILER_ROLE,
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> synth.SynthDataset:
    return synth.generate(tmp_path_factory.mktemp("synth"), days=7)


def run(ds: synth.SynthDataset, db: Path, output_format: str) -> str:
    import contextlib
    import io

    args = [
        *("analyze", "--source", str(ds.source_dir), "--db", str(db)),
        *("--iam-details", str(ds.iam_details), "--lambda-functions", str(ds.lambda_functions)),
        *("--until", ds.until.isoformat(), "--days", str(ds.days), "--format", output_format),
    ]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        main(args)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def outputs(
    dataset: synth.SynthDataset, tmp_path_factory: pytest.TempPathFactory, request: Any
) -> dict[str, Any]:
    db = tmp_path_factory.mktemp("db") / "r.duckdb"
    request.getfixturevalue("_wide_terminal")
    return {
        "json": json.loads(run(dataset, db, "json")),
        "table": run(dataset, db, "table"),
        "markdown": run(dataset, db, "markdown"),
    }


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


def test_the_s3_family_counts_in_the_wildcard_grants(outputs: dict[str, Any]) -> None:
    thumbs = role(outputs, THUMBNAILER_ROLE.arn)
    kept = [
        s for s in thumbs["recommended_policy"]["Statement"] if "s3-object-lambda:*" in s["Action"]
    ]
    assert kept  # carried over as it is
    assert thumbs["counts"]["after"]["wildcard_grants"] == 1
    assert table_row(outputs, THUMBNAILER_ROLE.name)[6] == "2 → 1"


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
