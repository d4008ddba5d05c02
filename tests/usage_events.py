"""Hand-made CloudTrail records for the usage tests, shaped like real S3 and KMS events."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rightsizer.ingest import load_records
from rightsizer.store import connect
from rightsizer.usage import UsageReport, compute_usage
from rightsizer.window import Window

ACCOUNT = "111122223333"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/resize-role"
FUNCTION = "resize"
LAMBDA_AGENT = (
    "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10 lang/python#3.12.3 "
    "exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy"
)
# The trust policy of a Lambda execution role.
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
WINDOW = Window(dt.datetime(2026, 10, 1), dt.datetime(2026, 11, 1))
IN_WINDOW = "2026-10-10T12:00:00Z"

_ids = itertools.count(1)


def role_identity(
    role_arn: str = ROLE, session: str = FUNCTION, *, account: str = ACCOUNT
) -> dict[str, Any]:
    """userIdentity of an assumed-role session (the sts ARN leaves out the role path)."""
    partition = role_arn.split(":")[1]
    role_name = role_arn.rsplit("/", 1)[-1]
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLEID:{session}",
        "arn": f"arn:{partition}:sts::{account}:assumed-role/{role_name}/{session}",
        "accountId": account,
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEID",
                "arn": role_arn,
                "accountId": account,
                "userName": role_name,
            },
            "attributes": {"creationDate": "2026-10-10T11:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def object_resources(bucket: str, key: str, partition: str = "aws") -> list[dict[str, str]]:
    """resources[] of an object-level S3 data event."""
    return [
        {"type": "AWS::S3::Object", "ARN": f"arn:{partition}:s3:::{bucket}/{key}"},
        {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": f"arn:{partition}:s3:::{bucket}"},
    ]


def s3_event(
    event_name: str,
    request_parameters: Mapping[str, Any] | None,
    *,
    resources: Sequence[Mapping[str, Any]] | None = None,
    identity: Mapping[str, Any] | None = None,
    when: str = IN_WINDOW,
    error_code: str | None = None,
    error_message: str | None = None,
    read_only: bool = True,
    category: str = "Data",
    region: str = "eu-west-1",
    user_agent: str = LAMBDA_AGENT,
    source: str = "s3.amazonaws.com",
    recipient: str = ACCOUNT,
    **extra: Any,
) -> dict[str, Any]:
    """One S3 CloudTrail record made by the Lambda role's session unless told otherwise."""
    record: dict[str, Any] = {
        "eventVersion": "1.10",
        "userIdentity": dict(identity) if identity is not None else role_identity(),
        "eventTime": when,
        "eventSource": source,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": "203.0.113.10",
        "userAgent": user_agent,
        "requestParameters": dict(request_parameters) if request_parameters is not None else None,
        "responseElements": None,
        "requestID": "EXAMPLE",
        "eventID": f"00000000-0000-0000-0000-{next(_ids):012d}",
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": category == "Management",
        "recipientAccountId": recipient,
        "eventCategory": category,
    }
    if resources is not None:
        record["resources"] = [dict(r) for r in resources]
    if error_code is not None:
        record["errorCode"] = error_code
        record["errorMessage"] = error_message or error_code
    record.update(extra)
    return record


def kms_event(
    event_name: str,
    s3_arn: str,
    *,
    key_arn: str = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    invoked_by: str | None = "fas.s3.amazonaws.com",
    identity: Mapping[str, Any] | None = None,
    when: str = IN_WINDOW,
) -> dict[str, Any]:
    """A KMS Decrypt/GenerateDataKey event that S3 made under the caller's session."""
    who = dict(identity) if identity is not None else role_identity()
    if invoked_by is not None:
        who["invokedBy"] = invoked_by
    return {
        "eventVersion": "1.10",
        "userIdentity": who,
        "eventTime": when,
        "eventSource": "kms.amazonaws.com",
        "eventName": event_name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": invoked_by or "203.0.113.10",
        "userAgent": invoked_by or LAMBDA_AGENT,
        "requestParameters": {
            "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "encryptionContext": {"aws:s3:arn": s3_arn},
        },
        "responseElements": None,
        "eventID": f"00000000-0000-0000-0000-{next(_ids):012d}",
        "readOnly": True,
        "resources": [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key_arn}],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }


def usage_of(
    tmp_path: Path,
    records: list[dict[str, Any]],
    *,
    lambda_roles: Mapping[str, Sequence[str]] | None = None,
    window: Window = WINDOW,
) -> UsageReport:
    """Load the records into a fresh store and compute the usage for the window."""
    conn = connect(tmp_path / "t.duckdb")
    try:
        load_records(conn, records)
        return compute_usage(conn, window, lambda_roles=lambda_roles)
    finally:
        conn.close()


def needs(report: UsageReport, role_arn: str = ROLE) -> set[tuple[str, str]]:
    """Every (action, resource) pair the role's authorized calls needed."""
    return {need for call in report.roles[role_arn].calls for need in call.needs}


def needs_of(tmp_path: Path, *records: dict[str, Any]) -> set[tuple[str, str]]:
    """The (action, resource) pairs the given calls of the Lambda role needed."""
    return needs(usage_of(tmp_path, list(records)))
