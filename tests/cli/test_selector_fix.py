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


def _fix_for(today: dict[str, Any], holes: list[Any]) -> Any:
    from rightsizer.selectors import EventSelectors
    from rightsizer.trailfix import selector_fixes

    (fix,) = selector_fixes(EventSelectors((parse_trail_selectors(today),)), holes)
    return fix


def _values(selectors: Any) -> int:
    return sum(
        len(values)
        for selector in selectors
        for field in selector["FieldSelectors"]
        for key, values in field.items()
        if key != "Field"
    )


def _still_closes(fix: Any, holes: list[Any]) -> None:
    from rightsizer.selectors import EventSelectors

    applied = parse_trail_selectors(
        {"TrailARN": TRAIL_ARN, "AdvancedEventSelectors": list(fix.advanced_event_selectors)}
    )
    for hole in holes:
        assert EventSelectors((applied,)).covers(hole.bucket, hole.key_prefix, hole.access)
    for selector in fix.advanced_event_selectors:
        check_selector(selector)


@pytest.mark.parametrize(
    ("buckets", "folders", "widened"), [(3, 300, "to their buckets"), (600, 1, "to all of S3")]
)
def test_a_fix_over_cloudtrails_500_values_widens_its_folders_and_says_so(
    buckets: int, folders: int, widened: str
) -> None:
    """CloudTrail refuses a trail whose advanced selectors hold over 500 values (its quotas
    page): a fix naming every folder of a busy trail would be refused when pasted."""
    from rightsizer.coverage import Hole

    holes = [
        Hole(f"bucket-{b:03d}", f"folder-{f:03d}/", access)
        for b in range(buckets)
        for f in range(folders)
        for access in ("read", "write")
    ]
    fix = _fix_for(PARTIAL, holes)
    assert _values(fix.advanced_event_selectors) <= 500
    assert f"widened {widened}" in fix.note and "500 values" in fix.note
    _still_closes(fix, holes)


def test_a_fix_within_the_quota_names_each_folder_and_has_no_note() -> None:
    from rightsizer.coverage import Hole

    holes = [Hole("bucket-a", f"folder-{f}/", "read") for f in range(5)]
    fix = _fix_for(PARTIAL, holes)
    assert fix.note == ""
    starts = [
        field["StartsWith"]
        for selector in fix.advanced_event_selectors
        if selector["Name"].startswith("rightsizer")
        for field in selector["FieldSelectors"]
        if field["Field"] == "resources.ARN"
    ]
    assert starts == [[f"arn:aws:s3:::bucket-a/folder-{f}/" for f in range(5)]]


def test_a_trail_whose_selectors_fill_the_quota_today_is_told_to_merge_them_first() -> None:
    from rightsizer.coverage import Hole

    full = {
        "TrailARN": TRAIL_ARN,
        "AdvancedEventSelectors": [
            {
                "Name": "many tables",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::DynamoDB::Table"]},
                    {
                        "Field": "resources.ARN",
                        "Equals": [f"arn:aws:dynamodb:us-east-1:1:table/t{i}" for i in range(497)],
                    },
                ],
            }
        ],
    }
    fix = _fix_for(full, [Hole("bucket-a", "in/", "read")])
    assert "today's hold 499" in fix.note and "will refuse it" in fix.note


def test_a_fixs_note_is_on_every_output() -> None:
    from report_samples import sample_analysis

    from rightsizer.model import Analysis
    from rightsizer.render import format_named
    from rightsizer.report import build_report, render_html, render_markdown, render_text

    note = "the folders are widened to their buckets: CloudTrail allows 500 values"
    fix = {"trail": TRAIL_ARN, "holes": ["read *"], "advanced_event_selectors": []}
    document = {**sample_analysis(), "selector_fixes": [{**fix, "command": "aws x", "note": note}]}
    report = build_report(document, previous=None)
    for text in (render_text(report), render_markdown(report), render_html(report)):
        assert note in text
    for name in ("table", "markdown"):
        out = io.StringIO()
        with contextlib.redirect_stderr(out):
            format_named(name).write(Analysis.from_json(document), out)
        assert note in " ".join(out.getvalue().split())
