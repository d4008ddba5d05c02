"""Each mapping rule on a tiny hand-made event set: the exact actions and resources needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from usage_events import (
    ROLE,
    WINDOW,
    needs,
    needs_of,
    object_resources,
    role_identity,
    s3_event,
    usage_of,
)

from rightsizer.engine import as_engine
from rightsizer.ingest import load_records
from rightsizer.store import connect
from rightsizer.usage import compute_usage, usage_in

OBJ = "arn:aws:s3:::photos/in/cat.jpg"


def _object_call(event_name: str, **params: str) -> dict[str, object]:
    return s3_event(
        event_name,
        {"bucketName": "photos", "key": "in/cat.jpg", **params},
        resources=object_resources("photos", "in/cat.jpg"),
    )


@pytest.mark.parametrize(
    ("event_name", "params", "expected"),
    [
        ("GetObject", {}, {("s3:GetObject", OBJ)}),
        ("GetObject", {"versionId": "3HL4kqtJlcpXroDTDmJ"}, {("s3:GetObjectVersion", OBJ)}),
        ("HeadObject", {}, {("s3:GetObject", OBJ)}),
        ("HeadObject", {"versionId": "v1"}, {("s3:GetObjectVersion", OBJ)}),
        (
            "GetObjectAttributes",
            {},
            {("s3:GetObject", OBJ), ("s3:GetObjectAttributes", OBJ)},
        ),
        (
            "GetObjectAttributes",
            {"versionId": "v1"},
            {("s3:GetObjectVersion", OBJ), ("s3:GetObjectVersionAttributes", OBJ)},
        ),
        ("GetObjectTagging", {}, {("s3:GetObjectTagging", OBJ)}),
        (
            "GetObjectTagging",
            {"versionId": "v1"},
            {("s3:GetObjectTagging", OBJ), ("s3:GetObjectVersionTagging", OBJ)},
        ),
        ("GetObjectAcl", {"versionId": "v1"}, {("s3:GetObjectVersionAcl", OBJ)}),
        ("PutObjectAcl", {"versionId": "v1"}, {("s3:PutObjectVersionAcl", OBJ)}),
        ("SelectObjectContent", {}, {("s3:GetObject", OBJ)}),
        ("RestoreObject", {}, {("s3:RestoreObject", OBJ)}),
        ("ListParts", {"uploadId": "u1"}, {("s3:ListMultipartUploadParts", OBJ)}),
        ("UploadPart", {"uploadId": "u1", "partNumber": "2"}, {("s3:PutObject", OBJ)}),
        ("CompleteMultipartUpload", {"uploadId": "u1"}, {("s3:PutObject", OBJ)}),
        ("AbortMultipartUpload", {"uploadId": "u1"}, {("s3:AbortMultipartUpload", OBJ)}),
        ("DeleteObject", {}, {("s3:DeleteObject", OBJ)}),
        (
            "DeleteObject",
            {"versionId": "v1"},
            {("s3:DeleteObject", OBJ), ("s3:DeleteObjectVersion", OBJ)},
        ),
        (
            "DeleteObject",
            {"x-amz-bypass-governance-retention": "true"},
            {("s3:DeleteObject", OBJ), ("s3:BypassGovernanceRetention", OBJ)},
        ),
        (
            "PutObjectRetention",
            {"x-amz-bypass-governance-retention": "true"},
            {("s3:PutObjectRetention", OBJ), ("s3:BypassGovernanceRetention", OBJ)},
        ),
    ],
)
def test_object_calls_need_their_actions_on_the_object(
    tmp_path: Path, event_name: str, params: dict[str, str], expected: set[tuple[str, str]]
) -> None:
    assert needs_of(tmp_path, _object_call(event_name, **params)) == expected


@pytest.mark.parametrize(
    ("headers", "extra"),
    [
        ({}, set()),
        ({"x-amz-acl": "bucket-owner-full-control"}, {"s3:PutObjectAcl"}),
        ({"x-amz-grant-read": "id=abc"}, {"s3:PutObjectAcl"}),
        ({"x-amz-tagging": "team=media"}, {"s3:PutObjectTagging"}),
        (
            {"x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": "x"},
            {"s3:PutObjectRetention"},
        ),
        ({"x-amz-object-lock-legal-hold": "ON"}, {"s3:PutObjectLegalHold"}),
    ],
)
@pytest.mark.parametrize("event_name", ["PutObject", "CreateMultipartUpload"])
def test_write_headers_add_their_sub_permissions(
    tmp_path: Path, event_name: str, headers: dict[str, str], extra: set[str]
) -> None:
    expected = {(action, OBJ) for action in {"s3:PutObject", *extra}}
    assert needs_of(tmp_path, _object_call(event_name, **headers)) == expected


@pytest.mark.parametrize(
    ("copy_source", "source_arn", "read_action"),
    [
        ("src-bucket/raw/a.csv", "arn:aws:s3:::src-bucket/raw/a.csv", "s3:GetObject"),
        ("/src-bucket/raw/a.csv", "arn:aws:s3:::src-bucket/raw/a.csv", "s3:GetObject"),
        (
            "src-bucket/raw/sales%20report%20%28eu%29%2Bq1%3Bv2.csv",
            "arn:aws:s3:::src-bucket/raw/sales report (eu)+q1;v2.csv",
            "s3:GetObject",
        ),
        (
            "/src-bucket/raw/a.csv?versionId=3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
            "arn:aws:s3:::src-bucket/raw/a.csv",
            "s3:GetObjectVersion",
        ),
        (
            "arn%3Aaws%3As3%3Aus-west-2%3A123456789012%3Aaccesspoint%2Fmy-ap%2Fobject%2Fraw%2Fa.csv",
            "arn:aws:s3:us-west-2:123456789012:accesspoint/my-ap/object/raw/a.csv",
            "s3:GetObject",
        ),
    ],
)
@pytest.mark.parametrize("event_name", ["CopyObject", "UploadPartCopy"])
def test_copies_read_the_source_object_and_write_the_destination(
    tmp_path: Path, event_name: str, copy_source: str, source_arn: str, read_action: str
) -> None:
    record = s3_event(
        event_name,
        {"bucketName": "dst-bucket", "key": "final/a.csv", "x-amz-copy-source": copy_source},
        resources=object_resources("dst-bucket", "final/a.csv"),
        read_only=False,
    )
    assert needs_of(tmp_path, record) == {
        (read_action, source_arn),
        ("s3:PutObject", "arn:aws:s3:::dst-bucket/final/a.csv"),
    }


def test_a_copy_logged_with_both_objects_writes_the_destination(tmp_path: Path) -> None:
    # Some records list the source object in resources[] as well, after the destination.
    record = s3_event(
        "CopyObject",
        {
            "bucketName": "b",
            "key": "copy.md",
            "x-amz-copy-source": "b/orig.md",
            "x-amz-acl": "private",
        },
        resources=[
            {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::b/orig.md"},
            {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::b/copy.md"},
            {"accountId": "111122223333", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::b"},
        ],
        read_only=False,
    )
    assert needs_of(tmp_path, record) == {
        ("s3:GetObject", "arn:aws:s3:::b/orig.md"),
        ("s3:PutObject", "arn:aws:s3:::b/copy.md"),
        ("s3:PutObjectAcl", "arn:aws:s3:::b/copy.md"),
    }


SOURCE_AP = "arn:aws:s3:us-east-1:111122223333:accesspoint/src-ap"


def _copy_from_source_ap(resources: list[dict[str, str]]) -> dict[str, Any]:
    """A copy of the source access point's in/a.csv into dst/out/a.csv."""
    source = f"{SOURCE_AP}/object/in/a.csv".replace(":", "%3A").replace("/", "%2F")
    return s3_event(
        "CopyObject",
        {"bucketName": "dst", "key": "out/a.csv", "x-amz-copy-source": source},
        resources=resources,
        read_only=False,
    )


def test_a_copy_listing_its_source_first_in_bucket_form_writes_the_named_destination(
    tmp_path: Path,
) -> None:
    record = _copy_from_source_ap(
        [
            {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::src/in/a.csv"},
            *object_resources("dst", "out/a.csv"),
        ]
    )
    assert needs_of(tmp_path, record) == {
        ("s3:GetObject", f"{SOURCE_AP}/object/in/a.csv"),
        ("s3:PutObject", "arn:aws:s3:::dst/out/a.csv"),
    }


def test_a_copy_listing_both_access_points_writes_through_the_destination_one(
    tmp_path: Path,
) -> None:
    destination_ap = "arn:aws:s3:us-east-1:111122223333:accesspoint/dst-ap"
    record = _copy_from_source_ap(
        [
            {"accountId": "111122223333", "type": "AWS::S3::AccessPoint", "ARN": SOURCE_AP},
            *object_resources("dst", "out/a.csv"),
            {"accountId": "111122223333", "type": "AWS::S3::AccessPoint", "ARN": destination_ap},
        ]
    )
    assert needs_of(tmp_path, record) == {
        ("s3:GetObject", f"{SOURCE_AP}/object/in/a.csv"),
        ("s3:PutObject", f"{destination_ap}/object/out/a.csv"),
    }


def test_delete_objects_needs_delete_on_every_object_of_the_bucket(tmp_path: Path) -> None:
    prefix_only = [
        {"type": "AWS::S3::Object", "ARNPrefix": "arn:aws:s3:::raw/"},
        {"accountId": "111122223333", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::raw"},
    ]
    plain = s3_event("DeleteObjects", {"bucketName": "raw", "delete": ""}, resources=prefix_only)
    bypass = s3_event(
        "DeleteObjects",
        {"bucketName": "raw", "delete": "", "x-amz-bypass-governance-retention": "true"},
        resources=prefix_only,
    )
    report = usage_of(tmp_path, [plain, bypass])
    assert needs(report) == {
        ("s3:DeleteObject", "arn:aws:s3:::raw/*"),
        ("s3:BypassGovernanceRetention", "arn:aws:s3:::raw/*"),
    }
    companions = {(c.action, c.resource) for c in report.roles[ROLE].companions}
    assert ("s3:DeleteObjectVersion", "arn:aws:s3:::raw/*") in companions


def test_delete_objects_naming_versions_needs_delete_object_version(tmp_path: Path) -> None:
    record = s3_event(
        "DeleteObjects",
        {"bucketName": "raw", "delete": {"Object": [{"Key": "a", "VersionId": "v1"}]}},
    )
    assert needs_of(tmp_path, record) == {
        ("s3:DeleteObject", "arn:aws:s3:::raw/*"),
        ("s3:DeleteObjectVersion", "arn:aws:s3:::raw/*"),
    }


@pytest.mark.parametrize(
    ("event_name", "params", "action"),
    [
        ("ListObjects", {"list-type": "2", "prefix": "in/", "delimiter": "/"}, "s3:ListBucket"),
        ("ListObjects", {"prefix": "in/"}, "s3:ListBucket"),
        ("ListObjectsV2", {"prefix": "in/"}, "s3:ListBucket"),
        ("ListObjects", {"versions": "", "prefix": "in/"}, "s3:ListBucketVersions"),
        ("ListObjectVersions", {}, "s3:ListBucketVersions"),
        ("HeadBucket", {}, "s3:ListBucket"),
        ("ListMultipartUploads", {"uploads": ""}, "s3:ListBucketMultipartUploads"),
        ("GetBucketLocation", {"location": ""}, "s3:GetBucketLocation"),
        ("DeleteBucketReplication", {"replication": ""}, "s3:PutReplicationConfiguration"),
        ("DeleteBucketCors", {"cors": ""}, "s3:PutBucketCORS"),
    ],
)
def test_bucket_calls_need_their_action_on_the_bucket(
    tmp_path: Path, event_name: str, params: dict[str, str], action: str
) -> None:
    resources = [
        {"type": "AWS::S3::Object", "ARNPrefix": "arn:aws:s3:::photos/in/"},
        {"accountId": "111122223333", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::photos"},
    ]
    record = s3_event(event_name, {"bucketName": "photos", **params}, resources=resources)
    assert needs_of(tmp_path, record) == {(action, "arn:aws:s3:::photos")}


def test_the_bucket_comes_from_the_resource_when_the_parameters_lack_it(tmp_path: Path) -> None:
    record = s3_event(
        "HeadBucket",
        {"Host": "photos.s3.eu-west-1.amazonaws.com"},
        resources=[{"accountId": "1", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::photos"}],
    )
    assert needs_of(tmp_path, record) == {("s3:ListBucket", "arn:aws:s3:::photos")}


def test_create_bucket_headers_add_their_permissions(tmp_path: Path) -> None:
    private = s3_event("CreateBucket", {"bucketName": "new-a", "x-amz-acl": "private"})
    locked = s3_event(
        "CreateBucket",
        {
            "bucketName": "new-b",
            "x-amz-acl": "public-read",
            "x-amz-bucket-object-lock-enabled": "true",
            "x-amz-object-ownership": "BucketOwnerEnforced",
        },
    )
    assert needs_of(tmp_path, private, locked) == {
        ("s3:CreateBucket", "arn:aws:s3:::new-a"),
        ("s3:CreateBucket", "arn:aws:s3:::new-b"),
        ("s3:PutBucketAcl", "arn:aws:s3:::new-b"),
        ("s3:PutBucketObjectLockConfiguration", "arn:aws:s3:::new-b"),
        ("s3:PutBucketVersioning", "arn:aws:s3:::new-b"),
        ("s3:PutBucketOwnershipControls", "arn:aws:s3:::new-b"),
    }


def test_list_buckets_needs_list_all_my_buckets_on_everything(tmp_path: Path) -> None:
    record = s3_event("ListBuckets", {"Host": "s3.amazonaws.com"}, category="Management")
    assert needs_of(tmp_path, record) == {("s3:ListAllMyBuckets", "*")}


def test_the_partition_comes_from_the_record(tmp_path: Path) -> None:
    china_role = "arn:aws-cn:iam::111122223333:role/cn-role"
    gov_role = "arn:aws-us-gov:iam::111122223333:role/gov-role"
    from_resources = s3_event(
        "GetObject",
        {"bucketName": "cn-data", "key": "a.txt"},
        resources=object_resources("cn-data", "a.txt", partition="aws-cn"),
        identity=role_identity(china_role, "cn-fn"),
    )
    from_principal = s3_event(
        "PutObject",
        {"bucketName": "gov-data", "key": "b.txt"},
        identity=role_identity(gov_role, "gov-fn"),
    )
    report = usage_of(
        tmp_path, [from_resources, from_principal], lambda_roles={china_role: [], gov_role: []}
    )
    assert needs(report, china_role) == {("s3:GetObject", "arn:aws-cn:s3:::cn-data/a.txt")}
    assert needs(report, gov_role) == {("s3:PutObject", "arn:aws-us-gov:s3:::gov-data/b.txt")}


def test_object_arns_use_the_raw_key(tmp_path: Path) -> None:
    # resources[] carries the raw key; requestParameters.key is the fallback.
    logged = s3_event(
        "GetObject",
        {"bucketName": "docs", "key": "2026/Q1 report: final.pdf"},
        resources=object_resources("docs", "2026/Q1 report: final.pdf"),
    )
    no_resources = s3_event("GetObject", {"bucketName": "docs", "key": "notes/a b+c.txt"})
    assert needs_of(tmp_path, logged, no_resources) == {
        ("s3:GetObject", "arn:aws:s3:::docs/2026/Q1 report: final.pdf"),
        ("s3:GetObject", "arn:aws:s3:::docs/notes/a b+c.txt"),
    }


def test_no_such_key_is_usage_and_proves_list_bucket(tmp_path: Path) -> None:
    missing = s3_event(
        "GetObject",
        {"bucketName": "photos", "key": "in/gone.jpg"},
        resources=object_resources("photos", "in/gone.jpg"),
        error_code="NoSuchKey",
        error_message="The specified key does not exist.",
    )
    report = usage_of(tmp_path, [missing])
    (call,) = report.roles[ROLE].calls
    assert call.outcome == "NoSuchKey"
    assert set(call.needs) == {
        ("s3:GetObject", "arn:aws:s3:::photos/in/gone.jpg"),
        ("s3:ListBucket", "arn:aws:s3:::photos"),
    }
    assert report.roles[ROLE].denied == ()


def test_rare_path_permissions_are_companions_not_needs(tmp_path: Path) -> None:
    report = usage_of(tmp_path, [_object_call("CreateMultipartUpload"), _object_call("GetObject")])
    assert needs(report) == {("s3:PutObject", OBJ), ("s3:GetObject", OBJ)}
    companions = {(c.action, c.resource): c for c in report.roles[ROLE].companions}
    assert set(companions) == {
        ("s3:AbortMultipartUpload", OBJ),
        ("s3:PutObjectTagging", OBJ),
        ("s3:ListBucket", "arn:aws:s3:::photos"),
    }
    assert companions[("s3:AbortMultipartUpload", OBJ)].event_names == ("CreateMultipartUpload",)


def test_the_set_wise_analysis_reads_one_companion_source_per_action_not_per_object(
    tmp_path: Path,
) -> None:
    # One object per call: the analysis of a store must not hold a companion object per key.
    uploads = [
        s3_event(
            name, {"bucketName": "photos", "key": key}, resources=object_resources("photos", key)
        )
        for name, key in [
            *[("CreateMultipartUpload", f"in/{n}.jpg") for n in range(3)],
            ("UploadPart", "in/0.jpg"),
        ]
    ]
    conn = connect(tmp_path / "t.duckdb")
    load_records(conn, uploads)
    with as_engine(conn).session() as engine:
        staged = usage_in(engine, WINDOW, with_calls=False, with_used=False).roles[ROLE]
    full = compute_usage(conn, WINDOW).roles[ROLE]
    conn.close()
    assert staged.used == () and staged.companions == ()
    assert len(full.companions) == 6  # abort and tagging, per object
    sources = {s.action: s for s in staged.companion_sources}
    assert sources == {s.action: s for s in full.companion_sources}
    assert sources["s3:AbortMultipartUpload"].event_names == (
        "CreateMultipartUpload",
        "UploadPart",
    )
    assert set(sources) == {"s3:AbortMultipartUpload", "s3:PutObjectTagging"}
    assert sources["s3:PutObjectTagging"].event_names == ("CreateMultipartUpload",)
    assert sources["s3:AbortMultipartUpload"].reason.startswith("docs/s3-event-actions.md#")


def test_usage_counts_calls_per_action_and_resource(tmp_path: Path) -> None:
    early = s3_event(
        "GetObject",
        {"bucketName": "photos", "key": "in/cat.jpg"},
        resources=object_resources("photos", "in/cat.jpg"),
        when="2026-10-02T08:00:00Z",
    )
    late = dict(early, eventID="late-copy", eventTime="2026-10-20T09:30:00Z")
    report = usage_of(tmp_path, [early, late])
    (used,) = report.roles[ROLE].used
    assert (used.action, used.resource, used.count) == ("s3:GetObject", OBJ, 2)
    assert (used.first_seen.day, used.last_seen.day) == (2, 20)
    # The evidence of a used permission: which functions needed it, and one of the calls.
    assert used.functions == ("resize",) and used.example_event_id in {
        early["eventID"],
        "late-copy",
    }
    (call,) = report.roles[ROLE].calls
    assert (call.count, call.function, call.region, call.event_name) == (
        2,
        "resize",
        "eu-west-1",
        "GetObject",
    )
    assert call.needs == (("s3:GetObject", OBJ),) and call.complete


def test_headers_logged_as_one_element_lists_are_read(tmp_path: Path) -> None:
    private = s3_event("CreateBucket", {"bucketName": "new-a", "x-amz-acl": ["private"]})
    locked = s3_event(
        "CreateBucket", {"bucketName": "new-b", "x-amz-bucket-object-lock-enabled": ["true"]}
    )
    assert needs_of(tmp_path, private, locked) == {
        ("s3:CreateBucket", "arn:aws:s3:::new-a"),
        ("s3:CreateBucket", "arn:aws:s3:::new-b"),
        ("s3:PutBucketObjectLockConfiguration", "arn:aws:s3:::new-b"),
        ("s3:PutBucketVersioning", "arn:aws:s3:::new-b"),
    }
