"""Bad and tricky policies: a clear PolicyError or a correct recommendation, never a crash.

Tricky documents (NotAction, NotResource, Deny, conditions, wildcards, 5,000 statements) go
through `recommend` and `analyze`; every result is checked the same way: each used call today's
policies allow is still allowed, nothing is allowed that today's policies do not allow, and the
same input gives the same policy.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from usage_events import LAMBDA_TRUST, WINDOW, object_resources, role_identity, s3_event

from rightsizer.analyze import analyze
from rightsizer.coverage import Coverage, ObservedRegion
from rightsizer.errors import PolicyError
from rightsizer.generate import INLINE_POLICY_LIMIT, recommend
from rightsizer.iam.policy import PolicyDocument, is_allowed, parse_policy, policy_size
from rightsizer.iam.snapshot import Role, load_snapshot_file
from rightsizer.ingest import load_records
from rightsizer.store import connect
from rightsizer.usage import RoleUsage, S3Call, UsedPermission
from rightsizer.verify import replay

ACCOUNT = "111122223333"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/service-role/fn-role"
# Data events seen for reads and writes: the logs can show every use.
COVERED = Coverage(observed=(ObservedRegion(ACCOUNT, "us-east-1", 10, 10),))
T0 = dt.datetime(2026, 10, 10, 12, 0)
GET = "s3:GetObject"
PUT = "s3:PutObject"
DATA_KEY = "arn:aws:s3:::data/in/2026/report.csv"
SECRET_KEY = "arn:aws:s3:::secret/keys/prod.pem"
# Requests every recommendation is probed with: it may allow one only if today's policy does.
PROBES = [
    (GET, DATA_KEY),
    (PUT, DATA_KEY),
    ("s3:DeleteObject", DATA_KEY),
    (GET, SECRET_KEY),
    (PUT, SECRET_KEY),
    ("s3:ListBucket", "arn:aws:s3:::data"),
    ("s3:ListBucket", "arn:aws:s3:::secret"),
    ("s3:DeleteBucket", "arn:aws:s3:::data"),
    ("s3:PutBucketPolicy", "arn:aws:s3:::data"),
    ("s3:GetObject", "arn:aws:s3:::other/x"),
    ("s3:ListAllMyBuckets", "*"),
    ("iam:PassRole", "arn:aws:iam::111122223333:role/admin"),
    ("logs:PutLogEvents", "arn:aws:logs:us-east-1:111122223333:log-group:/aws/lambda/fn:*"),
]


def role_with(*statements: dict[str, Any], version: str | None = "2012-10-17") -> Role:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        document["Version"] = version
    policy = parse_policy(document, name="inline")
    return Role(arn=ROLE_ARN, name="fn-role", path="/service-role/", inline_policies={"p": policy})


def usage(*pairs: tuple[str, str]) -> RoleUsage:
    """One successful call per (action, resource), by function `fn`."""
    calls = tuple(
        S3Call("fn", "us-east-1", a.split(":")[1], "success", ((a, r),), True, 1, T0, T0, f"e{i}")
        for i, (a, r) in enumerate(pairs)
    )
    used = tuple(UsedPermission(a, r, 1, T0, T0) for a, r in pairs)
    return RoleUsage(ROLE_ARN, "fn-role", ACCOUNT, ("fn",), calls, used, (), (), (), ("us-east-1",))


def check(role: Role, *used: tuple[str, str]) -> PolicyDocument:
    """Recommend for `used`; assert the three promises; return the recommended policy."""
    role_usage = usage(*used)
    rec = recommend(role, role_usage, COVERED)
    assert replay(rec.policy, role.policies, role_usage.used).ok
    for action, resource in [*PROBES, *used]:
        if is_allowed(rec.policy, action, resource, conditional_deny="ignore"):
            assert is_allowed(role.policies, action, resource, conditional_deny="ignore"), (
                action,
                resource,
            )
    assert recommend(role, role_usage, COVERED).policy == rec.policy
    json.dumps(rec.used, default=str)  # the analysis JSON can hold it
    return rec.policy


# --- tricky but valid documents ------------------------------------------------------------


def test_not_action_allow_is_narrowed_and_its_other_services_kept() -> None:
    everything_but_iam = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    policy = check(role_with(everything_but_iam), (GET, DATA_KEY))
    assert is_allowed(policy, GET, DATA_KEY)
    assert not is_allowed(policy, PUT, DATA_KEY)
    assert is_allowed(policy, *PROBES[-1])  # logs: still granted, out of scope
    assert not is_allowed(policy, "iam:PassRole", PROBES[-2][1])


def test_not_resource_allow_never_reaches_the_excluded_bucket() -> None:
    all_but_secret = {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"}
    policy = check(role_with(all_but_secret), (GET, DATA_KEY), (PUT, DATA_KEY))
    assert not is_allowed(policy, GET, SECRET_KEY)


def test_a_use_today_s_policy_denies_is_never_granted() -> None:
    statements = [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::secret/*"},
    ]
    role = role_with(*statements)
    rec = recommend(role, usage((GET, DATA_KEY), (GET, SECRET_KEY)), COVERED)
    assert not is_allowed(rec.policy, GET, SECRET_KEY)
    assert {"action": GET, "resource": SECRET_KEY, "count": 1} in rec.not_granted
    check(role, (GET, DATA_KEY), (GET, SECRET_KEY))


def test_deny_with_not_resource_and_conditions_is_kept() -> None:
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": ["s3:Get*", "s3:Put*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "NotResource": ["arn:aws:s3:::data/*"]},
        {
            "Sid": "TlsOnly",
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    ]
    policy = check(role_with(*statements), (GET, DATA_KEY))
    sids = [st.sid for st in policy.statements]
    assert "TlsOnly" in sids
    denies = [st for st in policy.statements if st.effect == "Deny"]
    assert len(denies) == 2


def test_conditional_allow_carries_its_condition() -> None:
    condition = {"StringEquals": {"s3:ExistingObjectTag/team": "data"}}
    allow = {"Effect": "Allow", "Action": GET, "Resource": "*", "Condition": condition}
    policy = check(role_with(allow), (GET, DATA_KEY))
    (s3,) = [st for st in policy.statements if st.sid and st.sid.startswith("S3")]
    assert s3.condition == condition


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:s3:::d?ta/*",
        "arn:aws:s3:::data/in/*/report.csv",
        "arn:aws:s3:::*",
        "arn:aws:s3:::data/${aws:username}/*",
        "arn:aws:s3:::data/in/2026/report.csv",
    ],
)
def test_wildcards_and_policy_variables_in_today_s_resource(resource: str) -> None:
    allow = {"Effect": "Allow", "Action": ["S3:GETOBJECT", "s3:get*"], "Resource": resource}
    role = role_with(allow)
    policy = check(role, (GET, DATA_KEY))
    assert is_allowed(policy, GET, DATA_KEY) == is_allowed(role.policies, GET, DATA_KEY)


def test_a_2008_document_reads_dollar_braces_literally() -> None:
    allow = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/${x}/*"}
    role = role_with(allow, version="2008-10-17")
    assert is_allowed(role.policies, GET, "arn:aws:s3:::data/${x}/k")
    check(role, (GET, "arn:aws:s3:::data/${x}/k"))


def test_a_single_statement_object_and_no_version() -> None:
    document = {"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}
    role = Role(arn=ROLE_ARN, name="fn-role", inline_policies={"p": parse_policy(document)})
    policy = check(role, (GET, DATA_KEY))
    assert is_allowed(policy, GET, DATA_KEY) and not is_allowed(policy, PUT, DATA_KEY)


def test_five_thousand_statements() -> None:
    """A huge current policy: the result is still right, and fits IAM's limit."""
    statements = [
        {
            "Sid": f"B{i}",
            "Effect": "Allow",
            "Action": [GET, PUT],
            "Resource": f"arn:aws:s3:::b{i}/*",
        }
        for i in range(5000)
    ]
    statements.append({"Effect": "Deny", "Action": PUT, "Resource": "arn:aws:s3:::b7/*"})
    role = role_with(*statements)
    used = [(GET, f"arn:aws:s3:::b{i}/k/{i}.json") for i in range(0, 5000, 500)]
    used.append((PUT, "arn:aws:s3:::b7/k/x"))  # denied today: never granted
    started = time.monotonic()
    policy = check(role, *used)
    elapsed = time.monotonic() - started
    assert all(is_allowed(policy, a, r) for a, r in used[:-1])
    assert not is_allowed(policy, PUT, "arn:aws:s3:::b7/k/x")
    assert not is_allowed(policy, GET, "arn:aws:s3:::b1/k")  # unused bucket dropped
    assert policy_size(policy) <= INLINE_POLICY_LIMIT
    print(f"5,000-statement policy: recommended in {elapsed:.2f} s")


# --- malformed documents: PolicyError with a message naming the problem ---------------------


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"Version": "2012-10-17", "Statement": [', "is not valid JSON"),
        ("%7B%22Version%22", "is not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        ("[]", "is not a JSON object"),
        ({"Version": "2012-10-17", "Statements": []}, "unknown key 'Statements'"),
        ({"Version": "2012-10-17"}, "has no Statement"),
        ({"Version": "2013-01-01", "Statement": []}, "Version '2013-01-01'"),
        ({"Statement": [{"Effect": "allow", "Action": "s3:*", "Resource": "*"}]}, "Effect"),
        ({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resources": "*"}]}, "Resources"),
        ({"Statement": [{"Effect": "Allow", "Action": "s3:*"}]}, "neither Resource"),
        ({"Statement": [{"Effect": "Allow", "Action": 5, "Resource": "*"}]}, "Action must be"),
        ({"Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}, "empty list"),
        ({"Statement": [{"Effect": "Allow", "Action": "GetObject", "Resource": "*"}]}, "service"),
        (
            {
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:*", "NotAction": "iam:*", "Resource": "*"}
                ]
            },
            "exactly one of Action and NotAction",
        ),
        (
            {
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": []}
                ]
            },
            "Condition must map",
        ),
        ({"Statement": ["s3:*"]}, "is not a JSON object"),
        ({"Statement": "s3:*"}, "Statement must be"),
    ],
)
def test_malformed_documents_are_one_line_policy_errors(document: Any, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(document, name="app-data")
    text = str(caught.value)
    assert message in text and "app-data" in text and "\n" not in text


# --- snapshot files ------------------------------------------------------------------------


def snapshot(tmp_path: Path, **role_fields: Any) -> Path:
    role: dict[str, Any] = {
        "Arn": ROLE_ARN,
        "RoleName": "fn-role",
        "Path": "/service-role/",
        "AssumeRolePolicyDocument": LAMBDA_TRUST,
        "RolePolicyList": [],
        "AttachedManagedPolicies": [],
    }
    role.update(role_fields)
    path = tmp_path / "iam.json"
    path.write_text(json.dumps({"RoleDetailList": [role], "Policies": []}))
    return path


def inline(document: Any) -> list[dict[str, Any]]:
    return [{"PolicyName": "app", "PolicyDocument": document}]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"RolePolicyList": inline('{"Statement": [')}, "inline policy app of role fn-role"),
        ({"RolePolicyList": inline({"Statements": []})}, "unknown key 'Statements'"),
        ({"RolePolicyList": inline(5)}, "is not a JSON object"),
        ({"RolePolicyList": ["app"]}, "has no PolicyName"),
        ({"AssumeRolePolicyDocument": "%7B"}, "trust policy of role fn-role"),
        ({"AttachedManagedPolicies": ["arn:aws:iam::aws:policy/X"]}, "has no PolicyArn"),
    ],
)
def test_malformed_snapshots_name_the_file_and_the_policy(
    tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    path = snapshot(tmp_path, **fields)
    with pytest.raises(PolicyError) as caught:
        load_snapshot_file(path)
    text = str(caught.value)
    assert message in text and str(path) in text and "\n" not in text


# Entries of the wrong JSON type where IAM prints a list or an object: today these raise
# TypeError / AttributeError from iam/snapshot.py instead of a PolicyError.
WRONG_TYPES = [
    {"RolePolicyList": 5},
    {"PermissionsBoundary": "arn:aws:iam::aws:policy/X"},
    {"Arn": 5},
    {"Arn": "fn-role"},
]


@pytest.mark.parametrize("fields", WRONG_TYPES)
def test_snapshot_entries_of_the_wrong_type_are_policy_errors(
    tmp_path: Path, fields: dict[str, Any]
) -> None:
    path = snapshot(tmp_path, **fields)
    with pytest.raises(PolicyError, match=r"iam\.json"):
        load_snapshot_file(path)


# --- the whole analysis --------------------------------------------------------------------


TRICKY_ROLES: dict[str, list[dict[str, Any]]] = {
    "not-action": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}],
    "not-resource": [{"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"}],
    "deny": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::secret/*"},
    ],
    "conditional": [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": "arn:aws:s3:::data/*",
            "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
        }
    ],
    "wildcards": [{"Effect": "Allow", "Action": "s3:*Object", "Resource": "arn:aws:s3:::d?ta/*"}],
}


def test_analyze_with_tricky_policies_is_correct_for_every_role(tmp_path: Path) -> None:
    roles = []
    records = []
    for name, statements in TRICKY_ROLES.items():
        arn = f"arn:aws:iam::{ACCOUNT}:role/{name}"
        roles.append(
            {
                "Arn": arn,
                "RoleName": name,
                "Path": "/",
                "AssumeRolePolicyDocument": LAMBDA_TRUST,
                "RolePolicyList": inline({"Version": "2012-10-17", "Statement": statements}),
                "AttachedManagedPolicies": [],
            }
        )
        identity = role_identity(arn, f"{name}-fn")
        for event, bucket, key in [
            ("GetObject", "data", "in/2026/report.csv"),
            ("PutObject", "data", "out/result.json"),
            ("GetObject", "secret", "keys/prod.pem"),
        ]:
            records.append(
                s3_event(
                    event,
                    {"bucketName": bucket, "key": key},
                    resources=object_resources(bucket, key),
                    identity=identity,
                    read_only=event == "GetObject",
                )
            )
    path = tmp_path / "iam.json"
    path.write_text(json.dumps({"RoleDetailList": roles, "Policies": []}))
    snap = load_snapshot_file(path)
    conn = connect(tmp_path / "a.duckdb")
    load_records(conn, records)
    result = analyze(conn, WINDOW, snap)
    again = analyze(conn, WINDOW, snap)
    conn.close()
    assert result.refused == ()
    assert json.dumps(result.data, sort_keys=True) == json.dumps(again.data, sort_keys=True)
    by_name = {r["role_name"]: r for r in result.data["roles"]}
    assert set(by_name) == set(TRICKY_ROLES)
    for name, entry in by_name.items():
        codes = {w["code"] for w in entry["warnings"]}
        assert "verification-failed" not in codes, (name, entry["warnings"])
        current = parse_policy(entry["current_policy"])
        recommended = parse_policy(entry["recommended_policy"])
        for action, resource in PROBES:
            if is_allowed(recommended, action, resource, conditional_deny="ignore"):
                assert is_allowed(current, action, resource, conditional_deny="ignore"), (
                    name,
                    action,
                    resource,
                )
    assert not is_allowed(parse_policy(by_name["deny"]["recommended_policy"]), GET, SECRET_KEY)
