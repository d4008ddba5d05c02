"""The synthetic account's side files: IAM snapshot, function list and event selectors.

The policies each role of `rightsizer.synth.scenario` holds today, rendered in the shape of
`aws iam get-account-authorization-details`, the function list in the shape of
`aws lambda list-functions` and the trail's selectors in the shape of
`aws cloudtrail get-event-selectors`. Over 400 lines because most of it is data: the policy
documents, which read best whole.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from rightsizer.synth.scenario import (
    ACCOUNT_ID,
    ALICE_ARN,
    BOUNDARY_POLICY_ARN,
    CONFIG_BUCKET,
    CONFIG_READER_ROLE,
    CONFIG_ROLE_POLICY_ARN,
    CONFIG_SERVICE_ROLE,
    EC2_APP_ROLE,
    EC2_SERVICE,
    EU_INGEST_ROLE,
    EU_LANDING_BUCKET,
    EU_PROCESSED_BUCKET,
    EXPORTER_ROLE,
    EXPORTS_BUCKET,
    FUNCTIONS,
    LAMBDA_BASIC_ARN,
    LAMBDA_ROLES,
    LEGACY_BUCKET,
    LEGACY_CLEANUP_ROLE,
    LEGACY_POLICY_ARN,
    OTHER_ROLES,
    REPORT_ROLE,
    REPORTS_KMS_KEY_ARN,
    S3_FULL_ACCESS_ARN,
    TABLE_ARN,
    THUMBNAILER_ROLE,
    TRAIL_ARN,
    UPLOADS_BUCKET,
    stable_id,
)

_CREATED = "2023-03-14T10:12:45+00:00"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(action: str | list[str], resource: str | list[str], sid: str = "") -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    return {"Sid": sid, **statement} if sid else statement


def _trust(service: str) -> dict[str, Any]:
    return _doc({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})


def _s3(bucket: str, key: str = "") -> str:
    return f"arn:aws:s3:::{bucket}/{key}" if key else f"arn:aws:s3:::{bucket}"


INLINE_POLICIES: dict[str, dict[str, dict[str, Any]]] = {
    THUMBNAILER_ROLE.name: {
        "images-table": _doc(
            _allow(["dynamodb:GetItem", "dynamodb:PutItem"], TABLE_ARN, "ImagesTable")
        )
    },
    REPORT_ROLE.name: {
        "report-access": _doc(
            _allow("s3:*", "*", "AllS3"),
            _allow(["kms:Decrypt", "kms:GenerateDataKey"], REPORTS_KMS_KEY_ARN, "ReportsKey"),
        )
    },
    CONFIG_READER_ROLE.name: {
        "config-read": _doc(
            _allow("s3:GetObject", _s3(CONFIG_BUCKET, "app/*"), "ReadAppConfig"),
            _allow("s3:ListBucket", _s3(CONFIG_BUCKET), "ListConfig"),
        )
    },
    EXPORTER_ROLE.name: {
        "exporter-s3": _doc(
            _allow("s3:PutObject", _s3(EXPORTS_BUCKET, "*"), "WriteExports"),
            _allow("s3:GetObject", "*", "ReadAnything"),
        )
    },
    EU_INGEST_ROLE.name: {
        "eu-ingest-s3": _doc(
            _allow(
                ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                [_s3(EU_LANDING_BUCKET, "*"), _s3(EU_PROCESSED_BUCKET, "*")],
                "Objects",
            ),
            _allow(
                ["s3:ListBucket", "s3:GetBucketLocation"],
                [_s3(EU_LANDING_BUCKET), _s3(EU_PROCESSED_BUCKET)],
                "Buckets",
            ),
        )
    },
    EC2_APP_ROLE.name: {
        "uploads": _doc(_allow(["s3:PutObject", "s3:GetObject"], _s3(UPLOADS_BUCKET, "*")))
    },
}

ATTACHED_POLICIES: dict[str, tuple[str, ...]] = {
    THUMBNAILER_ROLE.name: (S3_FULL_ACCESS_ARN, LAMBDA_BASIC_ARN),
    REPORT_ROLE.name: (LAMBDA_BASIC_ARN,),
    CONFIG_READER_ROLE.name: (LAMBDA_BASIC_ARN,),
    LEGACY_CLEANUP_ROLE.name: (LEGACY_POLICY_ARN, LAMBDA_BASIC_ARN),
    EXPORTER_ROLE.name: (LAMBDA_BASIC_ARN,),
    EU_INGEST_ROLE.name: (LAMBDA_BASIC_ARN,),
    EC2_APP_ROLE.name: (),
    CONFIG_SERVICE_ROLE.name: (CONFIG_ROLE_POLICY_ARN,),
}

BOUNDARIES: dict[str, str] = {EXPORTER_ROLE.name: BOUNDARY_POLICY_ARN}


@dataclass(frozen=True)
class _ManagedPolicy:
    name: str
    arn: str
    path: str
    versions: tuple[tuple[str, dict[str, Any]], ...]  # (VersionId, document), oldest first
    default_version: str
    created: str
    updated: str


_MANAGED = (
    _ManagedPolicy(
        "AmazonS3FullAccess",
        S3_FULL_ACCESS_ARN,
        "/",
        (
            ("v1", _doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})),
            ("v2", _doc(_allow(["s3:*", "s3-object-lambda:*"], "*"))),
        ),
        "v2",
        "2015-02-06T18:40:58+00:00",
        "2021-09-27T20:16:37+00:00",
    ),
    _ManagedPolicy(
        "AWSLambdaBasicExecutionRole",
        LAMBDA_BASIC_ARN,
        "/service-role/",
        (
            (
                "v1",
                _doc(
                    _allow(
                        ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "*"
                    )
                ),
            ),
        ),
        "v1",
        "2015-04-09T15:03:43+00:00",
        "2015-04-09T15:03:43+00:00",
    ),
    _ManagedPolicy(
        "AWS_ConfigRole",
        CONFIG_ROLE_POLICY_ARN,
        "/aws-service-role/",
        (
            (
                "v1",
                _doc(
                    _allow(
                        [
                            "s3:GetBucketAcl",
                            "s3:GetBucketPolicy",
                            "s3:GetBucketPolicyStatus",
                            "s3:GetEncryptionConfiguration",
                            "s3:GetBucketVersioning",
                            "s3:ListAllMyBuckets",
                        ],
                        "*",
                    )
                ),
            ),
        ),
        "v1",
        "2019-06-14T16:30:04+00:00",
        "2019-06-14T16:30:04+00:00",
    ),
    _ManagedPolicy(
        "LegacyS3Access",
        LEGACY_POLICY_ARN,
        "/",
        (
            ("v1", _doc(_allow("s3:*", [_s3(LEGACY_BUCKET), _s3(LEGACY_BUCKET, "*")]))),
            (
                "v2",
                _doc(
                    _allow(
                        ["s3:Get*", "s3:Put*", "s3:DeleteObject"],
                        _s3(LEGACY_BUCKET, "*"),
                        "LegacyObjects",
                    )
                ),
            ),
        ),
        "v2",
        "2021-05-03T08:00:00+00:00",
        "2022-01-11T09:30:00+00:00",
    ),
    _ManagedPolicy(
        "LambdaExportBoundary",
        BOUNDARY_POLICY_ARN,
        "/boundaries/",
        (
            (
                "v1",
                _doc(
                    _allow(
                        ["s3:PutObject", "s3:GetObject"], _s3(EXPORTS_BUCKET, "*"), "ExportsOnly"
                    ),
                    _allow(["logs:*", "kms:Decrypt"], "*", "Runtime"),
                ),
            ),
        ),
        "v1",
        "2022-06-01T12:00:00+00:00",
        "2022-06-01T12:00:00+00:00",
    ),
)


def iam_details(role_last_used: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """The account snapshot in the shape of `aws iam get-account-authorization-details`.

    `role_last_used` maps a role name to (ISO date, region) of its last use in the data.
    """
    roles = []
    for role in (*LAMBDA_ROLES, *OTHER_ROLES):
        entry: dict[str, Any] = {
            "Path": role.path,
            "RoleName": role.name,
            "RoleId": role.role_id,
            "Arn": role.arn,
            "CreateDate": _CREATED,
            "AssumeRolePolicyDocument": _trust(role.trusted_service),
            "InstanceProfileList": [],
            "RolePolicyList": [
                {"PolicyName": name, "PolicyDocument": document}
                for name, document in INLINE_POLICIES.get(role.name, {}).items()
            ],
            "AttachedManagedPolicies": [
                {"PolicyName": arn.rsplit("/", 1)[1], "PolicyArn": arn}
                for arn in ATTACHED_POLICIES[role.name]
            ],
            "Tags": [],
            "RoleLastUsed": {},
        }
        if role.name in BOUNDARIES:
            entry["PermissionsBoundary"] = {
                "PermissionsBoundaryType": "Policy",
                "PermissionsBoundaryArn": BOUNDARIES[role.name],
            }
        if role is EC2_APP_ROLE:
            entry["InstanceProfileList"] = [_instance_profile()]
        if role.name in role_last_used:
            date, region = role_last_used[role.name]
            entry["RoleLastUsed"] = {"LastUsedDate": date, "Region": region}
        roles.append(entry)
    return {
        "UserDetailList": [
            {
                "Path": "/",
                "UserName": "alice",
                "UserId": stable_id("AIDA", "alice"),
                "Arn": ALICE_ARN,
                "CreateDate": _CREATED,
                "UserPolicyList": [],
                "GroupList": ["developers"],
                "AttachedManagedPolicies": [],
                "Tags": [],
            }
        ],
        "GroupDetailList": [
            {
                "Path": "/",
                "GroupName": "developers",
                "GroupId": stable_id("AGPA", "developers"),
                "Arn": f"arn:aws:iam::{ACCOUNT_ID}:group/developers",
                "CreateDate": _CREATED,
                "GroupPolicyList": [
                    {
                        "PolicyName": "developer-access",
                        "PolicyDocument": _doc(
                            _allow(["s3:Get*", "s3:List*"], "*", "ReadS3"),
                            _allow(["lambda:*", "sts:GetCallerIdentity"], "*", "Lambda"),
                        ),
                    }
                ],
                "AttachedManagedPolicies": [],
            }
        ],
        "RoleDetailList": roles,
        "Policies": [_managed_entry(policy) for policy in _MANAGED],
    }


def _instance_profile() -> dict[str, Any]:
    return {
        "Path": "/",
        "InstanceProfileName": EC2_APP_ROLE.name,
        "InstanceProfileId": stable_id("AIPA", EC2_APP_ROLE.name),
        "Arn": f"arn:aws:iam::{ACCOUNT_ID}:instance-profile/{EC2_APP_ROLE.name}",
        "CreateDate": _CREATED,
        "Roles": [
            {
                "Path": EC2_APP_ROLE.path,
                "RoleName": EC2_APP_ROLE.name,
                "RoleId": EC2_APP_ROLE.role_id,
                "Arn": EC2_APP_ROLE.arn,
                "CreateDate": _CREATED,
                "AssumeRolePolicyDocument": _trust(EC2_SERVICE),
            }
        ],
    }


def _managed_entry(policy: _ManagedPolicy) -> dict[str, Any]:
    attached = sum(policy.arn in arns for arns in ATTACHED_POLICIES.values())
    boundaries = sum(policy.arn == arn for arn in BOUNDARIES.values())
    return {
        "PolicyName": policy.name,
        "PolicyId": stable_id("ANPA", policy.arn),
        "Arn": policy.arn,
        "Path": policy.path,
        "DefaultVersionId": policy.default_version,
        "AttachmentCount": attached,
        "PermissionsBoundaryUsageCount": boundaries,
        "IsAttachable": True,
        "CreateDate": policy.created,
        "UpdateDate": policy.updated,
        "PolicyVersionList": [
            {
                "Document": document,
                "VersionId": version,
                "IsDefaultVersion": version == policy.default_version,
                "CreateDate": policy.updated
                if version == policy.default_version
                else policy.created,
            }
            for version, document in reversed(policy.versions)
        ],
    }


def lambda_functions() -> dict[str, Any]:
    """The functions in the shape of `aws lambda list-functions` (both regions merged)."""
    functions = []
    for function in FUNCTIONS:
        digest = hashlib.sha256(function.name.encode()).digest()
        handler = "index.handler" if function.runtime.startswith("nodejs") else "app.handler"
        if function.runtime.startswith("java"):
            handler = "com.acme.Handler::handleRequest"
        functions.append(
            {
                "FunctionName": function.name,
                "FunctionArn": function.arn,
                "Runtime": function.runtime,
                "Role": function.role.arn,
                "Handler": handler,
                "CodeSize": 4096 + digest[0] * 1024,
                "Description": "",
                "Timeout": 60,
                "MemorySize": 512,
                "LastModified": "2024-02-20T09:15:31.000+0000",
                "CodeSha256": base64.b64encode(digest).decode(),
                "Version": "$LATEST",
                "TracingConfig": {"Mode": "PassThrough"},
                "RevisionId": str(_uuid_from(digest)),
                "PackageType": "Zip",
                "Architectures": ["x86_64"],
                "EphemeralStorage": {"Size": 512},
                "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
                "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{function.name}"},
            }
        )
    return {"Functions": functions}


def _uuid_from(digest: bytes) -> str:
    text = digest[:16].hex()
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-a{text[17:20]}-{text[20:32]}"


def event_selectors(data_events: bool) -> dict[str, Any]:
    """The trail's selectors in the shape of `aws cloudtrail get-event-selectors`."""
    resources = [
        {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]},
        {"Type": "AWS::DynamoDB::Table", "Values": ["arn:aws:dynamodb"]},
    ]
    return {
        "TrailARN": TRAIL_ARN,
        "EventSelectors": [
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": resources if data_events else [],
                "ExcludeManagementEventSources": [],
            }
        ],
    }
