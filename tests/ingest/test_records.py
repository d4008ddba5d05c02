"""Decoding and normalizing CloudTrail records: leniency per record, faults per file."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from rightsizer.ingest import load_records
from rightsizer.records import FileFault, parse_event_time, read_log_file, to_table
from rightsizer.store import connect

LAMBDA_RECORD: dict[str, Any] = {
    "eventVersion": "1.09",
    "eventID": "0b5f4c3e-1111-2222-3333-444455556666",
    "eventTime": "2026-10-01T12:00:00Z",
    "eventSource": "s3.amazonaws.com",
    "eventName": "GetObject",
    "eventType": "AwsApiCall",
    "eventCategory": "Data",
    "managementEvent": False,
    "readOnly": True,
    "awsRegion": "eu-west-1",
    "recipientAccountId": "111122223333",
    "sourceIPAddress": "10.0.0.1",
    "userAgent": "Boto3/1.34 exec-env/AWS_Lambda_python3.12",
    "userIdentity": {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLE:resize-images",
        "arn": "arn:aws:sts::111122223333:assumed-role/resize-role/resize-images",
        "accountId": "111122223333",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "arn": "arn:aws:iam::111122223333:role/service-role/resize-role",
            }
        },
    },
    "requestParameters": {"bucketName": "photos", "key": "in/a.jpg", "Host": "photos.s3"},
    "resources": [
        {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::photos/in/a.jpg"},
        {"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::photos", "accountId": "111122223333"},
    ],
}


def record(**changes: Any) -> dict[str, Any]:
    """The Lambda record with some fields replaced (None removes a field)."""
    result = json.loads(json.dumps(LAMBDA_RECORD))
    for name, value in changes.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def gz(document: Any) -> bytes:
    # mtime=0: the same bytes every time, so parametrized test ids agree across workers
    return gzip.compress(json.dumps(document).encode(), mtime=0)


@pytest.fixture
def db(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    return connect(tmp_path / "store.duckdb")


def rows(conn: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return conn.execute(sql).fetchall()


def test_lambda_record_is_normalized_to_event_columns(db: duckdb.DuckDBPyConnection) -> None:
    assert load_records(db, [LAMBDA_RECORD], source_key="k.json.gz") == 1
    (row,) = rows(
        db,
        "SELECT event_id, event_time, event_name, read_only, management_event, principal_type,"
        " role_arn, session_name, principal_account, request_parameters->>'key',"
        " resources[2].account_id, resources[1].arn, source_file FROM events",
    )
    assert row == (
        LAMBDA_RECORD["eventID"],
        dt.datetime(2026, 10, 1, 12, 0, 0),
        "GetObject",
        True,
        False,
        "AssumedRole",
        "arn:aws:iam::111122223333:role/service-role/resize-role",
        "resize-images",
        "111122223333",
        "in/a.jpg",
        "111122223333",
        "arn:aws:s3:::photos/in/a.jpg",
        "k.json.gz",
    )


def test_request_parameters_are_stored_as_the_original_json() -> None:
    text = b'{"Records": [{"eventID": "e1", "requestParameters": {"key": "a\\u00e9", "n": 1.50}}]}'
    table = to_table(read_log_file(gzip.compress(text)).records, "f")
    assert table.column("request_parameters").to_pylist() == ['{"key": "a\\u00e9", "n": 1.50}']


def test_same_event_id_is_stored_once(db: duckdb.DuckDBPyConnection) -> None:
    assert load_records(db, [LAMBDA_RECORD, LAMBDA_RECORD]) == 1
    assert load_records(db, [LAMBDA_RECORD]) == 0
    assert rows(db, "SELECT count(*) FROM events") == [(1,)]


def test_string_booleans_and_session_from_principal_id(db: duckdb.DuckDBPyConnection) -> None:
    cross_account = record(
        readOnly="false",
        managementEvent="true",
        userIdentity={"type": "AWSAccount", "principalId": "AROAX:worker", "accountId": "4"},
    )
    load_records(db, [cross_account])
    assert rows(db, "SELECT read_only, management_event, session_name, role_arn FROM events") == [
        (False, True, "worker", None)
    ]


def test_role_arn_only_from_a_role_issuer(db: duckdb.DuckDBPyConnection) -> None:
    federated = record(
        userIdentity={
            "type": "FederatedUser",
            "arn": "arn:aws:sts::1:federated-user/bob",
            "sessionContext": {
                "sessionIssuer": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/b"}
            },
        }
    )
    load_records(db, [federated])
    assert rows(db, "SELECT principal_type, role_arn, session_name FROM events") == [
        ("FederatedUser", None, None)
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-01T12:00:00Z", dt.datetime(2026, 10, 1, 12)),
        ("2022-11-21 18:06:52", dt.datetime(2022, 11, 21, 18, 6, 52)),
        ("2022-11-21 18:06:52.000000000", dt.datetime(2022, 11, 21, 18, 6, 52)),
        ("2026-10-01T12:00:00.123Z", dt.datetime(2026, 10, 1, 12, 0, 0, 123000)),
        ("2026-10-01T14:00:00+02:00", dt.datetime(2026, 10, 1, 12)),
        ("ThisIsAWrongEventTime", None),
        ("2026-13-01T12:00:00Z", None),
        ("", None),
    ],
)
def test_event_time_is_parsed_leniently(text: str, expected: dt.datetime | None) -> None:
    assert parse_event_time(text) == expected


def test_odd_event_times_are_stored_and_one_that_does_not_parse_is_a_bad_record(
    db: duckdb.DuckDBPyConnection,
) -> None:
    added = load_records(
        db,
        [
            record(eventID="a", eventTime="2022-11-21 18:06:52"),
            record(eventID="b", eventTime="eventTime"),
            record(eventID="c"),
            record(eventID="d", eventTime=None),
            record(eventID="e", eventTime=1234),
        ],
    )
    assert added == 2
    assert rows(db, "SELECT event_id, event_time FROM events ORDER BY event_id") == [
        ("a", dt.datetime(2022, 11, 21, 18, 6, 52)),
        ("c", dt.datetime(2026, 10, 1, 12)),
    ]


def test_wrong_typed_fields_become_null_and_cost_nothing_else() -> None:
    document = {
        "Records": [
            record(eventID="typed-ok"),
            record(eventID="bad-name", eventName=17, userIdentity="...", resources=[1, {"ARN": 2}]),
            record(eventID="bad-time", eventTime=1234),
            "not a record",
            record(eventID=None),
            record(eventID=42),
            record(eventID="insight", eventType="AwsCloudTrailInsight"),
        ]
    }
    decoded = read_log_file(gz(document))
    assert [r.eventID for r in decoded.records] == ["typed-ok", "bad-name", "bad-time"]
    assert (decoded.bad_records, decoded.insight_records) == (3, 1)
    table = to_table(decoded.records, "f").to_pylist()
    assert table[1]["event_name"] is None
    assert table[1]["principal_type"] is None
    assert table[1]["resources"] == [
        {"arn": None, "arn_prefix": None, "account_id": None, "type": None}
    ]
    assert table[1]["request_parameters"] is not None
    assert table[2]["event_time"] is None


def test_a_record_with_a_string_not_in_utf8_costs_only_itself() -> None:
    # A wrong-typed record first sends the file down the record-by-record path.
    text = b'{"Records": [{"eventID": 5}, {"eventID": "latin1", "eventName": "caf\xe9"}, '
    text += json.dumps(record(eventID="kept")).encode() + b"]}"
    decoded = read_log_file(gzip.compress(text, mtime=0))
    assert [r.eventID for r in decoded.records] == ["kept"]
    assert decoded.bad_records == 2


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (gzip.compress(b"", mtime=0), "empty file"),
        (b'{"Records": []}', "not a gzip file"),
        (gz({"Records": [LAMBDA_RECORD]})[:-30], "truncated or corrupt gzip"),
        (gzip.compress(b'{"Records": [{"eventID": "x"', mtime=0), "invalid JSON"),
        (gz([LAMBDA_RECORD]), "top level is not a JSON object"),
        (gz({"Records": {"eventID": "x"}}), "Records is not a list"),
        (gz({"records": []}), "no Records list at the top level"),
        (
            gzip.compress(b"\xef\xbb\xbf" + json.dumps({"Records": []}).encode(), mtime=0),
            "invalid JSON (starts with a UTF-8 byte order mark",
        ),
        (
            gzip.compress(json.dumps({"Records": []}).encode("utf-16"), mtime=0),
            "invalid JSON (starts with a UTF-16",
        ),
    ],
)
def test_file_faults_name_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(FileFault) as caught:
        read_log_file(data)
    assert caught.value.reason.startswith(reason)


def test_empty_records_list_is_a_good_file() -> None:
    assert read_log_file(gz({"Records": []})).records == []


def test_lower_case_resource_keys_of_published_samples_are_read() -> None:
    record = {**LAMBDA_RECORD, "resources": [{"arn": "arn:aws:s3:::b/k", "accountid": "1"}]}
    (resource,) = to_table(read_log_file(gz({"Records": [record]})).records, "f")[
        "resources"
    ].to_pylist()[0]
    assert (resource["arn"], resource["account_id"]) == ("arn:aws:s3:::b/k", "1")
