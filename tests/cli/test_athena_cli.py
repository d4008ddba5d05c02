"""`rightsizer analyze --engine athena` end to end against moto_server (behind
tests/athena_proxy.py): the CloudTrail table created with consent, every query sent to Athena,
the staging tables dropped, the ingest block and the cost reported. moto runs no SQL: the
queries' answers are given here, so this holds the command's flow, not the analysis (that is
tests/usage/test_cloudtrail_events.py's, on DuckDB over Athena's table shape)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlglot
from athena_proxy import athena_proxy
from aws_guard import AwsCalls, setup_client
from conftest import dataset_options
from trail_logs import upload

from rightsizer import synth
from rightsizer.cli import main
from rightsizer.permissions import ALLOWED_OPERATIONS

OUTPUT = "s3://athena-results/rightsizer/"


def _args(ds: synth.SynthDataset, *extra: str) -> list[str]:
    return ["analyze", "--engine", "athena", *dataset_options(ds), "--format", "json", *extra]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> synth.SynthDataset:
    return synth.generate(tmp_path_factory.mktemp("synth"), days=2)


def test_analyze_on_athena_creates_the_table_runs_there_and_reports_the_cost(
    dataset: synth.SynthDataset,
    moto: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    aws_calls: AwsCalls,
) -> None:
    upload(dataset.logs, "trail-bucket", "prod/")
    setup_client(boto3.client("glue", region_name="us-east-1")).create_database(
        DatabaseInput={"Name": "security"}
    )
    monkeypatch.chdir(tmp_path)
    with athena_proxy(moto) as proxy:
        proxy.script(2, DataScannedInBytes=40_000_000_000)  # the logs, read once
        proxy.answer_queries("AS files", [["files", "events"], ["96", "5120"]])
        proxy.answer_queries(
            "AS skipped_files", [["files", "events", "skipped_files"], ["0", "5120", "0"]]
        )
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        code = main(
            _args(
                dataset,
                "--source",
                "s3://trail-bucket/prod",
                "--athena-database",
                "security",
                "--athena-output",
                OUTPUT,
                "--athena-create-table",
                "--max-scan-gb",
                "100",
            )
        )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    analysis = json.loads(captured.out)
    ingest = analysis["ingest"]
    assert (ingest["engine"], ingest["source"]) == ("athena", "s3://trail-bucket/prod")
    assert (ingest["files_read"], ingest["records"], ingest["events_added"]) == (96, 5120, 0)
    assert ingest["scanned_bytes"] == 40_000_000_000
    assert ingest["cost_usd"] == pytest.approx(0.2 + 10e6 / 1e12 * 5)  # with events_read's 10 MB
    assert analysis["store"] == {"files": 0, "events": 5120, "skipped_files": 0}
    assert {role["role_arn"] for role in analysis["roles"]}  # the snapshot's Lambda roles
    assert "athena: " in captured.err and "GB, about USD 0.2" in captured.err
    texts = [call["QueryString"] for call in proxy.calls("StartQueryExecution")]
    assert texts[0].startswith("CREATE EXTERNAL TABLE IF NOT EXISTS `security`.`cloudtrail_logs`")
    assert "LOCATION 's3://trail-bucket/prod/AWSLogs/'" in texts[0]
    staged = [t.split('"')[3] for t in texts if t.startswith("CREATE TABLE")]
    dropped = [t.split("`")[3] for t in texts if t.startswith("DROP TABLE")]
    assert staged and sorted(staged) == sorted(dropped)  # nothing is left behind
    assert any(name.endswith("_events") for name in staged)
    assert any(name.endswith("_s3_calls") for name in staged)
    for text in texts[1:]:
        if not text.startswith("DROP"):
            assert len(sqlglot.parse(text, read="athena")) == 1, text[:80]
    assert not Path(tmp_path / "rightsizer.duckdb").exists()  # nothing ingested or stored
    used = {call.operation for call in aws_calls.calls if not call.setup}
    assert used <= set(ALLOWED_OPERATIONS)
    assert {"athena:StartQueryExecution", "glue:GetTable", "s3:ListObjectsV2"} <= used


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ((), "--engine athena needs --athena-database and --athena-output"),
        (
            ("--athena-database", "security", "--athena-output", "bucket/x"),
            "--athena-output 'bucket/x' is not an S3 location",
        ),
    ],
)
def test_missing_athena_settings_are_a_one_line_error(
    dataset: synth.SynthDataset,
    extra: tuple[str, ...],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(_args(dataset, "--source", "s3://trail-bucket", *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err


def test_a_missing_table_without_consent_names_the_flag(
    dataset: synth.SynthDataset, moto: str, capsys: pytest.CaptureFixture[str]
) -> None:
    setup_client(boto3.client("glue", region_name="us-east-1")).create_database(
        DatabaseInput={"Name": "security"}
    )
    args: Any = _args(
        dataset,
        "--source",
        "s3://trail-bucket",
        "--athena-database",
        "security",
        "--athena-output",
        OUTPUT,
    )
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "security.cloudtrail_logs does not exist" in err and "--athena-create-table" in err
