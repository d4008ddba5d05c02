"""Why each permission: the evidence in the JSON, Markdown and report, and `rightsizer explain`
end to end on the demo data."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from conftest import dataset_options

from rightsizer import synth
from rightsizer.report import build_report
from rightsizer.report.render import render_markdown
from rightsizer.synth.scenario import REPORT_ROLE, THUMBNAILER_ROLE


@pytest.fixture(scope="module")
def demo(
    dataset: synth.SynthDataset, tmp_path_factory: pytest.TempPathFactory
) -> tuple[synth.SynthDataset, list[str]]:
    db = tmp_path_factory.mktemp("db") / "r.duckdb"
    options = ["--source", str(dataset.source_dir), "--db", str(db), *dataset_options(dataset)]
    return dataset, options


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from rightsizer.cli import main; sys.exit(main())",
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def analysis(demo: tuple[synth.SynthDataset, list[str]]) -> dict[str, Any]:
    done = cli("analyze", *demo[1], "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def evidence_of(analysis: dict[str, Any], arn: str) -> dict[tuple[str, str], dict[str, Any]]:
    role = next(r for r in analysis["roles"] if r["role_arn"] == arn)
    return {(e["action"], e["resource"]): e for e in role["evidence"]}


def test_every_recommended_s3_grant_carries_its_evidence(analysis: dict[str, Any]) -> None:
    for role in analysis["roles"]:
        assert all(e["basis"] in ("observed", "companion", "unknown") for e in role["evidence"])
    thumbs = evidence_of(analysis, THUMBNAILER_ROLE.arn)
    used = thumbs[("s3:GetObject", "arn:aws:s3:::acme-uploads/incoming/*")]
    assert used["basis"] == "observed"
    assert used["observed"]["functions"] == ["thumbnailer"]
    assert used["observed"]["calls"] > 0 and used["observed"]["example_event_id"]
    abort = thumbs[("s3:AbortMultipartUpload", "arn:aws:s3:::acme-thumbnails/previews/*")]
    assert abort["basis"] == "companion" and abort["observed"] is None
    assert abort["companion"]["reason"] == "Abort only runs when an upload fails"
    assert "CreateMultipartUpload" in abort["companion"]["with_calls"]
    family = thumbs[("s3-object-lambda:*", "*")]
    assert family["basis"] == "unknown"
    assert family["unknown"][0]["code"] == "s3-family-unknown" and family["unknown"][0]["fix"]


def test_markdown_and_report_show_the_reasons(
    demo: tuple[synth.SynthDataset, list[str]], analysis: dict[str, Any]
) -> None:
    markdown = cli("analyze", *demo[1], "--format", "markdown").stdout
    assert "Why each S3 permission is recommended" in markdown
    assert "Abort only runs when an upload fails" in markdown
    report = render_markdown(build_report(analysis, previous=None))
    assert "#### Why each S3 permission is recommended" in report
    assert "companion of CreateMultipartUpload" in report


def test_explain_one_role_and_one_permission(demo: tuple[synth.SynthDataset, list[str]]) -> None:
    done = cli("explain", THUMBNAILER_ROLE.name, "s3:AbortMultipartUpload", *demo[1])
    assert done.returncode == 0, done.stderr
    assert "Abort only runs when an upload fails" in done.stdout
    assert "s3:GetObject on" not in done.stdout  # only the permission asked about
    removed = cli("explain", THUMBNAILER_ROLE.arn, "s3:DeleteObject", *demo[1])
    assert "s3:DeleteObject: removed, no call of the window needed it" in removed.stdout
    as_json = cli("explain", REPORT_ROLE.name, "--format", "json", *demo[1])
    document = json.loads(as_json.stdout)
    assert document["role_arn"] == REPORT_ROLE.arn
    assert {e["basis"] for e in document["evidence"]} >= {"observed", "companion"}


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("nobody-role",), "report-role"),
        ((REPORT_ROLE.name, "s3:NoSuchAction"), "not an S3 action"),
        (("config-reader-role", "s3:GetObject", "arn:aws:s3:::acme-secrets/*"), "it grants"),
    ],
)
def test_explain_names_what_exists_when_asked_about_what_does_not(
    demo: tuple[synth.SynthDataset, list[str]], args: tuple[str, ...], named: str
) -> None:
    done = cli("explain", *args, *demo[1])
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and named in done.stderr


def test_explain_says_a_short_window_once(demo: tuple[synth.SynthDataset, list[str]]) -> None:
    done = cli("explain", REPORT_ROLE.name, *demo[1])
    assert done.stdout.count("the window is 7 day(s), under 30") == 1
    assert "warning low-evidence (every role): the window is 7 day(s)" in done.stdout
    as_json = json.loads(cli("explain", REPORT_ROLE.name, "--format", "json", *demo[1]).stdout)
    assert [w["code"] for w in as_json["analysis_warnings"]] == ["low-evidence"]
    assert not any("the window is" in w["message"] for w in as_json["warnings"])
