"""What rightsizer may call in AWS, and the IAM policy it needs for those calls.

rightsizer never changes AWS. It reads the trail's log files, the account's roles and policies
and its Lambda functions, optionally the trail's event selectors, and it may send the report
with Amazon SES. With `--engine athena` it also runs queries in Amazon Athena
(`athena:StartQueryExecution`, and StopQueryExecution for its own queries), which write their
results and staging tables only under --athena-output and in --athena-database. The test
suite hooks every AWS call the tests make and fails on any operation outside
`ALLOWED_OPERATIONS`; another test evaluates `minimal_policy` (and `athena_policy`) with
rightsizer's own policy engine against every entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = [
    "ALLOWED_OPERATIONS",
    "ATHENA_POLICY",
    "MINIMAL_POLICY",
    "PLACEHOLDER_BUCKET",
    "PLACEHOLDER_PREFIX",
    "QUERY_OPERATIONS",
    "READ_ONLY_OPERATIONS",
    "SEND_OPERATIONS",
    "athena_policy",
    "minimal_policy",
]

# API operation ("service:Operation", botocore's names) → the IAM action it is authorized by.
READ_ONLY_OPERATIONS: Mapping[str, str] = MappingProxyType(
    {
        "s3:ListObjectsV2": "s3:ListBucket",  # day folders of the trail (ingest --source s3://)
        "s3:GetObject": "s3:GetObject",  # the log files themselves
        "iam:GetAccountAuthorizationDetails": "iam:GetAccountAuthorizationDetails",
        "lambda:ListFunctions": "lambda:ListFunctions",
        "cloudtrail:DescribeTrails": "cloudtrail:DescribeTrails",  # live selectors (optional)
        "cloudtrail:GetEventSelectors": "cloudtrail:GetEventSelectors",
        # --engine athena: a query's state and rows, and the CloudTrail table in the catalog.
        "athena:GetQueryExecution": "athena:GetQueryExecution",
        "athena:GetQueryResults": "athena:GetQueryResults",
        "glue:GetDatabase": "glue:GetDatabase",
        "glue:GetTable": "glue:GetTable",
    }
)
# The one call that is not a read: sending the report by Amazon SES (`report --ses`).
SEND_OPERATIONS: Mapping[str, str] = MappingProxyType({"ses:SendRawEmail": "ses:SendRawEmail"})
# --engine athena runs its queries: StartQueryExecution is the new call that is not a read
# (the queries, their CTAS staging tables and, only with --athena-create-table, the CloudTrail
# table); StopQueryExecution stops only a query rightsizer started (over --max-scan-gb, Ctrl-C).
QUERY_OPERATIONS: Mapping[str, str] = MappingProxyType(
    {
        "athena:StartQueryExecution": "athena:StartQueryExecution",
        "athena:StopQueryExecution": "athena:StopQueryExecution",
    }
)
ALLOWED_OPERATIONS: Mapping[str, str] = MappingProxyType(
    {**READ_ONLY_OPERATIONS, **SEND_OPERATIONS, **QUERY_OPERATIONS}
)

# Placeholders of the documented policy; `minimal_policy(bucket, prefix)` fills in real ones.
PLACEHOLDER_BUCKET = "TRAIL-BUCKET"
PLACEHOLDER_PREFIX = "PREFIX"


def minimal_policy(
    bucket: str,
    prefix: str = "",
    *,
    partition: str = "aws",
    event_selectors: bool = True,
    ses: bool = True,
    kms_key_arn: str | None = None,
) -> dict[str, Any]:
    """The IAM policy document rightsizer needs to read the trail `s3://bucket/prefix`.

    `event_selectors` adds the CloudTrail reads used when no `--event-selectors` file is
    given; `ses` adds sending the report by SES; `kms_key_arn` adds `kms:Decrypt` for a trail
    whose log files are encrypted with that KMS key (SSE-KMS).
    """
    prefix = prefix.strip("/")
    logs = f"{prefix}/AWSLogs/" if prefix else "AWSLogs/"
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ListTrailLogFolders",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            # Every listing rightsizer makes starts at the AWSLogs/ folder.
            "Condition": {"StringLike": {"s3:prefix": f"{logs}*"}},
        },
        {
            "Sid": "ReadTrailLogFiles",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{bucket_arn}/{logs}*",
        },
        {
            "Sid": "ReadRolesAndPolicies",
            "Effect": "Allow",
            "Action": ["iam:GetAccountAuthorizationDetails", "lambda:ListFunctions"],
            "Resource": "*",
        },
    ]
    if kms_key_arn:
        statements.append(
            {
                "Sid": "DecryptTrailLogFiles",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": kms_key_arn,
            }
        )
    if event_selectors:
        statements.append(
            {
                "Sid": "ReadTrailEventSelectors",
                "Effect": "Allow",
                "Action": ["cloudtrail:DescribeTrails", "cloudtrail:GetEventSelectors"],
                "Resource": "*",
            }
        )
    if ses:
        statements.append(
            {"Sid": "SendReport", "Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": "*"}
        )
    return {"Version": "2012-10-17", "Statement": statements}


def athena_policy(
    output: str,
    *,
    workgroup: str = "primary",
    database: str = "DATABASE",
    table: str = "cloudtrail_logs",
    create_table: bool = False,
    partition: str = "aws",
) -> dict[str, Any]:
    """What `--engine athena` needs besides `minimal_policy`'s reads of the trail (Athena
    reads the log files with the caller's permissions).

    Running queries in `workgroup`; reading the catalog's `database` and its tables; writing
    query results and staging files under `output` (s3://bucket/prefix/); the staging tables
    (`rightsizer_*`, created by CTAS and dropped at the end) in `database`; and, with
    `create_table` (--athena-create-table), creating the CloudTrail `table` there.
    """
    bucket, _, prefix = output.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    objects = f"{prefix}/*" if prefix else "*"
    glue = f"arn:{partition}:glue:*:*"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "RunAthenaQueries",
            "Effect": "Allow",
            "Action": [
                "athena:StartQueryExecution",
                "athena:StopQueryExecution",
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
            ],
            "Resource": f"arn:{partition}:athena:*:*:workgroup/{workgroup}",
        },
        {
            "Sid": "ReadDataCatalog",
            "Effect": "Allow",
            "Action": ["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"],
            "Resource": [
                f"{glue}:catalog",
                f"{glue}:database/{database}",
                f"{glue}:table/{database}/*",
            ],
        },
        {
            "Sid": "StagingTables",
            "Effect": "Allow",
            "Action": ["glue:CreateTable", "glue:DeleteTable"],
            "Resource": [
                f"{glue}:catalog",
                f"{glue}:database/{database}",
                f"{glue}:table/{database}/rightsizer_*",
            ],
        },
        {
            "Sid": "ListQueryOutput",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": f"arn:{partition}:s3:::{bucket}",
        },
        {
            "Sid": "ReadWriteQueryOutput",
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:PutObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            "Resource": f"arn:{partition}:s3:::{bucket}/{objects}",
        },
    ]
    if create_table:
        statements.append(
            {
                "Sid": "CreateCloudTrailTable",
                "Effect": "Allow",
                "Action": "glue:CreateTable",
                "Resource": [
                    f"{glue}:catalog",
                    f"{glue}:database/{database}",
                    f"{glue}:table/{database}/{table}",
                ],
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


#: The policy as the README shows it, with placeholders for the trail's bucket and prefix.
MINIMAL_POLICY: Mapping[str, Any] = MappingProxyType(
    minimal_policy(PLACEHOLDER_BUCKET, PLACEHOLDER_PREFIX)
)

#: What --engine athena adds, as the README shows it (placeholders for the output and database).
ATHENA_POLICY: Mapping[str, Any] = MappingProxyType(
    athena_policy("s3://OUTPUT-BUCKET/PREFIX/", database="DATABASE", create_table=True)
)
