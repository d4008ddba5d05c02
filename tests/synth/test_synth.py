"""The synthetic data generator: determinism, CloudTrail layout, record shapes, scenario facts."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from rightsizer import synth
from rightsizer.errors import ConfigError
from rightsizer.window import Window

UNTIL = dt.datetime(2024, 5, 1)
DAYS = 3

LOG_KEY = re.compile(
    r"^(?:(?P<prefix>.+)/)?AWSLogs/(?:(?P<org>o-[a-z0-9]{10,32})/)?(?P<account>\d{12})/CloudTrail/"
    r"(?P<region>[a-z]{2}-[a-z]+-\d)/(?P<y>\d{4})/(?P<m>\d\d)/(?P<d>\d\d)/"
    r"(?P=account)_CloudTrail_(?P=region)_(?P<stamp>\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz$"
)
DIGEST_KEY = re.compile(
    r"^(?:.+/)?AWSLogs/(?:o-[a-z0-9]+/)?(?P<account>\d{12})/CloudTrail-Digest/(?P<region>[a-z0-9-]+)/"
    r"\d{4}/\d\d/\d\d/(?P=account)_CloudTrail-Digest_(?P=region)_main_us-east-1_\d{8}T\d{6}Z"
    r"\.json\.gz$"
)
INSIGHT_KEY = re.compile(
    r"^(?:.+/)?AWSLogs/(?:o-[a-z0-9]+/)?(?P<account>\d{12})/CloudTrail-Insight/us-east-1/"
    r"\d{4}/\d\d/\d\d/(?P=account)_CloudTrail-Insight_us-east-1_\d{8}T\d{4}Z_[A-Za-z0-9]{16}"
    r"\.json\.gz$"
)
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
EVENT_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _inflate(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())


def _log_files(ds: synth.SynthDataset) -> list[tuple[str, list[dict[str, Any]]]]:
    """(key relative to the logs root, records) of every CloudTrail log file."""
    out = []
    for path in sorted(ds.logs.rglob("*.json.gz")):
        key = path.relative_to(ds.logs).as_posix()
        if "/CloudTrail/" in key:
            out.append((key, json.loads(_inflate(path))["Records"]))
    return out


def _records(ds: synth.SynthDataset) -> list[dict[str, Any]]:
    return [record for _, records in _log_files(ds) for record in records]


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> synth.SynthDataset:
    return synth.generate(tmp_path_factory.mktemp("synth") / "out", until=UNTIL, days=DAYS)


@pytest.fixture(scope="module")
def records(dataset: synth.SynthDataset) -> list[dict[str, Any]]:
    return _records(dataset)


def test_two_runs_with_the_same_seed_are_byte_identical(tmp_path: Path) -> None:
    first = synth.generate(tmp_path / "a", until=UNTIL, days=2, seed=11)
    second = synth.generate(tmp_path / "b", until=UNTIL, days=2, seed=11)
    third = synth.generate(tmp_path / "c", until=UNTIL, days=2, seed=12)
    assert _tree(first.root) == _tree(second.root)
    assert first.records == second.records and first.files == second.files
    assert _tree(first.logs) != _tree(third.logs)


def test_every_file_follows_the_cloudtrail_key_layout(dataset: synth.SynthDataset) -> None:
    keys = [p.relative_to(dataset.logs).as_posix() for p in dataset.logs.rglob("*.json.gz")]
    logs = [k for k in keys if LOG_KEY.match(k)]
    digests = [k for k in keys if DIGEST_KEY.match(k)]
    insights = [k for k in keys if INSIGHT_KEY.match(k)]
    assert len(logs) + len(digests) + len(insights) == len(keys)
    assert len(logs) == dataset.files
    assert len(digests) == dataset.digest_files > 0
    assert len(insights) == 1
    regions = {LOG_KEY.match(k).group("region") for k in logs}  # type: ignore[union-attr]
    assert regions == set(synth.REGIONS)


def test_log_files_sit_in_the_windows_delivery_folders(dataset: synth.SynthDataset) -> None:
    days = {d.strftime("%Y/%m/%d") for d in Window.ending(UNTIL, DAYS).delivery_days()}
    for key, records in _log_files(dataset):
        match = LOG_KEY.match(key)
        assert match is not None
        assert f"{match['y']}/{match['m']}/{match['d']}" in days
        assert match["stamp"][:8] == match["y"] + match["m"] + match["d"]
        delivered = dt.datetime.strptime(match["stamp"], "%Y%m%dT%H%MZ")
        assert 1 <= len(records) <= synth.MAX_RECORDS_PER_FILE
        # a file holds only records from before its delivery time
        assert max(r["eventTime"] for r in records) < delivered.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert {r["awsRegion"] for r in records} == {match["region"]}


def test_counts_reported_match_the_files(
    dataset: synth.SynthDataset, records: list[dict[str, Any]]
) -> None:
    assert len(records) == dataset.records
    ids = Counter(r["eventID"] for r in records)
    assert sum(n - 1 for n in ids.values()) == dataset.duplicates > 0
    start = (UNTIL - dt.timedelta(days=DAYS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = UNTIL.strftime("%Y-%m-%dT%H:%M:%SZ")
    in_window = {r["eventID"] for r in records if start <= r["eventTime"] < end}
    assert len(in_window) == dataset.events_in_window
    # some records lie just outside the window, so readers must filter by eventTime
    assert any(r["eventTime"] < start for r in records)
    assert any(r["eventTime"] >= end for r in records)


def test_records_have_the_fields_of_real_cloudtrail(records: list[dict[str, Any]]) -> None:
    for record in records:
        assert record["eventVersion"] in {"1.08", "1.09", "1.10", "1.11"}
        assert UUID4.match(record["eventID"]), record["eventID"]
        assert EVENT_TIME.match(record["eventTime"])
        assert record["eventType"] == "AwsApiCall"
        assert record["recipientAccountId"] == synth.ACCOUNT_ID
        assert record["eventCategory"] in {"Data", "Management"}
        assert record["managementEvent"] is (record["eventCategory"] == "Management")
        assert isinstance(record["readOnly"], bool)
        assert record["awsRegion"] in synth.REGIONS
        assert record["userIdentity"]["type"] in {"AssumedRole", "IAMUser", "AWSService"}
        assert record["sourceIPAddress"] and record["userAgent"]
        if record["eventSource"] == "s3.amazonaws.com" and record["eventCategory"] == "Data":
            params = record["requestParameters"]
            assert params["Host"].startswith(params["bucketName"] + ".s3.")
            buckets = [r for r in record["resources"] if r["type"] == "AWS::S3::Bucket"]
            objects = [r for r in record["resources"] if r["type"] == "AWS::S3::Object"]
            assert buckets[0] == {
                "accountId": synth.ACCOUNT_ID,
                "type": "AWS::S3::Bucket",
                "ARN": f"arn:aws:s3:::{params['bucketName']}",
            }
            assert objects and all(("ARN" in o) != ("ARNPrefix" in o) for o in objects)
            assert "x-amz-id-2" in record["additionalEventData"]
            if "key" in params:
                assert objects[0]["ARN"] == f"arn:aws:s3:::{params['bucketName']}/{params['key']}"


def test_lambda_calls_carry_role_path_session_and_runtime(records: list[dict[str, Any]]) -> None:
    by_session = {f.session_arn: f for f in synth.FUNCTIONS}
    seen = set()
    laptop = []
    for record in records:
        identity = record["userIdentity"]
        function = by_session.get(identity.get("arn", ""))
        if record["sourceIPAddress"] == synth.LAPTOP_IP:  # planted: a session used elsewhere
            laptop.append((identity["arn"], record["eventName"]))
            continue
        if function is None:
            assert "exec-env/AWS_Lambda" not in record["userAgent"]
            continue
        issuer = identity["sessionContext"]["sessionIssuer"]
        assert issuer["arn"] == function.role.arn
        assert identity["principalId"] == f"{function.role.role_id}:{function.name}"
        invoked_by = identity.get("invokedBy")
        if invoked_by is None:
            assert f"exec-env/AWS_Lambda_{function.runtime}" in record["userAgent"]
            assert record["awsRegion"] == function.region
            seen.add(function.name)
        else:  # KMS on the session's behalf: S3 forward access or Lambda's env decryption
            assert record["eventSource"] == "kms.amazonaws.com"
            assert record["userAgent"] == record["sourceIPAddress"] == invoked_by
    assert laptop == [
        (synth.REPORT_MAILER.session_arn, "ListBuckets"),
        (synth.REPORT_MAILER.session_arn, "GetObject"),
    ]
    assert synth.THUMBNAILER_ROLE.arn == (
        "arn:aws:iam::111122223333:role/service-role/thumbnailer-role-x1y2z3"
    )
    # every function acts in the window except the idle one
    assert seen == {f.name for f in synth.FUNCTIONS}
    legacy = [
        r for r in records if r["userIdentity"].get("arn") == synth.LEGACY_CLEANUP.session_arn
    ]
    start = (UNTIL - dt.timedelta(days=DAYS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert legacy and all(r["eventTime"] < start for r in legacy)


def test_non_lambda_principals_are_present_but_not_lambda_like(
    records: list[dict[str, Any]],
) -> None:
    arns = {r["userIdentity"].get("arn") for r in records}
    issuers = {
        r["userIdentity"].get("sessionContext", {}).get("sessionIssuer", {}).get("arn")
        for r in records
    }
    assert synth.ALICE_ARN in arns
    assert synth.EC2_APP_ROLE.arn in issuers and synth.CONFIG_SERVICE_ROLE.arn in issuers
    assume = [r for r in records if r["eventName"] == "AssumeRole"]
    assert {r["requestParameters"]["roleSessionName"] for r in assume} >= {
        f.name for f in synth.FUNCTIONS if f is not synth.LEGACY_CLEANUP
    }
    assert all(r["userIdentity"] == {"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}
               for r in assume)  # fmt: skip


def _s3_calls(records: list[dict[str, Any]], function: synth.FunctionSpec) -> list[dict[str, Any]]:
    return [
        r
        for r in records
        if r["eventSource"] == "s3.amazonaws.com"
        and r["userIdentity"].get("arn") == function.session_arn
    ]


def test_tricky_s3_calls_are_all_there(records: list[dict[str, Any]]) -> None:
    thumbs = _s3_calls(records, synth.THUMBNAILER)
    names = Counter(r["eventName"] for r in thumbs)
    assert {"HeadObject", "GetObject", "PutObject", "ListObjects"} <= set(names)
    assert names["CreateMultipartUpload"] == names["CompleteMultipartUpload"] == DAYS
    assert any(r["requestParameters"].get("x-amz-acl") for r in thumbs)
    assert all(
        r["requestParameters"]["list-type"] == "2"
        for r in thumbs
        if r["eventName"] == "ListObjects"
    )
    assert sum(r.get("errorCode") == "NoSuchKey" for r in thumbs) == DAYS

    builder = _s3_calls(records, synth.REPORT_BUILDER)
    sources = [
        r["requestParameters"]["x-amz-copy-source"]
        for r in builder
        if r["eventName"] == "CopyObject"
    ]
    assert any(s.startswith("/") for s in sources) and any(not s.startswith("/") for s in sources)
    assert sum("?versionId=" in s for s in sources) == DAYS
    assert any("%20" in s for s in sources)
    deletes = [r for r in builder if r["eventName"] == "DeleteObjects"]
    assert len(deletes) == DAYS
    assert deletes[0]["resources"][0] == {
        "type": "AWS::S3::Object",
        "ARNPrefix": f"arn:aws:s3:::{synth.REPORTS_RAW_BUCKET}/",
    }
    management = {r["eventName"] for r in builder if r["eventCategory"] == "Management"}
    assert management == {"GetBucketLocation", "ListBuckets"}
    mailer = _s3_calls(records, synth.REPORT_MAILER)
    assert any("versionId" in r["requestParameters"] for r in mailer)


def test_denied_call_uses_the_real_s3_message(records: list[dict[str, Any]]) -> None:
    denied = [r for r in records if r.get("errorCode") == "AccessDenied"]
    assert len(denied) == DAYS + synth.BURST_CALLS  # one a day, and the planted burst
    assert denied[0]["errorMessage"] == (
        "User: arn:aws:sts::111122223333:assumed-role/exporter-role/exporter is not authorized "
        'to perform: s3:GetObject on resource: "arn:aws:s3:::acme-secrets/keys.txt" because no '
        "permissions boundary allows the s3:GetObject action"
    )


def test_sse_kms_events_name_the_object_and_the_key(records: list[dict[str, Any]]) -> None:
    fas = [r for r in records if r["userIdentity"].get("invokedBy") == "fas.s3.amazonaws.com"]
    assert {r["eventName"] for r in fas} == {"Decrypt", "GenerateDataKey"}
    for record in fas:
        assert record["resources"][0]["ARN"] == synth.REPORTS_KMS_KEY_ARN
        context = record["requestParameters"]["encryptionContext"]["aws:s3:arn"]
        assert context.startswith(
            (f"arn:aws:s3:::{synth.REPORTS_BUCKET}/", f"arn:aws:s3:::{synth.REPORTS_RAW_BUCKET}")
        )
    env = [
        r
        for r in records
        if r["eventSource"] == "kms.amazonaws.com"
        and r["userIdentity"].get("invokedBy") == "lambda.amazonaws.com"
    ]
    assert env and all(
        r["requestParameters"]["encryptionContext"]
        == {"aws:lambda:FunctionArn": synth.EXPORTER.arn}
        for r in env
    )


def test_duplicates_and_late_deliveries_look_like_cloudtrails(dataset: synth.SynthDataset) -> None:
    files_of: dict[str, set[str]] = defaultdict(set)
    late = 0
    for key, records in _log_files(dataset):
        folder = "".join(LOG_KEY.match(key).group("y", "m", "d"))  # type: ignore[union-attr]
        for record in records:
            files_of[record["eventID"]].add(key)
            late += record["eventTime"][:10].replace("-", "") < folder
    twice = [key_set for key_set in files_of.values() if len(key_set) > 1]
    assert len(twice) == dataset.duplicates  # each copy sits in another file
    assert late > 0  # some records arrive in the next day's folder


def test_digests_list_the_log_files_with_their_hashes(dataset: synth.SynthDataset) -> None:
    digest_paths = sorted(dataset.logs.rglob("*CloudTrail-Digest_us-east-1_*.json.gz"))
    listed = 0
    previous: bytes | None = None
    for path in digest_paths:
        body = _inflate(path)
        digest = json.loads(body)
        assert digest["digestS3Object"] == path.relative_to(dataset.logs).as_posix()
        if previous is None:
            assert digest["previousDigestHashValue"] is None
        else:
            assert digest["previousDigestHashValue"] == hashlib.sha256(previous).hexdigest()
        for entry in digest["logFiles"]:
            log_body = _inflate(dataset.logs / entry["s3Object"])
            assert hashlib.sha256(log_body).hexdigest() == entry["hashValue"]
            listed += 1
        previous = body
    log_count = sum(1 for key, _ in _log_files(dataset) if "/us-east-1/" in key)
    assert listed == log_count


def test_org_trail_and_key_prefix_change_the_keys(tmp_path: Path) -> None:
    ds = synth.generate(
        tmp_path / "org", until=UNTIL, days=1, org_trail=True, key_prefix="/team/trails/"
    )
    keys = [p.relative_to(ds.logs).as_posix() for p in ds.logs.rglob("*.json.gz")]
    assert keys and all(
        k.startswith(f"team/trails/AWSLogs/{synth.ORG_ID}/111122223333/") for k in keys
    )
    assert (ds.source_dir / "AWSLogs").is_dir()
    matches = [LOG_KEY.match(k) for k in keys if "/CloudTrail/" in k]
    assert all(m and m["prefix"] == "team/trails" and m["org"] == synth.ORG_ID for m in matches)


def test_without_data_events_no_data_event_is_written(tmp_path: Path) -> None:
    ds = synth.generate(tmp_path / "mgmt", until=UNTIL, days=2, data_events=False)
    records = _records(ds)
    assert records and all(r["eventCategory"] == "Management" for r in records)
    s3 = {
        (r["userIdentity"].get("arn"), r["eventName"]) for r in records if "s3." in r["eventSource"]
    }
    assert (synth.EU_INGEST.session_arn, "GetBucketLocation") in s3
    selectors = json.loads(ds.event_selectors.read_text())
    assert selectors["EventSelectors"][0]["DataResources"] == []


def test_event_selectors_cover_all_s3_objects_by_default(dataset: synth.SynthDataset) -> None:
    selectors = json.loads(dataset.event_selectors.read_text())
    [selector] = selectors["EventSelectors"]
    assert selector["ReadWriteType"] == "All"
    assert {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]} in selector["DataResources"]
    assert selectors["TrailARN"].endswith(":trail/main")


def test_scale_multiplies_the_volume(tmp_path: Path) -> None:
    one = synth.generate(tmp_path / "x1", until=UNTIL, days=2, scale=1)
    four = synth.generate(tmp_path / "x4", until=UNTIL, days=2, scale=4)
    assert 3.0 < four.records / one.records < 4.5
    assert four.files > one.files  # busier trails deliver more often


def test_scale_for_reaches_the_requested_record_count(tmp_path: Path) -> None:
    assert synth.scale_for(1, days=30) == 1
    assert synth.scale_for(500_000, days=30) == 28
    scale = synth.scale_for(6_000, days=2)
    ds = synth.generate(tmp_path / "target", until=UNTIL, days=2, scale=scale)
    assert ds.records >= 6_000
    assert ds.records < 6_000 * 1.5


def test_snapshot_has_the_roles_policies_and_trust(dataset: synth.SynthDataset) -> None:
    details = json.loads(dataset.iam_details.read_text())
    assert set(details) == {"UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"}
    roles = {r["Arn"]: r for r in details["RoleDetailList"]}
    for role in synth.LAMBDA_ROLES:
        entry = roles[role.arn]
        assert (entry["Path"], entry["RoleName"], entry["RoleId"]) == (
            role.path,
            role.name,
            role.role_id,
        )
        [statement] = entry["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    ec2 = roles[synth.EC2_APP_ROLE.arn]
    assert ec2["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com"
    }
    assert ec2["InstanceProfileList"][0]["Roles"][0]["Arn"] == synth.EC2_APP_ROLE.arn
    thumbnailer = roles[synth.THUMBNAILER_ROLE.arn]
    assert {p["PolicyName"] for p in thumbnailer["AttachedManagedPolicies"]} == {
        "AmazonS3FullAccess",
        "AWSLambdaBasicExecutionRole",
    }
    assert roles[synth.EXPORTER_ROLE.arn]["PermissionsBoundary"]["PermissionsBoundaryType"] == (
        "Policy"
    )
    assert roles[synth.LEGACY_CLEANUP_ROLE.arn]["RoleLastUsed"]["LastUsedDate"] < "2024-04-28"
    policies = {p["Arn"]: p for p in details["Policies"]}
    full = policies["arn:aws:iam::aws:policy/AmazonS3FullAccess"]
    [default] = [v for v in full["PolicyVersionList"] if v["IsDefaultVersion"]]
    assert default["VersionId"] == full["DefaultVersionId"] == "v2"
    assert default["Document"]["Statement"][0]["Action"] == ["s3:*", "s3-object-lambda:*"]
    attached = {
        p["PolicyArn"] for r in details["RoleDetailList"] for p in r["AttachedManagedPolicies"]
    }
    boundaries = {r["PermissionsBoundary"]["PermissionsBoundaryArn"]
                  for r in details["RoleDetailList"] if "PermissionsBoundary" in r}  # fmt: skip
    assert attached | boundaries == set(policies)


def test_function_list_matches_the_scenario(dataset: synth.SynthDataset) -> None:
    listed = json.loads(dataset.lambda_functions.read_text())["Functions"]
    assert [(f["FunctionName"], f["Role"], f["Runtime"]) for f in listed] == [
        (f.name, f.role.arn, f.runtime) for f in synth.FUNCTIONS
    ]
    assert {f["FunctionArn"].split(":")[3] for f in listed} == set(synth.REGIONS)


def test_expected_actions_name_every_lambda_role() -> None:
    assert set(synth.EXPECTED_S3_ACTIONS) == {role.arn for role in synth.LAMBDA_ROLES}
    assert synth.EXPECTED_S3_ACTIONS[synth.LEGACY_CLEANUP_ROLE.arn] == frozenset()


def test_bad_arguments_and_a_used_directory_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="days"):
        synth.generate(tmp_path / "a", until=UNTIL, days=0)
    with pytest.raises(ConfigError, match="scale"):
        synth.generate(tmp_path / "a", until=UNTIL, scale=0)
    synth.generate(tmp_path / "b", until=UNTIL, days=1)
    with pytest.raises(ConfigError, match="already holds"):
        synth.generate(tmp_path / "b", until=UNTIL, days=1)


def test_until_defaults_to_today_midnight_utc(tmp_path: Path) -> None:
    ds = synth.generate(tmp_path / "today", days=1)
    today = dt.datetime.now(dt.UTC).date()
    assert ds.until in {dt.datetime.combine(today, dt.time()),
                        dt.datetime.combine(today - dt.timedelta(days=1), dt.time())}  # fmt: skip


def test_an_until_inside_a_day_keeps_files_in_the_delivery_folders(tmp_path: Path) -> None:
    until = dt.datetime(2024, 5, 1, 12, 34, 56)
    ds = synth.generate(tmp_path / "noon", until=until, days=1)
    days = {d.strftime("%Y/%m/%d") for d in Window.ending(until, 1).delivery_days()}
    folders = set()
    for key, _ in _log_files(ds):
        match = LOG_KEY.match(key)
        assert match is not None
        folders.add(f"{match['y']}/{match['m']}/{match['d']}")
    assert folders <= days
    assert ds.events_in_window > 0 and ds.until == until


def test_a_demo_stopped_while_it_was_made_is_made_whole_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during the first `rightsizer demo` left half a tree, which the next run refused;
    now the next run makes the data set again, as a run never stopped does, and reuses it."""
    from rightsizer.synth import dataset as made

    def stopped(*args: object) -> None:
        raise KeyboardInterrupt  # after the log files, before the rest

    monkeypatch.setattr(made, "write_insight", stopped)
    with pytest.raises(KeyboardInterrupt):
        synth.demo_dataset(tmp_path / "stopped")
    assert sorted(p.name for p in (tmp_path / "stopped").iterdir()) == [made.DEMO_PARTIAL]
    monkeypatch.undo()

    again = synth.demo_dataset(tmp_path / "stopped")
    whole = synth.demo_dataset(tmp_path / "whole")
    assert _tree(again.logs) == _tree(whole.logs)
    for side_file in ("iam_details", "event_selectors", "lambda_functions"):
        assert getattr(again, side_file).read_bytes() == getattr(whole, side_file).read_bytes()
    assert (again.files, again.records, again.until) == (whole.files, whole.records, whole.until)
    assert sorted(p.name for p in again.root.iterdir()) == sorted(
        p.name for p in whole.root.iterdir()
    )
    assert synth.demo_dataset(tmp_path / "stopped") == again  # reused, from its manifest
    assert again.logs == tmp_path / "stopped" / "logs"
