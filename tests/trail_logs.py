"""Small CloudTrail trees for tests: records, log keys, files, trees on disk and in S3, ingest.

Shared by the ingest, source, listing, fault and permission tests; not a test module itself.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import boto3
import duckdb
from aws_guard import setup_client

from rightsizer.ingest import IngestSummary, ingest
from rightsizer.sources import open_source
from rightsizer.store import connect
from rightsizer.window import Window

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
ORG = "o-a1b2c3d4e5"
WINDOW = Window(dt.datetime(2026, 10, 1), dt.datetime(2026, 10, 4))


def make_record(event_id: str, when: dt.datetime, **fields: Any) -> dict[str, Any]:
    """A Lambda-role S3 data event."""
    record: dict[str, Any] = {
        "eventVersion": "1.10",
        "eventID": event_id,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "eventType": "AwsApiCall",
        "eventCategory": "Data",
        "readOnly": True,
        "awsRegion": "us-east-1",
        "recipientAccountId": ACCOUNT,
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLE:resize",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/resize-role/resize",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{ACCOUNT}:role/resize-role"}
            },
        },
        "requestParameters": {"bucketName": "photos", "key": f"in/{event_id}.jpg"},
        "resources": [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::photos/in/{event_id}"}],
    }
    record.update(fields)
    return record


def log_key(
    delivered: dt.datetime,
    *,
    account: str = ACCOUNT,
    region: str = "us-east-1",
    unique: str = "AbCdEf0123456789",
    org: str | None = None,
) -> str:
    """The key CloudTrail gives a log file, relative to the trail's prefix."""
    org_part = f"{org}/" if org else ""
    return (
        f"AWSLogs/{org_part}{account}/CloudTrail/{region}/{delivered:%Y/%m/%d}/"
        f"{account}_CloudTrail_{region}_{delivered:%Y%m%dT%H%MZ}_{unique}.json.gz"
    )


def write_file(root: Path, key: str, data: bytes) -> Path:
    """Write `data` at `root/key`, making the folders."""
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def write_log(root: Path, key: str, records: list[Any]) -> Path:
    """Write a gzipped CloudTrail log file holding `records`."""
    return write_file(root, key, gzip.compress(json.dumps({"Records": records}).encode()))


def write_tree(root: Path, files: int = 6, per_file: int = 20, seed: str = "e") -> list[str]:
    """`files` log files over two regions and three days; returns every eventID written."""
    ids: list[str] = []
    for index in range(files):
        region = ("us-east-1", "eu-west-1")[index % 2]
        delivered = dt.datetime(2026, 10, 1 + index % 3, 10, index)
        records = []
        for n in range(per_file):
            event_id = f"{seed}-{index}-{n}"
            ids.append(event_id)
            records.append(make_record(event_id, delivered - dt.timedelta(minutes=3)))
        write_log(root, log_key(delivered, region=region, unique=f"u{index:015d}"), records)
    return ids


def build_tree(root: Path) -> set[str]:
    """An account trail and an organization trail with noise around; returns in-window keys."""
    wanted = set()
    for delivered, account, region, org in [
        (dt.datetime(2026, 10, 1, 0, 5), ACCOUNT, "us-east-1", None),
        (dt.datetime(2026, 10, 3, 23, 55), ACCOUNT, "eu-west-1", None),
        # Records of the window's last hours arrive the next day.
        (dt.datetime(2026, 10, 4, 0, 10), ACCOUNT, "us-east-1", None),
        (dt.datetime(2026, 10, 2, 12, 0), OTHER_ACCOUNT, "ap-southeast-2", ORG),
        (dt.datetime(2026, 10, 5, 0, 10), ACCOUNT, "us-east-1", ORG),
    ]:
        key = log_key(delivered, account=account, region=region, org=org)
        write_log(root, key, [make_record(f"{account}-{delivered:%d%H%M}", delivered)])
        wanted.add(key)
    # Outside the delivery days: before the window, and two days after its end.
    for delivered in (dt.datetime(2026, 9, 30, 23, 55), dt.datetime(2026, 10, 6, 0, 5)):
        write_log(root, log_key(delivered), [make_record("outside", delivered)])
    day = "2026/10/02"
    for kind, name in [
        ("CloudTrail-Digest", "x_CloudTrail-Digest_us-east-1_t_us-east-1_20261002T010000Z.json.gz"),
        ("CloudTrail-Digest", "x_CloudTrail-Digest_us-east-1_t_us-east-1_20261002T020000Z.json.gz"),
        ("CloudTrail-Insight", "x_CloudTrail-Insight_us-east-1_20261002T0100Z_abc.json.gz"),
    ]:
        write_file(root, f"AWSLogs/{ACCOUNT}/{kind}/us-east-1/{day}/{name}", b"{}")
    write_file(root, f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{day}/README.txt", b"hi")
    write_file(root, "AWSLogs/stray.json", b"{}")
    write_file(root, f"AWSLogs/{ACCOUNT}/Config/us-east-1/{day}/config.json.gz", b"{}")
    return wanted


def upload(tree: Path, bucket: str, prefix: str = "") -> dict[str, str]:
    """Copy a local tree into a new bucket under `prefix`; returns key -> ETag."""
    s3 = setup_client(boto3.client("s3", region_name="us-east-1"))
    s3.create_bucket(Bucket=bucket)
    for path in sorted(p for p in tree.rglob("*") if p.is_file()):
        key = prefix + path.relative_to(tree).as_posix()
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    return {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}


def run_ingest(root: Path, db: Path, *, strict: bool = False) -> IngestSummary:
    """Ingest the tree at `root` for `WINDOW` into the store at `db`."""
    conn = connect(db)
    try:
        return ingest(conn, open_source(str(root)), WINDOW, workers=2, strict=strict)
    finally:
        conn.close()


def query(db: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Run `sql` on the store at `db`, read-only."""
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()
