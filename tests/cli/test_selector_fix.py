"""The selector fix: once per trail, a pasteable `aws cloudtrail put-event-selectors` that keeps
the trail's selectors and closes the holes the analysis reports, end to end on the synthetic
data set whose trail logs S3 data events of two folders only."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from rightsizer import synth
from rightsizer.cli import main
from rightsizer.selectors import parse_trail_selectors
from rightsizer.synth.scenario import TRAIL_ARN

# What the trail logs today: management events, DynamoDB, and two S3 folders.
PARTIAL = {
    "TrailARN": TRAIL_ARN,
    "EventSelectors": [
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": True,
            "DataResources": [
                {
                    "Type": "AWS::S3::Object",
                    "Values": [
                        "arn:aws:s3:::acme-uploads/",
                        "arn:aws:s3:::acme-thumbnails/thumbs/",
                    ],
                },
                {"Type": "AWS::DynamoDB::Table", "Values": ["arn:aws:dynamodb"]},
            ],
            "ExcludeManagementEventSources": ["kms.amazonaws.com"],
        }
    ],
}
# CloudTrail's rules for advanced event selectors on a trail (field names, operators, values).
FIELDS = {
    "eventCategory",
    "eventSource",
    "eventName",
    "readOnly",
    "resources.type",
    "resources.ARN",
}
OPERATORS = {"Equals", "NotEquals", "StartsWith", "NotStartsWith", "EndsWith", "NotEndsWith"}
EQUALS_ONLY = {"eventCategory", "readOnly", "resources.type"}
S3_PREFIX = re.compile(r"arn:aws:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/([^*?]+/)?")


def check_selector(selector: dict[str, Any]) -> None:
    """Fail unless the selector obeys CloudTrail's advanced-event-selector rules."""
    assert set(selector) <= {"Name", "FieldSelectors"} and selector["FieldSelectors"]
    fields = {f["Field"]: f for f in selector["FieldSelectors"]}
    assert len(fields) == len(selector["FieldSelectors"]), "a field appears once"
    for name, field in fields.items():
        assert name in FIELDS, name
        operators = set(field) - {"Field"}
        assert operators and operators <= OPERATORS, field
        if name in EQUALS_ONLY:
            assert operators == {"Equals"}, field
    assert fields["eventCategory"]["Equals"] in (["Management"], ["Data"])
    if "readOnly" in fields:
        assert fields["readOnly"]["Equals"] in (["true"], ["false"])
    if fields["eventCategory"]["Equals"] == ["Data"]:
        assert "resources.type" in fields and len(fields["resources.type"]["Equals"]) == 1
    else:
        assert "resources.type" not in fields and "resources.ARN" not in fields
    if fields.get("resources.type", {}).get("Equals") == ["AWS::S3::Object"]:
        arns = fields.get("resources.ARN", {})
        assert set(arns) - {"Field"} <= {"StartsWith"}
        for value in arns.get("StartsWith", []):
            assert S3_PREFIX.fullmatch(value), value


def _analyze(ds: synth.SynthDataset, db: Path, selectors: Path, *extra: str) -> str:
    args = [
        "analyze",
        "--db",
        str(db),
        "--iam-details",
        str(ds.iam_details),
        "--event-selectors",
        str(selectors),
        "--until",
        ds.until.isoformat(),
        "--days",
        str(ds.days),
        *extra,
    ]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(args) == 0
    return buffer.getvalue()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The analysis JSON, its database, data set and the selectors file it was given."""
    root = tmp_path_factory.mktemp("fix")
    ds = synth.generate(root / "data", days=7)
    selectors = root / "selectors.json"
    selectors.write_text(json.dumps(PARTIAL))
    db = root / "r.duckdb"
    text = _analyze(ds, db, selectors, "--source", str(ds.source_dir), "--format", "json")
    return {"json": json.loads(text), "db": db, "ds": ds, "selectors": selectors, "root": root}


def test_one_pasteable_command_per_trail_keeps_its_selectors_and_closes_the_holes(
    run: dict[str, Any],
) -> None:
    (fix,) = run["json"]["selector_fixes"]
    words = shlex.split(fix["command"])
    assert words[:3] == ["aws", "cloudtrail", "put-event-selectors"]
    options = dict(zip(words[3::2], words[4::2], strict=True))
    assert options["--region"] == "us-east-1"
    assert options["--trail-name"] == TRAIL_ARN
    selectors = json.loads(options["--advanced-event-selectors"])
    assert selectors == fix["advanced_event_selectors"]
    for selector in selectors:
        check_selector(selector)
    # Today's management events (without KMS) and DynamoDB tables are still logged.
    management = [s for s in selectors if s["FieldSelectors"][0]["Equals"] == ["Management"]]
    assert management[0]["FieldSelectors"][1] == {
        "Field": "eventSource",
        "NotEquals": ["kms.amazonaws.com"],
    }
    assert any(
        f.get("Equals") == ["AWS::DynamoDB::Table"] for s in selectors for f in s["FieldSelectors"]
    )
    trail = parse_trail_selectors({"AdvancedEventSelectors": selectors})
    before = parse_trail_selectors(PARTIAL)
    for target in ("acme-uploads/x/", "acme-thumbnails/thumbs/"):
        assert before.covers(*target.split("/", 1), "read") and trail.covers(
            *target.split("/", 1), "read"
        )
    # Every hole of every role is closed by it.
    for hole in fix["holes"]:
        access, where = hole.split(" ")
        bucket, _, prefix = where.removeprefix("arn:aws:s3:::").partition("/")
        assert trail.covers(bucket, prefix, access), hole


def test_with_the_fix_applied_the_analysis_reports_no_hole(
    run: dict[str, Any], tmp_path: Path
) -> None:
    (fix,) = run["json"]["selector_fixes"]
    fixed = tmp_path / "fixed.json"
    fixed.write_text(
        json.dumps(
            {"TrailARN": TRAIL_ARN, "AdvancedEventSelectors": fix["advanced_event_selectors"]}
        )
    )
    data = json.loads(_analyze(run["ds"], run["db"], fixed, "--format", "json"))
    assert data["selector_fixes"] == []
    warnings = [w for r in data["roles"] for w in r["warnings"] if w["code"] == "coverage-unknown"]
    assert warnings == []


def test_each_role_says_it_once_and_no_advice_names_an_invalid_value(run: dict[str, Any]) -> None:
    for role in run["json"]["roles"]:
        codes = [w["code"] for w in role["warnings"]]
        assert codes.count("coverage-unknown") <= 1
        for warning in role["warnings"]:
            assert (
                "cover */" not in warning["message"]
                and "whose values cover" not in warning["message"]
            )


def test_the_fix_is_shown_once_on_the_terminal_and_in_markdown_and_the_report(
    run: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (fix,) = run["json"]["selector_fixes"]
    args = [run["ds"], run["db"], run["selectors"]]
    table = _analyze(*args, "--format", "table")
    assert " ".join(table.split()).count("--advanced-event-selectors") == 1
    # The terminal does not break the command: it is one line, pasteable as printed.
    assert fix["command"] in table.splitlines()
    markdown = _analyze(*args, "--format", "markdown")
    assert markdown.count(fix["command"]) == 1
    code = main(
        [
            "report",
            "--db",
            str(run["db"]),
            "--iam-details",
            str(run["ds"].iam_details),
            "--event-selectors",
            str(run["selectors"]),
            "--until",
            run["ds"].until.isoformat(),
            "--days",
            str(run["ds"].days),
            "--preview",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.count(fix["command"]) == 1


def test_without_the_trails_selectors_no_command_is_offered(tmp_path: Path) -> None:
    from rightsizer.coverage import Hole
    from rightsizer.trailfix import selector_fixes

    assert selector_fixes(None, [Hole("b", "k/", "read")]) == []
