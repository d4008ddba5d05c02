"""The fixed scenario behind the synthetic data: account, roles, functions, buckets, policies.

Everything here is stable, so tests of later stages can import these names instead of repeating
string literals. `rightsizer.synth` re-exports them; its module docstring tells the story and the
known answers. This module also renders the three side files: the IAM snapshot (shape of
`aws iam get-account-authorization-details`), the function list (shape of
`aws lambda list-functions`) and the trail's event selectors (`aws cloudtrail
get-event-selectors`).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

PARTITION = "aws"
ACCOUNT_ID = "111122223333"
ORG_ID = "o-a1b2c3d4e5"
HOME_REGION = "us-east-1"
EU_REGION = "eu-west-1"
REGIONS = (HOME_REGION, EU_REGION)
TRAIL_NAME = "main"
TRAIL_ARN = f"arn:aws:cloudtrail:{HOME_REGION}:{ACCOUNT_ID}:trail/{TRAIL_NAME}"
TRAIL_BUCKET = "acme-cloudtrail-logs"

UPLOADS_BUCKET = "acme-uploads"
THUMBNAILS_BUCKET = "acme-thumbnails"
REPORTS_RAW_BUCKET = "acme-reports-raw"  # SSE-KMS with an S3 Bucket Key: context = bucket ARN
REPORTS_BUCKET = "acme-reports"  # SSE-KMS without Bucket Key: context = object ARN
CONFIG_BUCKET = "acme-config"
LEGACY_BUCKET = "acme-legacy"
EXPORTS_BUCKET = "acme-exports"
SECRETS_BUCKET = "acme-secrets"
EU_LANDING_BUCKET = "acme-eu-landing"
EU_PROCESSED_BUCKET = "acme-eu-processed"
BUCKETS = (
    UPLOADS_BUCKET,
    THUMBNAILS_BUCKET,
    REPORTS_RAW_BUCKET,
    REPORTS_BUCKET,
    CONFIG_BUCKET,
    LEGACY_BUCKET,
    EXPORTS_BUCKET,
    SECRETS_BUCKET,
    EU_LANDING_BUCKET,
    EU_PROCESSED_BUCKET,
)

REPORTS_KMS_KEY_ARN = (
    f"arn:aws:kms:{HOME_REGION}:{ACCOUNT_ID}:key/6f1c2a9e-3b4d-4e5f-9a8b-7c6d5e4f3a2b"
)
LAMBDA_ENV_KMS_KEY_ARN = (
    f"arn:aws:kms:{HOME_REGION}:{ACCOUNT_ID}:key/0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a"
)
DENIED_KEY = "keys.txt"
DENIED_OBJECT_ARN = f"arn:aws:s3:::{SECRETS_BUCKET}/{DENIED_KEY}"
TABLE_ARN = f"arn:aws:dynamodb:{HOME_REGION}:{ACCOUNT_ID}:table/acme-images"

LAMBDA_SERVICE = "lambda.amazonaws.com"
EC2_SERVICE = "ec2.amazonaws.com"
CONFIG_SERVICE = "config.amazonaws.com"

S3_FULL_ACCESS_ARN = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
LAMBDA_BASIC_ARN = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
CONFIG_ROLE_POLICY_ARN = "arn:aws:iam::aws:policy/aws-service-role/AWS_ConfigRole"
LEGACY_POLICY_ARN = f"arn:aws:iam::{ACCOUNT_ID}:policy/LegacyS3Access"
BOUNDARY_POLICY_ARN = f"arn:aws:iam::{ACCOUNT_ID}:policy/boundaries/LambdaExportBoundary"

ALICE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/alice"
EC2_INSTANCE_ID = "i-0abc1234def567890"

_CREATED = "2023-03-14T10:12:45+00:00"


def stable_id(prefix: str, name: str) -> str:
    """An IAM-style unique id (AROA…, AIDA…, ANPA…) that never changes for a given name."""
    digest = hashlib.sha256(f"{prefix}:{name}".encode()).digest()
    return prefix + base64.b32encode(digest).decode()[:17]


@dataclass(frozen=True)
class RoleSpec:
    """An IAM role of the scenario."""

    name: str
    path: str
    trusted_service: str

    @property
    def arn(self) -> str:
        return f"arn:{PARTITION}:iam::{ACCOUNT_ID}:role{self.path}{self.name}"

    @property
    def role_id(self) -> str:
        return stable_id("AROA", self.name)


@dataclass(frozen=True)
class FunctionSpec:
    """A Lambda function: its execution role, runtime and region."""

    name: str
    role: RoleSpec
    runtime: str
    region: str

    @property
    def arn(self) -> str:
        return f"arn:{PARTITION}:lambda:{self.region}:{ACCOUNT_ID}:function:{self.name}"

    @property
    def session_arn(self) -> str:
        """The `userIdentity.arn` of the function's calls (no role path, session = function)."""
        return f"arn:{PARTITION}:sts::{ACCOUNT_ID}:assumed-role/{self.role.name}/{self.name}"


THUMBNAILER_ROLE = RoleSpec("thumbnailer-role-x1y2z3", "/service-role/", LAMBDA_SERVICE)
REPORT_ROLE = RoleSpec("report-role", "/", LAMBDA_SERVICE)
CONFIG_READER_ROLE = RoleSpec("config-reader-role", "/", LAMBDA_SERVICE)
LEGACY_CLEANUP_ROLE = RoleSpec("legacy-cleanup-role", "/", LAMBDA_SERVICE)
EXPORTER_ROLE = RoleSpec("exporter-role", "/", LAMBDA_SERVICE)
EU_INGEST_ROLE = RoleSpec("eu-ingest-role", "/", LAMBDA_SERVICE)
EC2_APP_ROLE = RoleSpec("ec2-app-role", "/", EC2_SERVICE)
CONFIG_SERVICE_ROLE = RoleSpec(
    "AWSServiceRoleForConfig", "/aws-service-role/config.amazonaws.com/", CONFIG_SERVICE
)

LAMBDA_ROLES = (
    THUMBNAILER_ROLE,
    REPORT_ROLE,
    CONFIG_READER_ROLE,
    LEGACY_CLEANUP_ROLE,
    EXPORTER_ROLE,
    EU_INGEST_ROLE,
)
OTHER_ROLES = (EC2_APP_ROLE, CONFIG_SERVICE_ROLE)

THUMBNAILER = FunctionSpec("thumbnailer", THUMBNAILER_ROLE, "python3.12", HOME_REGION)
REPORT_BUILDER = FunctionSpec("report-builder", REPORT_ROLE, "java21", HOME_REGION)
REPORT_MAILER = FunctionSpec("report-mailer", REPORT_ROLE, "nodejs20.x", HOME_REGION)
CONFIG_READER = FunctionSpec("config-reader", CONFIG_READER_ROLE, "python3.12", HOME_REGION)
LEGACY_CLEANUP = FunctionSpec("legacy-cleanup", LEGACY_CLEANUP_ROLE, "python3.12", HOME_REGION)
EXPORTER = FunctionSpec("exporter", EXPORTER_ROLE, "python3.12", HOME_REGION)
EU_INGEST = FunctionSpec("eu-ingest", EU_INGEST_ROLE, "nodejs20.x", EU_REGION)
FUNCTIONS = (
    THUMBNAILER,
    REPORT_BUILDER,
    REPORT_MAILER,
    CONFIG_READER,
    LEGACY_CLEANUP,
    EXPORTER,
    EU_INGEST,
)

# Principals that call S3 in the logs but are not Lambda execution roles.
NON_LAMBDA_PRINCIPAL_ARNS = (ALICE_ARN, EC2_APP_ROLE.arn, CONFIG_SERVICE_ROLE.arn)

# The config objects config-reader reads (all under app/, which its policy grants).
CONFIG_KEYS = (
    "app/settings.json",
    "app/features.json",
    "app/limits.json",
    "app/routing.json",
    "app/endpoints.json",
    "app/flags/rollout.json",
    "app/flags/experiments.json",
    "app/tenants/acme.json",
    "app/tenants/globex.json",
    "app/tenants/initech.json",
    "app/tenants/umbrella.json",
    "app/tenants/hooli.json",
)

# The IAM actions each Lambda role's successful in-window S3 calls need (facts §1), when the
# trail logs S3 data events. Without data events only the management ones can be seen.
EXPECTED_S3_ACTIONS: dict[str, frozenset[str]] = {
    THUMBNAILER_ROLE.arn: frozenset(
        {"s3:GetObject", "s3:ListBucket", "s3:PutObject", "s3:PutObjectAcl"}
    ),
    REPORT_ROLE.arn: frozenset(
        {
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:PutObject",
            "s3:DeleteObject",
            "s3:GetBucketLocation",
            "s3:ListAllMyBuckets",
        }
    ),
    CONFIG_READER_ROLE.arn: frozenset({"s3:GetObject", "s3:ListBucket"}),
    LEGACY_CLEANUP_ROLE.arn: frozenset(),
    EXPORTER_ROLE.arn: frozenset({"s3:PutObject"}),
    EU_INGEST_ROLE.arn: frozenset(
        {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:GetBucketLocation"}
    ),
}
EXPECTED_S3_MANAGEMENT_ACTIONS: dict[str, frozenset[str]] = {
    REPORT_ROLE.arn: frozenset({"s3:GetBucketLocation", "s3:ListAllMyBuckets"}),
    EU_INGEST_ROLE.arn: frozenset({"s3:GetBucketLocation"}),
}


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
