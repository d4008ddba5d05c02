"""A trail where every call touches a new object: the store that makes analysis cost grow.

One Lambda function (`bench-writer`, role `bench-writer-role`) writes a new object per call to
`s3://bench-pipeline/incoming/YYYY/MM/DD/<uuid>.json`; a second (`bench-reader`, role
`bench-reader-role`) reads each of them back a minute later. `records` records are about
`records` distinct role × action × object permissions. Written next to it: the IAM snapshot
(`aws iam get-account-authorization-details` shape), the function list and the trail's event
selectors, so `analyze` sees two Lambda roles whose policies grant the whole folder.

Used by `bench/analyze.py --distinct-keys`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

ACCOUNT = "111122223333"
REGION = "us-east-1"
BUCKET = "bench-pipeline"
UNTIL = dt.datetime(2026, 11, 1)
DAYS = 30
RECORDS_PER_FILE = 500
_AGENT = (
    "[Boto3/1.34.145 md/Botocore#1.34.145 ua/2.0 os/linux md/arch#x86_64 lang/python#3.12.4 "
    "md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy]"
)
_DONE = "dataset.json"


@dataclass(frozen=True)
class DistinctKeys:
    """Where the trail and its snapshot files are."""

    root: Path
    records: int

    @property
    def source_dir(self) -> Path:
        return self.root / "logs"

    @property
    def iam_details(self) -> Path:
        return self.root / "iam.json"

    @property
    def lambda_functions(self) -> Path:
        return self.root / "functions.json"

    @property
    def event_selectors(self) -> Path:
        return self.root / "selectors.json"


def _role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}-role"


def _identity(name: str) -> dict[str, Any]:
    role_id = f"AROA{uuid.uuid5(uuid.NAMESPACE_DNS, name).hex[:17].upper()}"
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{name}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}-role/{name}",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIA" + role_id[4:20],
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": _role_arn(name),
                "accountId": ACCOUNT,
                "userName": f"{name}-role",
            },
            "attributes": {"creationDate": "2026-10-01T00:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def _record(
    rng: random.Random, identity: dict[str, Any], t: dt.datetime, name: str, key: str
) -> dict[str, Any]:
    return {
        "eventVersion": "1.10",
        "userIdentity": identity,
        "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "s3.amazonaws.com",
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": "3.80.1.2",
        "userAgent": _AGENT,
        "requestParameters": {
            "bucketName": BUCKET,
            "Host": f"{BUCKET}.s3.amazonaws.com",
            "key": key,
        },
        "responseElements": None,
        "requestID": f"{rng.getrandbits(64):016X}",
        "eventID": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "readOnly": name == "GetObject",
        "resources": [
            {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{BUCKET}/{key}"},
            {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{BUCKET}"},
        ],
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Data",
    }


def write(root: Path, records: int, seed: int = 13) -> DistinctKeys:
    """Write the trail (`records` records over the 30 days before UNTIL) unless already there."""
    dataset = DistinctKeys(root, records)
    if (root / _DONE).is_file():
        return dataset
    rng = random.Random(seed)
    writer, reader = _identity("bench-writer"), _identity("bench-reader")
    start = UNTIL - dt.timedelta(days=DAYS)
    step = dt.timedelta(days=DAYS) / max(1, records // 2)
    pending: list[dict[str, Any]] = []
    written = 0
    for i in range(records // 2 + records % 2):
        t = start + i * step
        key = f"incoming/{t:%Y/%m/%d}/{uuid.UUID(int=rng.getrandbits(128), version=4)}.json"
        pending.append(_record(rng, writer, t, "PutObject", key))
        if len(pending) < records - written:
            pending.append(_record(rng, reader, t + dt.timedelta(minutes=1), "GetObject", key))
        if len(pending) >= RECORDS_PER_FILE:
            _write_file(dataset, rng, pending)
            written += len(pending)
            pending = []
    if pending:
        _write_file(dataset, rng, pending)
    _write_snapshot(dataset)
    (root / _DONE).write_text(json.dumps({"records": records}), encoding="utf-8")
    return dataset


def _write_file(dataset: DistinctKeys, rng: random.Random, records: list[dict[str, Any]]) -> None:
    # A trail delivers every few minutes: the file lands in the day folder of its last record.
    last = dt.datetime.strptime(records[-1]["eventTime"], "%Y-%m-%dT%H:%M:%SZ")
    folder = dataset.source_dir / f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/{last:%Y/%m/%d}"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{ACCOUNT}_CloudTrail_{REGION}_{last:%Y%m%dT%H%MZ}_{rng.getrandbits(64):016x}.json.gz"
    body = msgspec.json.encode({"Records": records})
    (folder / name).write_bytes(gzip.compress(body, compresslevel=1, mtime=0))


def _write_snapshot(dataset: DistinctKeys) -> None:
    grants = {"bench-writer": "s3:PutObject", "bench-reader": "s3:GetObject"}
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    roles = [
        {
            "Path": "/",
            "RoleName": f"{name}-role",
            "RoleId": _identity(name)["sessionContext"]["sessionIssuer"]["principalId"],
            "Arn": _role_arn(name),
            "CreateDate": "2024-01-01T00:00:00+00:00",
            "AssumeRolePolicyDocument": trust,
            "InstanceProfileList": [],
            "RolePolicyList": [
                {
                    "PolicyName": "pipeline",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": [action, "s3:DeleteObject"],
                                "Resource": f"arn:aws:s3:::{BUCKET}/*",
                            }
                        ],
                    },
                }
            ],
            "AttachedManagedPolicies": [],
            "Tags": [],
            "RoleLastUsed": {},
        }
        for name, action in grants.items()
    ]
    details = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": roles, "Policies": []}
    functions = {
        "Functions": [
            {
                "FunctionName": name,
                "FunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
                "Runtime": "python3.12",
                "Role": _role_arn(name),
            }
            for name in grants
        ]
    }
    selectors = {
        "TrailARN": f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/bench",
        "EventSelectors": [
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}],
                "ExcludeManagementEventSources": [],
            }
        ],
    }
    for path, document in (
        (dataset.iam_details, details),
        (dataset.lambda_functions, functions),
        (dataset.event_selectors, selectors),
    ):
        path.write_text(json.dumps(document, indent=1), encoding="utf-8")
