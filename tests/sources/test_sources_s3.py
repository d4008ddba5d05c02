"""The S3 source against a local moto_server, through boto3 over HTTP (AWS_ENDPOINT_URL)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest
from aws_guard import setup_client
from trail_logs import WINDOW, build_tree, upload, write_file

from rightsizer.cli import main
from rightsizer.errors import ConfigError, SourceError
from rightsizer.ingest import ingest
from rightsizer.sources import open_source
from rightsizer.store import connect
from rightsizer.window import Window

BUCKET = "trail-bucket"


def table(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return sorted(conn.execute(sql).fetchall())


@pytest.mark.parametrize("prefix", ["", "cloudtrail/prod/"])
def test_s3_listing_matches_the_local_tree(moto: str, tmp_path: Path, prefix: str) -> None:
    wanted = build_tree(tmp_path / "tree")
    upload(tmp_path / "tree", BUCKET, prefix)
    listing = open_source(f"s3://{BUCKET}/{prefix}").list_files(WINDOW)
    assert {f.key for f in listing.files} == wanted  # keys relative to the prefix
    # Digest and Insight folders are never listed; AWSLogs/stray.json and README.txt are.
    assert (listing.other_files, listing.unexpected_folders) == (2, [])
    local = open_source(str(tmp_path / "tree")).list_files(WINDOW)
    assert listing.files == local.files


def test_s3_ingest_of_org_trail_with_prefix_equals_local_ingest(moto: str, tmp_path: Path) -> None:
    build_tree(tmp_path / "tree")
    # A broken file among the good ones, to check faults travel the same way.
    write_file(
        tmp_path / "tree",
        "AWSLogs/o-a1b2c3d4e5/444455556666/CloudTrail/ap-southeast-2/2026/10/02/"
        "444455556666_CloudTrail_ap-southeast-2_20261002T1300Z_broken0000000000.json.gz",
        b"\x1f\x8b\x08\x00broken",
    )
    before = upload(tmp_path / "tree", BUCKET, "org/trail/")
    results = {}
    for name, spec in [("s3", f"s3://{BUCKET}/org/trail"), ("local", str(tmp_path / "tree"))]:
        db = tmp_path / f"{name}.duckdb"
        conn = connect(db)
        summary = ingest(conn, open_source(spec), WINDOW, workers=2)
        conn.close()
        results[name] = (summary.events_added, summary.skipped_files)
        results[f"{name}-rows"] = table(db, "SELECT * EXCLUDE (source_file) FROM events")
        results[f"{name}-keys"] = table(db, "SELECT source_file FROM events")
    assert results["s3"] == results["local"]
    assert results["s3"][0] == 5 and len(results["s3"][1]) == 1
    assert results["s3-rows"] == results["local-rows"]
    assert results["s3-keys"] == results["local-keys"]
    # Read-only: the bucket is exactly as it was.
    s3 = boto3.client("s3", region_name="us-east-1")
    after = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert after == before


def test_cli_ingests_from_s3_and_reruns_as_noop(
    moto: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_tree(tmp_path / "tree")
    upload(tmp_path / "tree", BUCKET, "p/")
    args = ["ingest", "--source", f"s3://{BUCKET}/p/", "--db", str(tmp_path / "s.duckdb")]
    args += ["--until", "2026-10-04", "--days", "3"]
    assert main(args) == 0
    assert "5 added" in capsys.readouterr().out
    assert main(args) == 0
    assert "0 read, 5 already ingested" in capsys.readouterr().out


def test_an_archived_log_file_stops_the_run_with_what_to_do(moto: str, tmp_path: Path) -> None:
    # Skipping it would hide calls, and a policy cut to the rest could drop a needed permission.
    build_tree(tmp_path / "tree")
    upload(tmp_path / "tree", BUCKET)
    source = open_source(f"s3://{BUCKET}")
    archived = source.list_files(WINDOW).files[0]
    s3 = setup_client(boto3.client("s3", region_name="us-east-1"))
    body = (tmp_path / "tree" / archived.key).read_bytes()
    s3.put_object(Bucket=BUCKET, Key=archived.key, Body=body, StorageClass="GLACIER")
    with pytest.raises(SourceError) as caught:
        source.read(archived)
    message = str(caught.value)
    assert f"s3://{BUCKET}/{archived.key}" in message
    assert "archived" in message and "restore" in message and "--days" in message


def test_missing_bucket_is_a_source_error(moto: str) -> None:
    with pytest.raises(SourceError, match=r"no such bucket \(NoSuchBucket\)"):
        open_source("s3://no-such-bucket/logs").list_files(WINDOW)


def test_bucket_without_logs_is_a_source_error(moto: str) -> None:
    setup_client(boto3.client("s3", region_name="us-east-1")).create_bucket(Bucket=BUCKET)
    with pytest.raises(SourceError, match="no AWSLogs/ under s3://trail-bucket/wrong/"):
        open_source(f"s3://{BUCKET}/wrong").list_files(WINDOW)


def test_missing_credentials_are_a_source_error(
    moto: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(SourceError, match="no AWS credentials found"):
        open_source(f"s3://{BUCKET}").list_files(WINDOW)
    assert main(["ingest", "--source", f"s3://{BUCKET}", "--db", "unused.duckdb"]) == 2
    assert "no AWS credentials found" in capsys.readouterr().err


def test_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="AWS profile 'nobody' is not configured"):
        open_source("s3://bucket", profile="nobody")


def test_spec_without_bucket_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="names no bucket"):
        open_source("s3:///logs")


def test_deliveries_outside_the_window_are_not_listed(moto: str, tmp_path: Path) -> None:
    build_tree(tmp_path / "tree")
    upload(tmp_path / "tree", BUCKET)
    early = Window(dt.datetime(2026, 9, 29), dt.datetime(2026, 9, 30))
    days = {f.delivered_at for f in open_source(f"s3://{BUCKET}").list_files(early).files}
    # Day folders 29th to 1st: the 23:55 delivery and the one just after midnight.
    assert days == {dt.datetime(2026, 9, 30, 23, 55), dt.datetime(2026, 10, 1, 0, 5)}
