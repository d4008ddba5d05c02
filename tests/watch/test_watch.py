"""Activity findings (rightsizer.watch): for each kind, a call that must be found and a near
miss that must not, on a real store through `analyze`."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from usage_events import (
    FUNCTION,
    LAMBDA_TRUST,
    ROLE,
    WINDOW,
    kms_event,
    object_resources,
    role_identity,
    s3_event,
)

from rightsizer.analyze import analyze
from rightsizer.errors import ConfigError
from rightsizer.iam.policy import parse_policy
from rightsizer.iam.snapshot import AccountSnapshot, ManagedPolicy, Role
from rightsizer.ingest import load_records
from rightsizer.model import ActivityFinding, Analysis
from rightsizer.store import connect
from rightsizer.watch import Activity, AwsIpRanges, WatchSettings
from rightsizer.window import Window

LAPTOP_AGENT = "aws-cli/2.15.30 ua/2.0 os/macos#23.4.0 md/arch#arm64 lang/python#3.11.8"
ALLOW_S3 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}
BOUNDARY_ARN = "arn:aws:iam::111122223333:policy/only-photos"


def get(bucket: str, key: str, when: str, **kw: Any) -> dict[str, Any]:
    """A GetObject of the Lambda role's session (allowed, unless `error_code` says otherwise)."""
    params = {"bucketName": bucket, "key": key}
    return s3_event("GetObject", params, resources=object_resources(bucket, key), when=when, **kw)


def denied(bucket: str, key: str, when: str, message: str = "Access Denied") -> dict[str, Any]:
    return get(bucket, key, when, error_code="AccessDenied", error_message=message)


def at(day: int, hour: int = 12, minute: int = 0) -> str:
    return f"2026-10-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def analysis_of(
    tmp_path: Path,
    records: Sequence[dict[str, Any]],
    *,
    policy: Mapping[str, Any] = ALLOW_S3,
    boundary: Mapping[str, Any] | None = None,
    functions: tuple[str, ...] = (FUNCTION,),
    settings: WatchSettings | None = None,
    window: Window = WINDOW,
) -> Analysis:
    """The analysis of the records, the role holding `policy` (and `boundary`) today."""
    role = Role(
        arn=ROLE,
        name=ROLE.rsplit("/", 1)[-1],
        path="/service-role/",
        trust_policy=parse_policy(LAMBDA_TRUST),
        inline_policies={"app": parse_policy(policy)},
        permissions_boundary=(
            ManagedPolicy(BOUNDARY_ARN, "only-photos", parse_policy(boundary))
            if boundary is not None
            else None
        ),
        functions=functions,
    )
    tmp_path.mkdir(parents=True, exist_ok=True)
    conn = connect(tmp_path / "w.duckdb")
    try:
        load_records(conn, list(records))
        return analyze(conn, window, AccountSnapshot(roles={ROLE: role}), watch_settings=settings)
    finally:
        conn.close()


def found(analysis: Analysis, code: Activity) -> list[ActivityFinding]:
    return [f for f in analysis.findings if f.code == code]


# --- credentials used outside Lambda ---------------------------------------------------------


def test_a_session_used_with_a_laptop_user_agent_is_found(tmp_path: Path) -> None:
    laptop = get(
        "photos", "in/a.jpg", at(20), user_agent=LAPTOP_AGENT, sourceIPAddress="198.51.100.7"
    )
    analysis = analysis_of(tmp_path, [get("photos", "in/a.jpg", at(20, 11)), laptop])
    (finding,) = found(analysis, Activity.CREDENTIALS_OUTSIDE_LAMBDA)
    assert finding.severity == "high" and finding.role_arn == ROLE
    assert finding.subject == f"session {FUNCTION} from 198.51.100.7"
    assert "a user agent without exec-env/AWS_Lambda" in finding.message
    assert finding.evidence.event_ids == (laptop["eventID"],)
    assert finding.evidence.user_agents == (LAPTOP_AGENT,)
    assert finding.evidence.first_seen == dt.datetime(2026, 10, 20, 12)


def test_lambda_calls_and_calls_a_service_makes_for_the_role_are_not_found(
    tmp_path: Path,
) -> None:
    records = [
        get("photos", "in/a.jpg", at(20), sourceIPAddress="198.51.100.7"),  # a public address
        kms_event("Decrypt", "arn:aws:s3:::photos/in/a.jpg", when=at(20)),  # S3 on its behalf
    ]
    analysis = analysis_of(tmp_path, records)
    assert analysis.findings == ()
    assert analysis.watch is not None and any("--aws-ip-ranges" in n for n in analysis.watch.notes)


def test_a_session_named_after_no_function_of_the_role_is_found(tmp_path: Path) -> None:
    intruder = get("photos", "in/a.jpg", at(20), identity=role_identity(session="intruder"))
    analysis = analysis_of(tmp_path, [get("photos", "in/a.jpg", at(19)), intruder])
    (finding,) = found(analysis, Activity.CREDENTIALS_OUTSIDE_LAMBDA)
    assert finding.subject.startswith("session intruder from ")
    assert "a session name, 'intruder', that is no function of the role" in finding.message
    # Near miss: when the snapshot does not name the role's functions, no name can be wrong.
    unknown = analysis_of(tmp_path / "unknown", [intruder], functions=())
    assert found(unknown, Activity.CREDENTIALS_OUTSIDE_LAMBDA) == []


def test_with_aws_ranges_only_a_public_address_outside_them_is_found(tmp_path: Path) -> None:
    ranges_file = tmp_path / "ip-ranges.json"
    ranges_file.write_text(
        json.dumps(
            {
                "prefixes": [{"ip_prefix": "3.0.0.0/15", "region": "eu-west-1"}],
                "ipv6_prefixes": [{"ipv6_prefix": "2600:1f00::/24"}],
            }
        )
    )
    settings = WatchSettings(ip_ranges=AwsIpRanges.load(ranges_file))
    records = [
        get("photos", "in/a.jpg", at(20), sourceIPAddress="3.1.2.3"),  # AWS's
        get("photos", "in/b.jpg", at(20), sourceIPAddress="10.1.2.3"),  # a VPC's
        get("photos", "in/c.jpg", at(20), sourceIPAddress="198.51.100.7"),  # neither
    ]
    analysis = analysis_of(tmp_path, records, settings=settings)
    (finding,) = found(analysis, Activity.CREDENTIALS_OUTSIDE_LAMBDA)
    assert finding.subject == f"session {FUNCTION} from 198.51.100.7"
    assert "outside AWS's published ranges" in finding.message
    assert analysis.watch is not None and analysis.watch.aws_ip_ranges


def test_a_file_that_is_not_aws_ranges_is_refused_naming_it(tmp_path: Path) -> None:
    wrong = tmp_path / "ranges.json"
    wrong.write_text('{"syncToken": "1"}')
    with pytest.raises(ConfigError, match=r"ranges\.json: not AWS's ip-ranges\.json"):
        AwsIpRanges.load(wrong)


# --- first seen ------------------------------------------------------------------------------


def test_a_bucket_and_a_prefix_first_used_in_the_recent_days_are_found(tmp_path: Path) -> None:
    records = [
        get("photos", "in/a.jpg", at(2)),  # history: 22.5 days before the recent week
        get("photos", "in/b.jpg", at(28)),  # used before: nothing new
        get("photos", "out/c.jpg", at(28)),  # a new folder of a known bucket
        get("exports", "day/1.csv", at(29, 8)),  # a new bucket (its folder comes with it)
        get("exports", "day/2.csv", at(29, 9)),
    ]
    analysis = analysis_of(tmp_path, records)
    subjects = {f.subject: f for f in found(analysis, Activity.FIRST_SEEN)}
    assert set(subjects) == {"bucket exports", "prefix photos/out/"}
    bucket = subjects["bucket exports"]
    assert bucket.evidence.count == 2 and bucket.evidence.event_ids == (
        records[3]["eventID"],
        records[4]["eventID"],
    )
    assert "none in the 22 days of history before 2026-10-25" in bucket.message
    assert analysis.watch is not None and analysis.watch.first_seen_judged
    assert analysis.watch.history_days == 22


def test_a_bucket_used_before_the_recent_days_is_not_new(tmp_path: Path) -> None:
    records = [get("photos", "in/a.jpg", at(2)), get("exports", "day/0.csv", at(3))]
    records += [get("exports", "day/1.csv", at(29)), get("photos", "in/b.jpg", at(29))]
    assert found(analysis_of(tmp_path, records), Activity.FIRST_SEEN) == []


def test_without_enough_history_nothing_is_judged_new(tmp_path: Path) -> None:
    records = [get("photos", "in/a.jpg", at(20)), get("exports", "day/1.csv", at(29))]
    analysis = analysis_of(tmp_path, records)  # 4.5 days before the recent week: fewer than 7
    assert found(analysis, Activity.FIRST_SEEN) == []
    assert analysis.watch is not None and not analysis.watch.first_seen_judged
    assert any(
        "4 days of history" in n and "nothing can be judged new" in n for n in analysis.watch.notes
    )
    # The same store judged with a threshold the history meets.
    settings = WatchSettings(min_history_days=4)
    again = analysis_of(tmp_path / "again", records, settings=settings)
    assert [f.subject for f in found(again, Activity.FIRST_SEEN)] == ["bucket exports"]


# --- denied calls: bursts and policy changes -------------------------------------------------


def test_a_burst_of_denied_calls_above_the_usual_rate_is_found(tmp_path: Path) -> None:
    records = [denied("secrets", "k", at(5)), denied("secrets", "k", at(12))]
    records += [denied("secrets", "k", at(20, 10, minute)) for minute in range(25)]
    analysis = analysis_of(tmp_path, records)
    (burst,) = found(analysis, Activity.DENIED_BURST)
    assert burst.subject == "denied calls from 2026-10-20T10:00Z"
    assert burst.evidence.count == 25 and burst.severity == "medium"


def test_denied_calls_below_the_minimum_or_at_the_usual_rate_are_no_burst(tmp_path: Path) -> None:
    few = [denied("secrets", "k", at(20, 10, minute)) for minute in range(19)]
    assert found(analysis_of(tmp_path / "few", few), Activity.DENIED_BURST) == []
    # 25 an hour, every hour of a two-day window: that is the role's usual rate.
    window = Window(dt.datetime(2026, 10, 1), dt.datetime(2026, 10, 3))
    steady = [
        denied("secrets", "k", at(day, hour, minute))
        for day in (1, 2)
        for hour in range(24)
        for minute in range(0, 50, 2)
    ]
    assert (
        found(analysis_of(tmp_path / "steady", steady, window=window), Activity.DENIED_BURST) == []
    )


def iam_change(event_name: str, when: str, **parameters: str) -> dict[str, Any]:
    """An IAM management event by a user (us-east-1, as IAM's global events are logged)."""
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": "arn:aws:iam::111122223333:user/alice",
            "accountId": "111122223333",
            "userName": "alice",
        },
        "eventTime": when,
        "eventSource": "iam.amazonaws.com",
        "eventName": event_name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.23",
        "userAgent": LAPTOP_AGENT,
        "requestParameters": dict(parameters),
        "responseElements": None,
        "eventID": f"iam-{event_name}-{when}",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management",
    }


def test_denied_calls_after_a_change_to_the_role_policy_are_found(tmp_path: Path) -> None:
    change = iam_change("PutRolePolicy", at(20, 9, 30), roleName="resize-role", policyName="app")
    records = [get("photos", "in/a.jpg", at(2)), change]
    records += [denied("photos", f"in/{n}.jpg", at(20, 10 + n)) for n in range(3)]
    analysis = analysis_of(tmp_path, records)
    (finding,) = found(analysis, Activity.DENIED_AFTER_POLICY_CHANGE)
    assert finding.subject == f"PutRolePolicy {change['eventID']}"
    assert "3 denied calls in the 24 hours after PutRolePolicy on resize-role" in finding.message
    assert finding.evidence.event_ids[0] == change["eventID"]
    assert analysis.watch is not None and analysis.watch.policy_change_events == 1
    assert not any("no IAM events" in n for n in analysis.watch.notes)


def test_denied_calls_as_frequent_before_a_change_are_not_blamed_on_it(tmp_path: Path) -> None:
    change = iam_change("PutRolePolicy", at(20, 12), roleName="resize-role", policyName="app")
    other = iam_change("PutRolePolicy", at(20, 12, 5), roleName="another-role", policyName="x")
    records = [change, other]
    records += [denied("photos", "in/x.jpg", at(20, hour)) for hour in (4, 8, 11, 13, 16, 20)]
    analysis = analysis_of(tmp_path, records)
    assert found(analysis, Activity.DENIED_AFTER_POLICY_CHANGE) == []


def test_without_iam_events_the_basis_says_changes_cannot_be_seen(tmp_path: Path) -> None:
    analysis = analysis_of(tmp_path, [denied("photos", "in/x.jpg", at(20))])
    assert analysis.watch is not None and analysis.watch.policy_change_events == 0
    assert any(
        "the store holds no IAM events" in n and "global service events" in n
        for n in analysis.watch.notes
    )


# --- which policy blocks a denied call -------------------------------------------------------


def troubleshot(analysis: Analysis) -> dict[str, ActivityFinding]:
    return {f.subject: f for f in found(analysis, Activity.DENIED_CALL)}


def test_a_permission_the_identity_policy_lacks_gets_its_smallest_statement(
    tmp_path: Path,
) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}
        ],
    }
    records = [get("photos", "in/a.jpg", at(20))]
    records += [
        s3_event(
            "PutObject",
            {"bucketName": "photos", "key": "out/b*.jpg"},
            resources=object_resources("photos", "out/b*.jpg"),
            when=at(20, 13),
            error_code="AccessDenied",
            read_only=False,
        )
    ]
    analysis = analysis_of(tmp_path, records, policy=policy)
    finding = troubleshot(analysis)["s3:PutObject on arn:aws:s3:::photos/out/b*.jpg (AccessDenied)"]
    assert finding.blocked_by == "identity-policy"
    assert finding.statement == {
        "Effect": "Allow",
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::photos/out/b${*}.jpg",
    }
    assert f"{FUNCTION} tried s3:PutObject" in finding.message and "1 time " in finding.message
    assert finding.evidence.event_ids == (records[1]["eventID"],)
    # Never granted: the recommendation holds no PutObject.
    (role,) = analysis.roles
    assert "s3:PutObject" not in json.dumps(role.recommended_policy)


def test_a_deny_a_boundary_and_a_resource_policy_are_told_apart(tmp_path: Path) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::vault/*"},
        ],
    }
    boundary = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::vault/*", "arn:aws:s3:::shared/*"],
            }
        ],
    }
    records = [
        denied("vault", "k", at(20)),  # the identity policy's Deny
        denied("other", "k", at(20)),  # not in the boundary
        denied("shared", "k", at(20)),  # allowed by both: a bucket policy, an SCP, ...
    ]
    analysis = analysis_of(tmp_path, records, policy=policy, boundary=boundary)
    causes = {
        s.split(" ")[2]: (f.blocked_by, f.statement) for s, f in troubleshot(analysis).items()
    }
    assert causes == {
        "arn:aws:s3:::vault/k": ("identity-deny", None),
        "arn:aws:s3:::other/k": ("permissions-boundary", None),
        "arn:aws:s3:::shared/k": ("resource-policy", None),
    }


def test_the_cause_the_error_message_states_comes_first(tmp_path: Path) -> None:
    message = (
        "User: arn:aws:sts::111122223333:assumed-role/resize-role/resize is not authorized to "
        'perform: s3:GetObject on resource: "arn:aws:s3:::shared/k" because no resource-based '
        "policy allows the s3:GetObject action"
    )
    analysis = analysis_of(tmp_path, [denied("shared", "k", at(20), message)])
    (finding,) = troubleshot(analysis).values()
    assert finding.blocked_by == "resource-policy"
    assert "the error message says a resource policy" in finding.message


def test_calls_that_failed_after_authorization_are_not_denied_calls(tmp_path: Path) -> None:
    gone = get("photos", "in/gone.jpg", at(20), error_code="NoSuchKey")
    analysis = analysis_of(tmp_path, [gone])
    assert analysis.findings == ()
