"""Faulty and odd log files mixed into a good tree: the run completes, faults are named,
every good record is stored exactly once; and a property test that decoding never raises."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trail_logs import log_key, make_record, query, run_ingest, write_file, write_log, write_tree

from rightsizer.analyze import analyze
from rightsizer.iam.policy import is_allowed, parse_policy
from rightsizer.iam.snapshot import snapshot_from_pages
from rightsizer.records import FileFault, read_log_file, to_table
from rightsizer.store import connect
from rightsizer.window import Window

WHEN = dt.datetime(2026, 10, 2, 12)


def gz(text: bytes) -> bytes:
    return gzip.compress(text, mtime=0)


def fault_files() -> dict[str, tuple[bytes, str | None]]:
    """name → (file bytes, skip reason or None when the file is good but odd)."""
    big = make_record("big-record", WHEN, requestParameters={"blob": "x" * 50_000_000})
    future = make_record("version-2", WHEN, eventVersion="2.0", somethingNew={"a": [1, 2]})
    unicode_key = "reports/Ünïcødé 2026/a+b%20c?d*e$f.csv"
    odd_key = make_record(
        "odd-key",
        WHEN,
        requestParameters={"bucketName": "b", "key": unicode_key},
        resources=[{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::b/{unicode_key}"}],
    )
    latin1 = b'{"Records": [{"eventID": "bad-utf8", "eventName": "caf\xe9"}]}'
    # a malformed record first sends the file down the record-by-record path
    mixed = b'{"Records": [{"eventID": 5}, {"eventID": "x", "eventName": "caf\xe9"}, '
    mixed += json.dumps(make_record("mixed-ok", WHEN)).encode() + b"]}"
    return {
        "50MB record": (gz(json.dumps({"Records": [big]}).encode()), None),
        "unknown eventVersion": (gz(json.dumps({"Records": [future]}).encode()), None),
        "unicode key": (gz(json.dumps({"Records": [odd_key]}, ensure_ascii=False).encode()), None),
        "non-UTF-8 bytes": (gz(latin1), "invalid JSON"),
        "non-UTF-8 record among others": (gz(mixed), None),
        "gzip of nothing": (gz(b""), "empty file"),
        "not gzip, .json.gz name": (b"PK\x03\x04 a zip file", "not a gzip file"),
    }


@pytest.mark.parametrize("name", list(fault_files()))
def test_each_fault_in_a_good_tree(tmp_path: Path, name: str) -> None:
    root = tmp_path / "logs"
    good_ids = write_tree(root, files=3, per_file=4)
    data, reason = fault_files()[name]
    key = log_key(WHEN, unique="faultyfile000000")
    write_file(root, key, data)
    db = tmp_path / "store.duckdb"
    summary = run_ingest(root, db)
    stored = [r[0] for r in query(db, "SELECT event_id FROM events")]
    assert sorted(set(stored) & set(good_ids)) == sorted(good_ids)
    assert len(stored) == len(set(stored))  # nothing twice
    skipped = dict(summary.skipped_files)
    if reason is None:
        assert key not in skipped and len(stored) == len(good_ids) + 1
    else:
        assert skipped[key].startswith(reason)
        assert query(db, "SELECT reason FROM skipped_files WHERE source_key = ?", [key])
    assert run_ingest(root, db).events_added == 0  # a second run never double-counts


def test_unicode_keys_flow_into_a_policy_that_allows_exactly_them(tmp_path: Path) -> None:
    key = "reports/Ünïcødé 2026/a+b%20c?d*e$f.csv"
    arn = f"arn:aws:s3:::b/{key}"
    role_arn = "arn:aws:iam::111122223333:role/fn-role"
    record = make_record(
        "odd-key", WHEN, eventSource="s3.amazonaws.com", eventName="GetObject",
        eventCategory="Data", readOnly=True, requestParameters={"bucketName": "b", "key": key},
        resources=[{"type": "AWS::S3::Object", "ARN": arn}],
        userAgent="aws-sdk exec-env/AWS_Lambda_python3.12",
        userIdentity={
            "type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/fn-role/fn",
            "accountId": "111122223333",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn}},
        },
    )  # fmt: skip
    # Another principal's write: writes are logged too, so the copy-source reads a copy (a
    # write event) would show are covered.
    write = make_record(
        "other-write", WHEN, eventSource="s3.amazonaws.com", eventName="PutObject",
        eventCategory="Data", readOnly=False, requestParameters={"bucketName": "c", "key": "k"},
        resources=[{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::c/k"}],
    )  # fmt: skip
    root = tmp_path / "logs"
    write_log(root, log_key(WHEN), [record, write])
    db = tmp_path / "store.duckdb"
    run_ingest(root, db)
    snapshot = snapshot_from_pages([{"RoleDetailList": [{
        "Arn": role_arn, "RoleName": "fn-role", "Path": "/",
        "RolePolicyList": [{"PolicyName": "all", "PolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}}],
    }]}])  # fmt: skip
    conn = connect(db, read_only=True)
    # The one day with events: a day without any would keep today's grants as unknown.
    window = Window(dt.datetime(2026, 10, 2), dt.datetime(2026, 10, 3))
    for granularity in ("object", "prefix"):
        (role,) = analyze(conn, window, snapshot, granularity=granularity).data["roles"]
        policy = parse_policy(role["recommended_policy"])
        assert is_allowed(policy, "s3:GetObject", arn), granularity
        assert not is_allowed(policy, "s3:GetObject", "arn:aws:s3:::b/other/x.csv")
    conn.close()


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = ["eventID", "eventTime", "eventSource", "eventName", "awsRegion", "userIdentity",
          "requestParameters", "resources", "readOnly", "eventCategory", "errorCode",
          "recipientAccountId", "userAgent", "eventType", "eventVersion"]  # fmt: skip
record_like = st.dictionaries(st.sampled_from(FIELDS), json_value, max_size=len(FIELDS))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(record_like | json_value, max_size=6))
def test_decoding_never_raises_on_records_of_any_shape(records: list[Any]) -> None:
    data = gz(json.dumps({"Records": records}).encode())
    try:
        decoded = read_log_file(data)
    except FileFault:
        return  # a whole-file fault is reported, not raised past ingest
    table = to_table(decoded.records, "f")
    assert table.num_rows == len(decoded.records)
    assert len(decoded.records) + decoded.bad_records + decoded.insight_records <= len(records)
