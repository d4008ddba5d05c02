"""The fixed scenario behind the synthetic data: account, roles, functions, buckets, answers.

Everything here is stable, so tests of later stages can import these names instead of repeating
string literals. `rightsizer.synth` re-exports them; its module docstring tells the story and the
known answers. The policies the roles hold and the side files that carry them are in
`rightsizer.synth.side_files`.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

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
# What the data plants for rightsizer.watch to find (times before the window end): report-mailer's
# session used from a laptop, report-builder's first read of acme-exports, and a burst of
# exporter's denied reads of acme-secrets/keys.txt.
LAPTOP_IP = "203.0.113.77"
LAPTOP_AT = 30 * 3600 - 17 * 60  # seconds before the window end
NEW_BUCKET_AT = 2 * 86400 - 11 * 3600
BURST_AT = 3 * 86400 - 10 * 3600
BURST_CALLS = 30
EC2_INSTANCE_ID = "i-0abc1234def567890"


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

# The IAM actions each Lambda role's successful in-window S3 calls need
# (docs/s3-event-actions.md), when the trail logs S3 data events. Without data events only the
# management ones can be seen.
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
