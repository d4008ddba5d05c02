"""Coverage: "unused" vs "unknown" — inferred per account and region, or exact from selectors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from usage_events import ACCOUNT, ROLE, WINDOW, object_resources, s3_event, usage_of

from rightsizer.coverage import Coverage, Hole, ObservedRegion
from rightsizer.ingest import load_records
from rightsizer.selectors import parse_event_selectors
from rightsizer.store import connect
from rightsizer.usage import compute_usage

ALICE = {
    "type": "IAMUser",
    "principalId": "AIDAEXAMPLE",
    "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
    "accountId": ACCOUNT,
    "userName": "alice",
}


def _get(region: str, **kwargs: Any) -> dict[str, Any]:
    return s3_event(
        "GetObject",
        {"bucketName": "photos", "key": "a.jpg"},
        resources=object_resources("photos", "a.jpg"),
        region=region,
        **kwargs,
    )


def test_coverage_is_inferred_per_account_and_region_from_the_window(tmp_path: Path) -> None:
    records = [
        _get("eu-west-1"),  # a read data event by the Lambda role
        # A write data event by someone else still shows that writes are logged there.
        s3_event(
            "PutObject",
            {"bucketName": "uploads", "key": "x"},
            identity=ALICE,
            region="us-east-1",
            read_only=False,
        ),
        # Management events say nothing about data-event logging.
        s3_event(
            "GetBucketLocation",
            {"bucketName": "photos", "location": ""},
            region="ap-south-1",
            category="Management",
        ),
    ]
    coverage = usage_of(tmp_path, records, lambda_roles={ROLE: []}).coverage
    assert coverage.source == "inferred"
    assert coverage.observed == (
        ObservedRegion(ACCOUNT, "eu-west-1", 1, 0),
        ObservedRegion(ACCOUNT, "us-east-1", 0, 1),
    )
    # Any bucket in a region with read data events counts as covered for reads.
    assert coverage.check(ACCOUNT, "eu-west-1", "quiet-bucket", "", "read").status == "covered"
    assert coverage.check(ACCOUNT, "eu-west-1", "photos", "", "write").status == "unknown"
    assert coverage.check(ACCOUNT, "eu-west-1", "photos", "", "write").reason == (
        f"no S3 write data events for {ACCOUNT} in eu-west-1 in the window: add a data-event "
        "selector for AWS::S3::Object with ReadWriteType WriteOnly or All"
    )
    assert coverage.check(ACCOUNT, "us-east-1", "uploads", "in/", "write").status == "covered"
    assert coverage.check(ACCOUNT, "us-east-1", "uploads", "in/", "write").reason == ""
    assert coverage.check(ACCOUNT, "ap-south-1", "photos", "", "read").reason == (
        f"no S3 read data events for {ACCOUNT} in ap-south-1 in the window: add a data-event "
        "selector for AWS::S3::Object with ReadWriteType ReadOnly or All"
    )
    assert coverage.check("444455556666", "eu-west-1", "photos", "", "read").status == "unknown"


def test_records_older_than_event_category_count_by_management_event(tmp_path: Path) -> None:
    old = _get("eu-west-1")
    del old["eventCategory"]
    old["eventVersion"] = "1.05"
    coverage = usage_of(tmp_path, [old], lambda_roles={ROLE: []}).coverage
    assert coverage.check(ACCOUNT, "eu-west-1", "photos", "", "read").status == "covered"


def test_known_selectors_make_coverage_exact_per_bucket_and_prefix() -> None:
    selectors = parse_event_selectors(
        {
            "EventSelectors": [
                {
                    "ReadWriteType": "All",
                    "DataResources": [
                        {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::photos/in/"]}
                    ],
                }
            ]
        }
    )
    # Observed events do not matter once the selectors are known.
    coverage = Coverage(observed=(ObservedRegion(ACCOUNT, "eu-west-1", 9, 9),), selectors=selectors)
    assert coverage.source == "selectors"
    assert coverage.check(ACCOUNT, "eu-west-1", "photos", "in/2026/", "write").status == "covered"
    assert coverage.check(ACCOUNT, "eu-west-1", "photos", "out/", "read").status == "unknown"
    verdict = coverage.check(ACCOUNT, "eu-west-1", "photos", "out/", "read")
    assert verdict.reason == (
        "the trail's event selectors do not log every S3 read data event under photos/out/: "
        "the selector fix (aws cloudtrail put-event-selectors, given once per trail) adds them"
    )
    assert verdict.hole == Hole("photos", "out/", "read")


def test_selectors_cover_only_where_the_store_holds_some_s3_data_event() -> None:
    # The selectors say what a trail logs, not that its logs were read: a region (or account)
    # without a single S3 data event in the store is unknown, whatever the selectors say.
    selectors = parse_event_selectors(
        {
            "EventSelectors": [
                {
                    "ReadWriteType": "All",
                    "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}],
                }
            ]
        }
    )
    coverage = Coverage(observed=(ObservedRegion(ACCOUNT, "eu-west-1", 1, 0),), selectors=selectors)
    assert coverage.check(ACCOUNT, "eu-west-1", "photos", "in/", "write").status == "covered"
    for account, region in [(ACCOUNT, "us-west-2"), ("444455556666", "eu-west-1")]:
        verdict = coverage.check(account, region, "photos", "in/", "read")
        assert verdict.status == "unknown" and verdict.hole is None
        assert verdict.reason == (
            "the trail's event selectors log S3 data events, but the store holds none of "
            f"account {account} in {region} in the window: ingest the logs of the trail that "
            "logs them (or pass the selectors of the trails whose logs were read)"
        )


def test_compute_usage_uses_the_selectors_it_is_given(tmp_path: Path) -> None:
    selectors = parse_event_selectors(
        {"EventSelectors": [{"ReadWriteType": "WriteOnly", "DataResources": []}]}
    )
    conn = connect(tmp_path / "t.duckdb")
    load_records(conn, [_get("eu-west-1")])
    coverage = compute_usage(conn, WINDOW, selectors=selectors).coverage
    assert coverage.selectors is selectors
    assert coverage.check(ACCOUNT, "eu-west-1", "photos", "", "read").status == "unknown"
