"""What the logs cannot show keeps today's grants: access points, S3 events the mapping does not
know, accounts, regions and days without logs, skipped files, the S3 family beyond `s3:`.

Each test runs the whole analysis on a store built from records shaped like AWS's examples and
checks the recommended policy as IAM would evaluate it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner
from usage_events import (
    ACCOUNT,
    LAMBDA_TRUST,
    ROLE,
    needs_of,
    object_resources,
    role_identity,
    s3_event,
)

from rightsizer.analyze import analyze
from rightsizer.cli import app
from rightsizer.iam.policy import is_allowed, parse_policy
from rightsizer.iam.snapshot import snapshot_from_pages
from rightsizer.ingest import load_records
from rightsizer.selectors import parse_event_selectors
from rightsizer.store import connect
from rightsizer.window import Window

DAY = Window(dt.datetime(2026, 10, 10), dt.datetime(2026, 10, 11))
AP = f"arn:aws:s3:eu-west-1:{ACCOUNT}:accesspoint/reports-ap"
FULL = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}


def details(role_arn: str, *statements: dict[str, Any]) -> dict[str, Any]:
    """A get-account-authorization-details page with one Lambda role and its inline policy."""
    return {
        "RoleDetailList": [
            {
                "Arn": role_arn,
                "RoleName": role_arn.rsplit("/", 1)[-1],
                "Path": "/service-role/",
                "AssumeRolePolicyDocument": LAMBDA_TRUST,
                "RolePolicyList": [
                    {
                        "PolicyName": "inline",
                        "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)},
                    }
                ],
            }
        ]
    }


def analyze_records(
    tmp_path: Path,
    records: Sequence[dict[str, Any]],
    *statements: dict[str, Any],
    role_arn: str = ROLE,
    window: Window = DAY,
    selectors: dict[str, Any] | list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The analysis entry of the one role, its records loaded into a store on disk, with the
    trail's event selectors when given (get-event-selectors JSON)."""
    conn = connect(tmp_path / "store.duckdb")
    try:
        load_records(conn, list(records))
        snapshot = snapshot_from_pages([details(role_arn, *statements)])
        known = None if selectors is None else parse_event_selectors(selectors)
        (role,) = analyze(conn, window, snapshot, selectors=known).data["roles"]
    finally:
        conn.close()
    return role


def codes(role: dict[str, Any]) -> set[str]:
    return {w["code"] for w in role["warnings"]}


def allows(role: dict[str, Any], action: str, resource: str) -> bool:
    return is_allowed(parse_policy(role["recommended_policy"]), action, resource)


def someone_writes() -> dict[str, Any]:
    """Another principal's write data event: it shows that writes are logged in the region."""
    return s3_event(
        "PutObject",
        {"bucketName": "c", "key": "x"},
        resources=object_resources("c", "x"),
        identity=role_identity("arn:aws:iam::111122223333:role/other", "other"),
        read_only=False,
        user_agent="aws-cli/2.15.0",
    )


def read(bucket: str, key: str, **extra: Any) -> dict[str, Any]:
    """The Lambda role's GetObject of `bucket/key` (`extra`: as s3_event takes it)."""
    return s3_event(
        "GetObject",
        {"bucketName": bucket, "key": key},
        resources=object_resources(bucket, key),
        **extra,
    )


def reads(bucket: str, keys: Sequence[str]) -> list[dict[str, Any]]:
    return [read(bucket, k) for k in keys]


def through_access_point(key: str) -> dict[str, Any]:
    """A GetObject through an access point, its resources as the S3 User Guide shows them."""
    return s3_event(
        "GetObject",
        {"bucketName": "reports", "key": key},
        resources=[
            *object_resources("reports", key),
            {"accountId": ACCOUNT, "type": "AWS::S3::AccessPoint", "ARN": AP},
        ],
    )


def test_calls_through_an_access_point_are_granted_on_the_access_point(tmp_path: Path) -> None:
    records = [through_access_point(f"daily/2026-10-0{d}.csv") for d in range(1, 8)]
    records.append(
        s3_event(
            "ListObjects",
            {"bucketName": "reports", "list-type": "2", "prefix": "daily/"},
            resources=[
                {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::reports"},
                {"accountId": ACCOUNT, "type": "AWS::S3::AccessPoint", "ARN": AP},
            ],
        )
    )
    records.append(someone_writes())  # copies are writes: logged, they could show a read
    role = analyze_records(tmp_path, records, FULL)
    # IAM authorizes these calls on the access point's ARN, not the bucket's.
    assert allows(role, "s3:GetObject", f"{AP}/object/daily/2026-10-01.csv")
    assert allows(role, "s3:GetObject", f"{AP}/object/daily/2026-10-31.csv")  # the next key
    assert allows(role, "s3:ListBucket", AP)
    assert not allows(role, "s3:GetObject", "arn:aws:s3:::reports/daily/2026-10-01.csv")
    assert role["replay"]["incomplete"] == 0 and role["replay"]["not_granted_today"] == 0


def test_every_request_of_a_copy_and_a_bucket_call_names_the_access_point(tmp_path: Path) -> None:
    source = f"{AP}/object/in/a.csv".replace(":", "%3A").replace("/", "%2F")
    copy = s3_event(
        "CopyObject",
        {"bucketName": "reports", "key": "out/a.csv", "x-amz-copy-source": source},
        resources=[
            *object_resources("reports", "out/a.csv"),
            {"accountId": ACCOUNT, "type": "AWS::S3::AccessPoint", "ARN": AP},
        ],
        read_only=False,
    )
    # An SDK call may name the access point as its bucket.
    head = s3_event("HeadBucket", {"bucketName": AP}, resources=None)
    assert needs_of(tmp_path, copy, head) == {
        ("s3:GetObject", f"{AP}/object/in/a.csv"),
        ("s3:PutObject", f"{AP}/object/out/a.csv"),
        ("s3:ListBucket", AP),
    }


def test_a_grant_on_the_access_point_alone_is_kept_for_its_calls(tmp_path: Path) -> None:
    only_ap = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{AP}/object/*"}
    role = analyze_records(tmp_path, [through_access_point("daily/a.csv")], only_ap)
    assert role["not_granted_by_identity_policy"] == []
    assert allows(role, "s3:GetObject", f"{AP}/object/daily/a.csv")


def test_s3_calls_the_mapping_does_not_know_keep_what_could_authorize_them(
    tmp_path: Path,
) -> None:
    records = [
        # A real S3 action the table has no row for: the same-named action is kept.
        s3_event("GetAccessPoint", {"name": "reports-ap"}, category="Management"),
        # A name no catalog knows (next year's API), on a bucket: every grant there is kept.
        s3_event("FrobnicateObjects", {"bucketName": "reports"}, category="Management"),
        read("other", "k"),
        someone_writes(),
    ]
    reports = {
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:PutObject"],
        "Resource": ["arn:aws:s3:::reports", "arn:aws:s3:::reports/*"],
    }
    other = {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::other/*"}
    role = analyze_records(tmp_path, records, FULL, reports, other)
    assert "unmodeled-calls" in codes(role)
    assert role["replay"]["incomplete"] == 2
    assert allows(role, "s3:GetAccessPoint", AP)
    # Every held S3 action on the bucket of the unknown call is kept, nothing beyond it.
    assert allows(role, "s3:PutObject", "arn:aws:s3:::reports/any/key")
    assert allows(role, "s3:DeleteBucket", "arn:aws:s3:::reports")
    assert not allows(role, "s3:PutObject", "arn:aws:s3:::other/k")
    assert not allows(role, "s3:DeleteBucket", "arn:aws:s3:::elsewhere")
    unknown = {(u["action"], u["resource"]) for u in role["unknown"]}
    assert ("s3:GetAccessPoint", "*") in unknown


def test_a_bucket_the_selectors_leave_out_keeps_a_wildcard_grant_that_reaches_it(
    tmp_path: Path,
) -> None:
    # Every S3 object is logged but data-secret's: reads of it by a grant on `data-*`, `*`
    # or `data-?ecret` would not show, so the grant stays whole.
    selectors = {
        "TrailARN": "arn:aws:cloudtrail:eu-west-1:111122223333:trail/main",
        "AdvancedEventSelectors": [
            {
                "Name": "all but the secret bucket",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                    {"Field": "resources.ARN", "NotStartsWith": ["arn:aws:s3:::data-secret/"]},
                ],
            }
        ],
    }
    get = read("data-a", "in/a.txt")
    for name, resource in [
        ("star", "*"),
        ("any", "arn:aws:s3:::*/*"),
        ("pattern", "arn:aws:s3:::data-*/*"),
        ("one-char", "arn:aws:s3:::data-?ecret/*"),
    ]:
        (tmp_path / name).mkdir()
        grant = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": resource}
        role = analyze_records(tmp_path / name, [get], grant, selectors=selectors)
        assert allows(role, "s3:GetObject", "arn:aws:s3:::data-secret/key.txt"), resource
        assert "coverage-unknown" in codes(role), resource
        assert [(u["action"], u["resource"]) for u in role["unknown"]] == [
            ("s3:GetObject", resource)
        ]


def test_bucket_and_account_calls_the_selectors_do_not_log_keep_their_grants(
    tmp_path: Path,
) -> None:
    # GetBucketLocation, PutBucketTagging and ListBuckets are management events: a trail
    # that leaves them out (or their reads) cannot show their use.
    statements = [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
        {
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation", "s3:PutBucketTagging"],
            "Resource": "arn:aws:s3:::c",
        },
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
    ]
    get = read("b", "k.csv")
    data = {
        "Name": "s3 data",
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
        ],
    }
    writes = {
        "Name": "management writes",
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Management"]},
            {"Field": "readOnly", "Equals": ["false"]},
        ],
    }
    everything = {"Name": "management", "FieldSelectors": [writes["FieldSelectors"][0]]}
    basic = {
        "EventSelectors": [
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": False,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}],
            }
        ]
    }
    unknown_of: dict[str, list[tuple[str, str]]] = {}
    for name, selectors in [
        ("none", basic),
        ("writes", {"AdvancedEventSelectors": [writes, data]}),
        ("all", {"AdvancedEventSelectors": [everything, data]}),
    ]:
        (tmp_path / name).mkdir()
        role = analyze_records(tmp_path / name, [get], *statements, selectors=selectors)
        unknown_of[name] = sorted((u["action"], u["resource"]) for u in role["unknown"])
        logged = name != "none"
        assert allows(role, "s3:GetBucketLocation", "arn:aws:s3:::c") is (name != "all")
        assert allows(role, "s3:ListAllMyBuckets", "*") is (name != "all")
        assert allows(role, "s3:PutBucketTagging", "arn:aws:s3:::c") is not logged
        assert ("coverage-unknown" in codes(role)) is (name != "all")
    assert unknown_of["none"] == [
        ("s3:GetBucketLocation", "arn:aws:s3:::c"),
        ("s3:ListAllMyBuckets", "*"),
        ("s3:PutBucketTagging", "arn:aws:s3:::c"),
    ]
    assert unknown_of["writes"] == unknown_of["none"][:2] and unknown_of["all"] == []


def test_selectors_of_a_trail_whose_logs_were_not_read_show_no_data_use(tmp_path: Path) -> None:
    # The selectors name a data-event trail, but only the management trail's logs were read:
    # the store holds no S3 data event at all, so object use cannot be told.
    data_trail = {
        "TrailARN": "arn:aws:cloudtrail:eu-west-1:111122223333:trail/data-events",
        "EventSelectors": [
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": False,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}],
            }
        ],
    }
    main_trail = {
        "TrailARN": "arn:aws:cloudtrail:eu-west-1:111122223333:trail/main",
        "EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}],
    }
    location = s3_event(
        "GetBucketLocation", {"bucketName": "c", "location": ""}, category="Management"
    )
    grant = {
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation"],
        "Resource": ["arn:aws:s3:::c", "arn:aws:s3:::c/*"],
    }
    role = analyze_records(tmp_path, [location], grant, selectors=[data_trail, main_trail])
    assert allows(role, "s3:GetObject", "arn:aws:s3:::c/x/a.txt")
    assert allows(role, "s3:PutObject", "arn:aws:s3:::c/x/a.txt")
    assert allows(role, "s3:ListBucket", "arn:aws:s3:::c")
    assert any(
        w["code"] == "coverage-unknown" and "the store holds none" in w["message"]
        for w in role["warnings"]
    )


READS_LOGGED = {
    "basic ReadOnly": {
        "EventSelectors": [
            {
                "ReadWriteType": "ReadOnly",
                "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}],
            }
        ]
    },
    "advanced readOnly": {
        "AdvancedEventSelectors": [
            {
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                    {"Field": "readOnly", "Equals": ["true"]},
                ]
            }
        ]
    },
    "inferred from reads alone": None,
}


@pytest.mark.parametrize("selectors", READS_LOGGED.values(), ids=READS_LOGGED.keys())
def test_where_writes_are_not_logged_a_copy_source_read_stays_unknown(
    tmp_path: Path, selectors: dict[str, Any] | None
) -> None:
    # A copy is a write event: a role may read `src` only through copies the trail drops.
    get = read("x", "cfg/a.json")
    source = {
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:GetObjectTagging"],
        "Resource": "arn:aws:s3:::src/*",
    }
    destination = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::dst/*"}
    reads_x = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"}
    role = analyze_records(tmp_path, [get], source, destination, reads_x, selectors=selectors)
    assert allows(role, "s3:GetObject", "arn:aws:s3:::src/in/f.csv")
    assert allows(role, "s3:GetObjectTagging", "arn:aws:s3:::src/in/f.csv")
    assert allows(role, "s3:PutObject", "arn:aws:s3:::dst/out/f.csv")
    unknown = {(u["action"], u["resource"]): u["reason"] for u in role["unknown"]}
    assert "copies (CopyObject, UploadPartCopy)" in unknown[("s3:GetObject", "arn:aws:s3:::src/*")]
    assert "coverage-unknown" in codes(role)


def test_where_every_write_is_logged_an_unused_copy_source_read_goes(tmp_path: Path) -> None:
    get = read("x", "cfg/a.json")
    source = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::src/*"}
    role = analyze_records(tmp_path, [get, someone_writes()], source)
    assert not allows(role, "s3:GetObject", "arn:aws:s3:::src/in/f.csv")
    assert role["unknown"] == []


def copy_to_dst(request: dict[str, Any]) -> list[dict[str, Any]]:
    """A CopyObject into dst/out/f.csv, its resources the destination object alone; and other
    principals' reads and writes: the region logs both."""
    copy = s3_event(
        "CopyObject",
        {"bucketName": "dst", "key": "out/f.csv", **request},
        resources=object_resources("dst", "out/f.csv"),
        read_only=False,
    )
    someone_reads = {**someone_writes(), "eventName": "GetObject", "readOnly": True}
    return [copy, someone_writes(), someone_reads]


SOURCE_READS = {
    "Effect": "Allow",
    "Action": ["s3:GetObject", "s3:GetObjectVersion"],
    "Resource": "arn:aws:s3:::src/*",
}
DESTINATION = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::dst/*"}


def test_a_copy_whose_record_names_no_source_keeps_every_source_read(tmp_path: Path) -> None:
    # Real records of this shape exist: a CopyObject without x-amz-copy-source.
    role = analyze_records(tmp_path, copy_to_dst({}), SOURCE_READS, DESTINATION)
    # The source could be any object: the reads are kept where today's grants put them.
    assert allows(role, "s3:GetObject", "arn:aws:s3:::src/archive/f.csv")
    assert allows(role, "s3:GetObjectVersion", "arn:aws:s3:::src/archive/f.csv")
    assert not allows(role, "s3:PutObject", "arn:aws:s3:::dst/elsewhere/f.csv")
    assert "unmodeled-calls" in codes(role)
    unknown = {(u["action"], u["resource"]): u["reason"] for u in role["unknown"]}
    assert "do not name the copy source" in unknown[("s3:GetObject", "arn:aws:s3:::src/*")]
    assert role["replay"]["incomplete"] == 1


def test_a_copy_source_named_by_an_access_point_alias_stays_unknown(tmp_path: Path) -> None:
    # An alias does not say which access point IAM authorizes the read on.
    alias = "reports-ap-hrzrlukc5m36ft7okagglf3gmwluquse1b-s3alias"
    records = copy_to_dst({"x-amz-copy-source": f"{alias}/in/a.csv"})
    through_ap = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{AP}/object/*"}
    role = analyze_records(tmp_path, records, through_ap, DESTINATION)
    assert allows(role, "s3:GetObject", f"{AP}/object/in/a.csv")
    assert not any(alias in u["resource"] for u in role["used"])
    assert "unmodeled-calls" in codes(role)


def test_an_unmapped_call_naming_a_copy_source_keeps_the_grants_on_the_source(
    tmp_path: Path,
) -> None:
    records = copy_to_dst({"x-amz-copy-source": "/src/in/f.csv?versionId=3"})
    records[0]["eventName"] = "copyObject"  # a spelling the mapping table does not know
    source = {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::src/*"}
    other = {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::other/*"}
    role = analyze_records(tmp_path, records, source, DESTINATION, other)
    assert allows(role, "s3:GetObjectVersion", "arn:aws:s3:::src/in/f.csv")
    assert allows(role, "s3:PutObject", "arn:aws:s3:::dst/out/f.csv")
    assert not allows(role, "s3:GetObject", "arn:aws:s3:::other/k")


def test_an_account_without_logs_keeps_every_s3_grant(tmp_path: Path) -> None:
    elsewhere = "arn:aws:iam::444455556666:role/service-role/quiet-role"
    # The store only holds another account's events.
    records = [someone_writes()]
    role = analyze_records(tmp_path, records, FULL, role_arn=elsewhere)
    assert "evidence-gap" in codes(role)
    assert any("444455556666" in w["message"] for w in role["warnings"])
    assert allows(role, "s3:GetBucketLocation", "arn:aws:s3:::any-bucket")
    assert role["counts"]["after"]["s3_actions"] == role["counts"]["before"]["s3_actions"]


def test_days_without_any_event_keep_today_grants_and_a_covered_day_does_not(
    tmp_path: Path,
) -> None:
    get = read("b", "k.csv")
    three_days = Window(dt.datetime(2026, 10, 9), dt.datetime(2026, 10, 12))
    role = analyze_records(tmp_path, [get, someone_writes()], FULL, window=three_days)
    assert "evidence-gap" in codes(role)
    assert any(
        "2026-10-09" in w["message"] and "eu-west-1" in w["message"] for w in role["warnings"]
    )
    assert allows(role, "s3:DeleteBucket", "arn:aws:s3:::b")

    (tmp_path / "day").mkdir()
    role = analyze_records(tmp_path / "day", [get, someone_writes()], FULL)
    assert "evidence-gap" not in codes(role)
    assert not allows(role, "s3:DeleteBucket", "arn:aws:s3:::b")


def write_log(
    root: Path, stamp: str, records: list[dict[str, Any]] | None, region: str = "eu-west-1"
) -> str:
    """A log file under the trail layout; `records` None writes a corrupt file."""
    day = f"{stamp[:4]}/{stamp[4:6]}/{stamp[6:8]}"
    key = (
        f"AWSLogs/{ACCOUNT}/CloudTrail/{region}/{day}/"
        f"{ACCOUNT}_CloudTrail_{region}_{stamp}Z_{stamp[-4:]}abcd.json.gz"
    )
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    body = (
        b"\x1f\x8b not gzip"
        if records is None
        else gzip.compress(json.dumps({"Records": records}).encode())
    )
    path.write_bytes(body)
    return key


def test_a_skipped_log_file_is_a_hole_on_every_output(tmp_path: Path) -> None:
    root = tmp_path / "trail"
    get = read("b", "in/k.csv", when="2026-10-10T11:58:00Z")
    write_log(root, "20261010T1205", [get])
    bad = write_log(root, "20261010T1710", None)
    snapshot = tmp_path / "iam.json"
    snapshot.write_text(json.dumps(details(ROLE, FULL)))
    base = [
        "analyze",
        f"--source={root}",
        f"--db={tmp_path / 'store.duckdb'}",
        f"--iam-details={snapshot}",
        "--until=2026-10-12",  # 2026-10-11 has no events: a second hole
        "--days=2",
    ]
    runner = CliRunner()
    result = runner.invoke(app, [*base, "--format=json"])
    data = json.loads(result.stdout)
    assert [log["key"] for log in data["skipped_log_files"]] == [bad]
    (role,) = data["roles"]
    gaps = [w["message"] for w in role["warnings"] if w["code"] == "evidence-gap"]
    # The skipped file and a day without any event: two holes, two warnings.
    assert any(bad in message for message in gaps) and len(gaps) == 2
    assert allows(role, "s3:PutObject", "arn:aws:s3:::b/anything")  # not cut below today
    table = runner.invoke(app, [*base, "--format=table"], env={"COLUMNS": "400"}).stdout
    assert "skipped" in table and bad in table
    markdown = runner.invoke(app, [*base, "--format=markdown"]).stdout
    assert bad in markdown and "was skipped" in markdown
    report = runner.invoke(app, ["report", *base[1:]], env={"COLUMNS": "400"}).stdout
    assert "was skipped" in report and "evidence-gap" in report


def test_a_hole_in_a_region_without_the_role_s_calls_still_keeps_its_grants(
    tmp_path: Path,
) -> None:
    # The role's calls are all logged in eu-west-1; us-east-1 logs too (someone else's write),
    # but has a skipped file on one day and nothing on the next: the role may have called
    # from there, so its S3 grants are kept.
    root = tmp_path / "trail"
    get = read("b", "in/k.csv", when="2026-10-10T11:58:00Z")
    write_log(root, "20261010T1205", [get])
    next_day = read("b", "in/k.csv", when="2026-10-11T11:58:00Z")
    write_log(root, "20261011T1205", [next_day])
    elsewhere = {**someone_writes(), "awsRegion": "us-east-1", "eventTime": "2026-10-10T09:00:00Z"}
    write_log(root, "20261010T0905", [elsewhere], region="us-east-1")
    bad = write_log(root, "20261010T1710", None, region="us-east-1")
    snapshot = tmp_path / "iam.json"
    snapshot.write_text(json.dumps(details(ROLE, FULL)))
    result = CliRunner().invoke(
        app,
        [
            "analyze",
            f"--source={root}",
            f"--db={tmp_path / 'store.duckdb'}",
            f"--iam-details={snapshot}",
            "--until=2026-10-12",
            "--days=2",
            "--format=json",
        ],
    )
    (role,) = json.loads(result.stdout)["roles"]
    gaps = [w["message"] for w in role["warnings"] if w["code"] == "evidence-gap"]
    assert any(bad in message for message in gaps)
    assert any("us-east-1 on 2026-10-11" in message for message in gaps)
    assert len(gaps) == 2
    assert allows(role, "s3:PutObject", "arn:aws:s3:::b/anything")


def test_s3_object_lambda_of_full_access_is_unknown_and_counted(tmp_path: Path) -> None:
    object_lambda = {"Effect": "Allow", "Action": "s3-object-lambda:*", "Resource": "*"}
    get = read("b", "k.csv")
    role = analyze_records(tmp_path, [get, someone_writes()], FULL, object_lambda)
    assert "s3-family-unknown" in codes(role)
    assert {"action": "s3-object-lambda:*", "resource": "*"} in role["diff"]["unknown"]
    assert any(u["action"] == "s3-object-lambda:*" for u in role["unknown"])
    assert role["counts"]["before"]["wildcard_grants"] == 2
    assert role["counts"]["after"]["wildcard_grants"] == 1  # s3:* is gone, object-lambda is not
    (carried,) = [e for e in role["out_of_scope"] if "s3-object-lambda:*" in e["actions"]]
    assert "not right-sized" in carried["note"]


# --- conditions: not logged, so a call may have met any of them, or none -----------------------

IN_TEN = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}  # the calls below came from 203.0.113.10


def allows_under(
    role: dict[str, Any], condition: dict[str, Any] | None, action: str, resource: str
) -> bool:
    """Whether the recommendation's Allows of exactly `condition` (None: none) allow it."""
    policy = role["recommended_policy"]
    kept = [
        s for s in policy["Statement"] if s["Effect"] == "Deny" or s.get("Condition") == condition
    ]
    return is_allowed(parse_policy({**policy, "Statement": kept}), action, resource)


def test_a_conditional_folder_grant_never_replaces_the_keys_unconditional_grant(
    tmp_path: Path,
) -> None:
    # Today the folder is granted only from 10/8, and the keys a* from anywhere. The calls may
    # have come from anywhere: the keys stay allowed with no condition.
    keys = [f"in/a{i}" for i in range(25)]
    role = analyze_records(
        tmp_path,
        reads("bk", keys),
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::bk/*",
            "Condition": IN_TEN,
        },
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bk/in/a*"},
    )
    for key in [*keys, "in/a99"]:
        assert allows_under(role, None, "s3:GetObject", f"arn:aws:s3:::bk/{key}")
    assert not allows_under(role, None, "s3:GetObject", "arn:aws:s3:::bk/in/b1")  # not today
    assert "verification-failed" not in codes(role)


def test_a_key_two_conditional_grants_allow_stays_allowed_under_each(tmp_path: Path) -> None:
    # Which of the two conditions the call met is not logged: both stay.
    vpce = {"StringEquals": {"aws:SourceVpce": "vpce-1"}}
    role = analyze_records(
        tmp_path,
        reads("bk", ["in/x.csv", "in/y.csv"]),
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": IN_TEN},
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::bk/*",
            "Condition": vpce,
        },
    )
    for condition in (IN_TEN, vpce):
        assert allows_under(role, condition, "s3:GetObject", "arn:aws:s3:::bk/in/x.csv")
    assert not allows_under(role, None, "s3:GetObject", "arn:aws:s3:::bk/in/x.csv")
    assert not allows_under(role, vpce, "s3:GetObject", "arn:aws:s3:::other/in/x.csv")


def test_a_grant_naming_a_policy_variable_is_kept_as_it_is(tmp_path: Path) -> None:
    # The tag's value in each request is not logged: which objects the grant allowed is unknown.
    team = "arn:aws:s3:::bk/${aws:PrincipalTag/team}/*"
    role = analyze_records(
        tmp_path,
        reads("bk", ["red/in/a.csv", "red/in/b.csv"]),
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": team},
    )
    assert "policy-variable" in codes(role)
    assert {(u["action"], u["resource"]) for u in role["unknown"]} == {
        ("s3:GetObject", team),
        ("s3:PutObject", team),
    }
    statements = role["recommended_policy"]["Statement"]
    assert [(sorted(s["Action"]), s["Resource"]) for s in statements] == [
        (["s3:GetObject", "s3:PutObject"], team)
    ]
    (note,) = [w for w in role["warnings"] if w["code"] == "not-granted-by-identity-policy"]
    assert "a grant kept as it is for its policy variable, or a bucket policy" in note["message"]


def test_an_escape_is_no_policy_variable(tmp_path: Path) -> None:
    # `${*}` is a literal star: the grant names one key and is right-sized as usual.
    role = analyze_records(
        tmp_path,
        [*reads("bk", ["in/a.csv"]), someone_writes()],
        {
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::bk/in/*", "arn:aws:s3:::bk/${*}"],
        },
    )
    assert "policy-variable" not in codes(role)
    assert role["unknown"] == []


def test_a_batch_delete_keeps_today_s_delete_grants_in_its_bucket(tmp_path: Path) -> None:
    # DeleteObjects logs no keys: with today's s3:DeleteObject on tmp/ only, the deleted keys
    # were (at most) there, not known which: the grant stays, and another bucket's goes.
    prefix_only = [
        {"type": "AWS::S3::Object", "ARNPrefix": "arn:aws:s3:::data-bkt/"},
        {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::data-bkt"},
    ]
    tmp = "arn:aws:s3:::data-bkt/tmp/*"
    role = analyze_records(
        tmp_path,
        [
            s3_event(
                "DeleteObjects",
                {"bucketName": "data-bkt", "delete": ""},
                resources=prefix_only,
                read_only=False,
            ),
            *reads("data-bkt", ["in/a.csv"]),
        ],
        {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": [tmp, "arn:aws:s3:::other/*"]},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data-bkt/*"},
    )
    assert allows(role, "s3:DeleteObject", "arn:aws:s3:::data-bkt/tmp/x.txt")
    assert not allows(role, "s3:DeleteObject", "arn:aws:s3:::data-bkt/in/a.csv")  # not today
    assert not allows(role, "s3:DeleteObject", "arn:aws:s3:::other/x.txt")  # not used
    assert ("s3:DeleteObject", tmp) in {(u["action"], u["resource"]) for u in role["unknown"]}
    assert "unmodeled-calls" in codes(role)
    assert "not-granted-by-identity-policy" not in codes(role)


def test_an_unmapped_call_on_a_bucket_keeps_every_s3_action_there_not_only_its_namesake(
    tmp_path: Path,
) -> None:
    # UpdateObjectEncryption needs s3:PutObject besides s3:UpdateObjectEncryption (S3 API
    # Reference): an API the table does not know may need more than its namesake.
    records = [
        s3_event(
            "UpdateObjectEncryption",
            {"bucketName": "newapi", "key": "k/f.txt"},
            resources=object_resources("newapi", "k/f.txt"),
            read_only=False,
        ),
        *reads("other", ["in/a.csv"]),
    ]
    role = analyze_records(tmp_path, records, FULL)
    assert "unmodeled-calls" in codes(role)
    assert allows(role, "s3:PutObject", "arn:aws:s3:::newapi/k/f.txt")
    assert allows(role, "s3:UpdateObjectEncryption", "arn:aws:s3:::newapi/k/f.txt")
    assert not allows(role, "s3:PutObject", "arn:aws:s3:::elsewhere/k")


def test_today_s_documents_are_reported_with_their_condition_keys_as_written(
    tmp_path: Path,
) -> None:
    # A deploy script compares them with what IAM holds, which keeps the order written.
    condition = {
        "StringEquals": {"aws:SourceVpce": "vpce-1"},
        "Bool": {"aws:SecureTransport": "true"},
    }
    role = analyze_records(
        tmp_path,
        reads("bk", ["in/a.csv"]),
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": condition},
    )
    (held,) = role["current_policies"]
    assert list(held["document"]["Statement"][0]["Condition"]) == ["StringEquals", "Bool"]
