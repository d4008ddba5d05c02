"""Which principals count as Lambda roles, the window edges, denied calls, KMS keys, unmapped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from usage_events import (
    ACCOUNT,
    FUNCTION,
    ROLE,
    kms_event,
    needs,
    object_resources,
    role_identity,
    s3_event,
    usage_of,
)

OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/etl-role"
EC2_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ec2-app-role"
USER = {
    "type": "IAMUser",
    "principalId": "AIDAEXAMPLE",
    "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
    "accountId": ACCOUNT,
    "userName": "alice",
}
CLI_AGENT = "aws-cli/2.17.0 md/awscrt#0.21.2 ua/2.0 os/macos#23.6.0 md/command#s3api.get-object"


def _get(key: str, **kwargs: Any) -> dict[str, Any]:
    return s3_event(
        "GetObject",
        {"bucketName": "photos", "key": key},
        resources=object_resources("photos", key),
        **kwargs,
    )


def test_lambda_roles_are_found_from_the_user_agent(tmp_path: Path) -> None:
    records = [
        _get("a.jpg"),
        _get("b.jpg", identity=role_identity(ROLE, "thumbnailer")),
        # The same role assumed from a laptop still acts with the role's policy.
        _get("c.jpg", identity=role_identity(ROLE, "debug-session"), user_agent=CLI_AGENT),
        _get(
            "d.jpg", identity=role_identity(EC2_ROLE, "i-0abc1234def567890"), user_agent=CLI_AGENT
        ),
        _get("e.jpg", identity=USER, user_agent=CLI_AGENT),
    ]
    report = usage_of(tmp_path, records)
    assert set(report.roles) == {ROLE}
    usage = report.roles[ROLE]
    assert usage.functions == (FUNCTION, "thumbnailer")
    assert (usage.role_name, usage.account, usage.regions) == (
        "resize-role",
        ACCOUNT,
        ("eu-west-1",),
    )
    assert {resource for _, resource in needs(report)} == {
        f"arn:aws:s3:::photos/{key}" for key in ("a.jpg", "b.jpg", "c.jpg")
    }


def test_roles_from_the_snapshot_appear_even_when_idle(tmp_path: Path) -> None:
    records = [
        _get("a.jpg"),
        _get("x.jpg", identity=role_identity(OTHER_ROLE, "etl")),  # a Lambda, not listed
        _get("e.jpg", identity=USER, user_agent=CLI_AGENT),
    ]
    idle_role = f"arn:aws:iam::{ACCOUNT}:role/service-role/legacy-cleanup-role"
    report = usage_of(
        tmp_path, records, lambda_roles={ROLE: ["resize", "resize"], idle_role: ["cleanup"]}
    )
    assert list(report.roles) == [idle_role, ROLE]
    assert report.roles[ROLE].functions == ("resize",)
    idle = report.roles[idle_role]
    assert idle.idle and idle.functions == ("cleanup",)
    assert (idle.calls, idle.used, idle.denied, idle.regions) == ((), (), (), ())


def test_the_role_keeps_its_path_from_the_session_issuer(tmp_path: Path) -> None:
    # The assumed-role ARN has no path; matching it by name would miss /service-role/.
    report = usage_of(tmp_path, [_get("a.jpg")], lambda_roles={ROLE: [FUNCTION]})
    assert report.roles[ROLE].used[0].resource == "arn:aws:s3:::photos/a.jpg"


def test_the_window_includes_its_start_and_excludes_its_end(tmp_path: Path) -> None:
    records = [
        _get("before.jpg", when="2026-09-30T23:59:59Z"),
        _get("start.jpg", when="2026-10-01T00:00:00Z"),
        _get("last.jpg", when="2026-10-31T23:59:59Z"),
        _get("end.jpg", when="2026-11-01T00:00:00Z"),
    ]
    report = usage_of(tmp_path, records, lambda_roles={ROLE: [FUNCTION]})
    keys = {resource.rsplit("/", 1)[1] for _, resource in needs(report)}
    assert keys == {"start.jpg", "last.jpg"}


def test_denied_calls_are_reported_and_never_usage(tmp_path: Path) -> None:
    message = (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/resize-role/resize is not authorized to "
        'perform: s3:GetObject on resource: "arn:aws:s3:::secrets/keys.txt" because no '
        "identity-based policy allows the s3:GetObject action"
    )
    denied = s3_event(
        "GetObject",
        {"bucketName": "secrets", "key": "keys.txt"},
        resources=object_resources("secrets", "keys.txt"),
        error_code="AccessDenied",
        error_message=message,
    )
    expired = _get("a.jpg", error_code="ExpiredToken")
    missing = _get("gone.jpg", error_code="NoSuchKey")
    report = usage_of(tmp_path, [denied, denied | {"eventID": "again"}, expired, missing])
    usage = report.roles[ROLE]
    assert {(u.action, u.resource) for u in usage.used} == {
        ("s3:GetObject", "arn:aws:s3:::photos/gone.jpg"),
        ("s3:ListBucket", "arn:aws:s3:::photos"),
    }
    by_code = {d.error_code: d for d in usage.denied}
    assert set(by_code) == {"AccessDenied", "ExpiredToken"}
    access = by_code["AccessDenied"]
    assert (access.count, access.denied_action, access.denied_resource) == (
        2,
        "s3:GetObject",
        "arn:aws:s3:::secrets/keys.txt",
    )
    # The mapping agrees with what S3 said it checked.
    assert (access.denied_action, access.denied_resource) in access.needs
    assert by_code["ExpiredToken"].denied_action is None


def test_sse_kms_keys_used_through_s3_are_credited_to_the_role(tmp_path: Path) -> None:
    key = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    records = [
        kms_event("Decrypt", "arn:aws:s3:::reports/2026/a.csv"),
        kms_event("Decrypt", "arn:aws:s3:::reports/2026/b.csv", invoked_by="s3.amazonaws.com"),
        kms_event("GenerateDataKey", "arn:aws:s3:::raw"),  # a Bucket Key: the bucket ARN
        # Lambda decrypting the environment is the deployer's business, not the role's.
        kms_event("Decrypt", "arn:aws:s3:::reports/x", invoked_by="lambda.amazonaws.com"),
        kms_event("Decrypt", "arn:aws:s3:::reports/y", invoked_by=None),
        kms_event("Decrypt", "arn:aws:s3:::reports/z", identity=role_identity(OTHER_ROLE, "etl")),
    ]
    report = usage_of(tmp_path, records, lambda_roles={ROLE: [FUNCTION]})
    uses = {(k.key_arn, k.operation, k.bucket_arn, k.count) for k in report.roles[ROLE].kms_keys}
    assert uses == {
        (key, "Decrypt", "arn:aws:s3:::reports", 2),
        (key, "GenerateDataKey", "arn:aws:s3:::raw", 1),
    }


def test_unknown_names_and_other_s3_services_are_reported_not_dropped(tmp_path: Path) -> None:
    records = [
        s3_event("GetObjectFromTheFuture", {"bucketName": "photos", "key": "a"}),
        s3_event(
            "PutObject", {"bucketName": "dir--use1-az4--x-s3"}, source="s3express.amazonaws.com"
        ),
        s3_event("CopyObject", {"bucketName": "photos", "key": "b"}, read_only=False),
        _get("a.jpg"),
    ]
    report = usage_of(tmp_path, records)
    assert {(u.event_source, u.event_name, u.reason, u.count) for u in report.unmapped} == {
        ("s3.amazonaws.com", "GetObjectFromTheFuture", "no_mapping", 1),
        ("s3express.amazonaws.com", "PutObject", "other_s3_service", 1),
        ("s3.amazonaws.com", "CopyObject", "no_resource", 1),
    }
    (copy,) = [c for c in report.roles[ROLE].calls if c.event_name == "CopyObject"]
    assert not copy.complete
    assert copy.needs == (("s3:PutObject", "arn:aws:s3:::photos/b"),)


def test_a_call_delivered_to_two_accounts_counts_once(tmp_path: Path) -> None:
    mine = _get("a.jpg", sharedEventID="5a7f-shared")
    owners_copy = mine | {"eventID": "owner-copy", "recipientAccountId": "444455556666"}
    report = usage_of(tmp_path, [owners_copy, mine])
    (call,) = report.roles[ROLE].calls
    assert call.count == 1 and call.example_event_id == mine["eventID"]


def test_service_events_are_not_calls(tmp_path: Path) -> None:
    event = _get("a.jpg", eventType="AwsServiceEvent")
    report = usage_of(tmp_path, [event, _get("b.jpg")])
    assert {resource for _, resource in needs(report)} == {"arn:aws:s3:::photos/b.jpg"}
    assert report.unmapped == ()
