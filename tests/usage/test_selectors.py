"""Trail event selectors: parsed from get-event-selectors JSON or live, answering conservatively."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_guard import setup_client

from rightsizer.errors import ConfigError, SourceError
from rightsizer.selectors import (
    fetch_event_selectors,
    load_event_selectors,
    parse_event_selectors,
)

TRAIL = "arn:aws:cloudtrail:us-east-1:111122223333:trail/main"


def _basic(read_write: str, *values: str) -> dict[str, Any]:
    return {
        "TrailARN": TRAIL,
        "EventSelectors": [
            {
                "ReadWriteType": read_write,
                "IncludeManagementEvents": True,
                "DataResources": [
                    {"Type": "AWS::S3::Object", "Values": list(values)},
                    {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]},
                ],
                "ExcludeManagementEventSources": [],
            }
        ],
    }


def _advanced(*field_selectors: dict[str, Any]) -> dict[str, Any]:
    data = [
        {"Field": "eventCategory", "Equals": ["Data"]},
        {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
    ]
    return {
        "TrailARN": TRAIL,
        "AdvancedEventSelectors": [
            {
                "Name": "management",
                "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
            },
            {"Name": "s3 data", "FieldSelectors": data + list(field_selectors)},
        ],
    }


@pytest.mark.parametrize(
    ("value", "covered", "not_covered"),
    [
        ("arn:aws:s3", [("any", ""), ("photos", "in/a.jpg")], []),
        ("arn:aws:s3:::", [("photos", "in/")], []),
        ("arn:aws:s3:::photos/", [("photos", ""), ("photos", "in/")], [("photos-2", "")]),
        ("arn:aws:s3:::photos", [("photos", "in/")], [("photos-2", "in/")]),
        (
            "arn:aws:s3:::photos/in/",
            [("photos", "in/"), ("photos", "in/2026/")],
            [("photos", ""), ("photos", "out/"), ("photos", "in")],
        ),
    ],
)
def test_basic_selectors_cover_their_bucket_and_prefix(
    value: str, covered: list[tuple[str, str]], not_covered: list[tuple[str, str]]
) -> None:
    selectors = parse_event_selectors(_basic("All", value))
    for bucket, prefix in covered:
        assert selectors.covers(bucket, prefix, "read"), (bucket, prefix)
        assert selectors.covers(bucket, prefix, "write"), (bucket, prefix)
    for bucket, prefix in not_covered:
        assert not selectors.covers(bucket, prefix, "read"), (bucket, prefix)


def test_read_write_type_limits_what_is_logged() -> None:
    read_only = parse_event_selectors(_basic("ReadOnly", "arn:aws:s3"))
    write_only = parse_event_selectors(_basic("WriteOnly", "arn:aws:s3"))
    assert read_only.covers("b", "", "read") and not read_only.covers("b", "", "write")
    assert write_only.covers("b", "", "write") and not write_only.covers("b", "", "read")


def test_selectors_without_s3_data_resources_cover_nothing() -> None:
    management_only = {
        "TrailARN": TRAIL,
        "EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}],
    }
    assert not parse_event_selectors(management_only).covers("b", "", "read")


def test_advanced_selectors_for_all_s3_data_cover_everything() -> None:
    selectors = parse_event_selectors(_advanced())
    assert selectors.covers("photos", "in/", "read")
    assert selectors.covers("photos", "in/", "write")


@pytest.mark.parametrize(
    ("field", "read", "write"),
    [
        ({"Field": "readOnly", "Equals": ["true"]}, True, False),
        ({"Field": "readOnly", "Equals": ["false"]}, False, True),
        ({"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::photos/"]}, True, True),
        ({"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::photos/out/"]}, False, False),
        (
            {"Field": "resources.ARN", "NotStartsWith": ["arn:aws:s3:::photos/in/tmp/"]},
            False,
            False,
        ),
        ({"Field": "resources.ARN", "NotStartsWith": ["arn:aws:s3:::logs/"]}, True, True),
        ({"Field": "resources.ARN", "Equals": ["arn:aws:s3:::photos/in/a.jpg"]}, False, False),
        ({"Field": "resources.ARN", "NotEndsWith": [".tmp"]}, False, False),
        ({"Field": "eventName", "Equals": ["GetObject"]}, False, False),
        (
            {"Field": "userIdentity.arn", "StartsWith": ["arn:aws:sts::1:assumed-role/x"]},
            False,
            False,
        ),
    ],
)
def test_advanced_field_selectors_are_read_conservatively(
    field: dict[str, Any], read: bool, write: bool
) -> None:
    selectors = parse_event_selectors(_advanced(field))
    assert selectors.covers("photos", "in/", "read") is read
    assert selectors.covers("photos", "in/", "write") is write


@pytest.mark.parametrize(
    ("field", "bucket", "prefix"),
    [
        ({"NotStartsWith": ["arn:aws:s3:::data-secret/"]}, "*", ""),
        ({"NotStartsWith": ["arn:aws:s3:::data-secret/"]}, "data-*", ""),
        ({"NotStartsWith": ["arn:aws:s3:::data-secret/"]}, "data-?ecret", ""),
        ({"NotStartsWith": ["arn:aws:s3:::data-secret/in/"]}, "data-*", "in/"),
        ({"NotStartsWith": ["arn:aws:s3:::data-secret/"]}, "${aws:PrincipalTag/b}", ""),
        ({"NotEquals": ["arn:aws:s3:::data-secret/key.txt"]}, "data-*", ""),
        ({"StartsWith": ["arn:aws:s3:::data-a/"]}, "data-*", ""),
        ({"StartsWith": ["arn:aws:s3:::data-*"]}, "data-*", ""),
    ],
)
def test_a_bucket_pattern_is_covered_only_if_every_bucket_it_matches_is(
    field: dict[str, Any], bucket: str, prefix: str
) -> None:
    # A grant on `data-*` reaches data-secret too: an exclusion of it is a hole of the grant.
    selectors = parse_event_selectors(_advanced({"Field": "resources.ARN", **field}))
    assert not selectors.covers(bucket, prefix, "read")
    assert not parse_event_selectors(_basic("All", "arn:aws:s3:::data-a/")).covers(
        bucket, prefix, "read"
    )


@pytest.mark.parametrize(
    ("field", "bucket"),
    [
        ({"NotStartsWith": ["arn:aws:s3:::logs/"]}, "data-*"),
        ({"NotEquals": ["arn:aws:s3:::logs/key.txt"]}, "data-?ecret"),
        ({"StartsWith": ["arn:aws:s3:::data-"]}, "data-*"),
        ({"StartsWith": ["arn:aws:s3:::"]}, "*"),
    ],
)
def test_a_bucket_pattern_is_covered_when_no_condition_reaches_it(
    field: dict[str, Any], bucket: str
) -> None:
    selectors = parse_event_selectors(_advanced({"Field": "resources.ARN", **field}))
    assert selectors.covers(bucket, "", "read") and selectors.covers(bucket, "in/", "write")


def _management(*field_selectors: dict[str, Any]) -> dict[str, Any]:
    return {
        "TrailARN": TRAIL,
        "AdvancedEventSelectors": [
            {
                "Name": "management",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Management"]},
                    *field_selectors,
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    ("document", "read", "write"),
    [
        (_basic("All", "arn:aws:s3"), True, True),
        (_basic("ReadOnly", "arn:aws:s3"), True, False),
        (_basic("WriteOnly", "arn:aws:s3"), False, True),
        (
            {"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": False}]},
            False,
            False,
        ),
        ({"EventSelectors": [{"ReadWriteType": "All"}]}, True, True),  # AWS's default: true
        (
            {
                "EventSelectors": [
                    {"ReadWriteType": "All", "ExcludeManagementEventSources": ["s3.amazonaws.com"]}
                ]
            },
            False,
            False,
        ),
        (_management(), True, True),
        (_management({"Field": "readOnly", "Equals": ["false"]}), False, True),
        (_management({"Field": "readOnly", "Equals": ["true"]}), True, False),
        (_management({"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]}), True, True),
        (_management({"Field": "eventSource", "NotEquals": ["s3.amazonaws.com"]}), False, False),
        (_management({"Field": "eventName", "Equals": ["GetBucketLocation"]}), False, False),
        (_advanced(), True, True),
        (
            {"AdvancedEventSelectors": _advanced()["AdvancedEventSelectors"][1:]},  # data only
            False,
            False,
        ),
    ],
)
def test_management_events_are_logged_only_where_the_selectors_keep_them(
    document: dict[str, Any], read: bool, write: bool
) -> None:
    selectors = parse_event_selectors(document)
    assert selectors.logs_management("read") is read
    assert selectors.logs_management("write") is write


def test_an_event_name_filter_covers_the_names_it_keeps() -> None:
    selectors = parse_event_selectors(
        _advanced({"Field": "eventName", "Equals": ["GetObject", "PutObject"]})
    )
    assert selectors.covers("photos", "in/", "read", event_name="GetObject")
    assert not selectors.covers("photos", "in/", "read", event_name="HeadObject")


def test_several_trails_cover_what_any_of_them_logs() -> None:
    selectors = parse_event_selectors(
        [_basic("ReadOnly", "arn:aws:s3:::photos/"), _basic("WriteOnly", "arn:aws:s3:::logs/")]
    )
    assert selectors.covers("photos", "a", "read") and selectors.covers("logs", "a", "write")
    assert not selectors.covers("photos", "a", "write")


def test_a_selectors_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "selectors.json"
    path.write_text(json.dumps(_basic("All", "arn:aws:s3:::photos/")))
    selectors = load_event_selectors(path)
    assert selectors.trails[0].trail_arn == TRAIL
    assert selectors.covers("photos", "", "write")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{not json", "is not JSON"),
        ('"text"', "must hold a JSON object or list"),
        ('{"TrailARN": "x"}', "neither EventSelectors nor AdvancedEventSelectors"),
        ('{"EventSelectors": [{"ReadWriteType": "Sometimes"}]}', "ReadWriteType 'Sometimes'"),
        ('{"AdvancedEventSelectors": [{"Name": "x"}]}', "needs FieldSelectors"),
        (
            '{"AdvancedEventSelectors": [{"FieldSelectors": '
            '[{"Field": "readOnly", "Equals": "true"}]}]}',
            "readOnly Equals must be a list of strings",
        ),
    ],
)
def test_a_bad_selectors_file_is_named(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "selectors.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message) as raised:
        load_event_selectors(path)
    assert str(path) in str(raised.value)


def _trail(setup: Any, name: str, bucket: str) -> None:
    setup_client(boto3.client("s3", region_name="us-east-1")).create_bucket(Bucket=bucket)
    setup.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=True)


def test_selectors_are_fetched_live_from_cloudtrail(moto: str) -> None:
    setup = setup_client(boto3.client("cloudtrail", region_name="us-east-1"))
    _trail(setup, "main", "trail-logs-main")
    _trail(setup, "audit", "trail-logs-audit")
    setup.put_event_selectors(
        TrailName="main",
        EventSelectors=[
            {
                "ReadWriteType": "ReadOnly",
                "IncludeManagementEvents": True,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::photos/"]}],
            }
        ],
    )
    setup.put_event_selectors(
        TrailName="audit",
        AdvancedEventSelectors=[
            {
                "Name": "writes",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                    {"Field": "readOnly", "Equals": ["false"]},
                ],
            }
        ],
    )
    client = boto3.client("cloudtrail", region_name="us-east-1")
    one = fetch_event_selectors(client, ["main"])
    assert one.covers("photos", "x/", "read") and not one.covers("photos", "x/", "write")
    every = fetch_event_selectors(client)
    assert len(every.trails) == 2
    assert every.covers("photos", "x/", "write") and every.covers("other", "", "write")
    assert not every.covers("other", "", "read")


def test_a_missing_trail_is_a_source_error(moto: str) -> None:
    client = boto3.client("cloudtrail", region_name="us-east-1")
    with pytest.raises(SourceError, match="GetEventSelectors"):
        fetch_event_selectors(client, ["no-such-trail"])
