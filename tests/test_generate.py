"""Recommendation rules, one test each, on hand-made roles and usage; plus property tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rightsizer.coverage import Coverage, ObservedRegion
from rightsizer.diff import diff
from rightsizer.generate import recommend
from rightsizer.iam.policy import PolicyDocument, is_allowed, parse_policy, policy_size
from rightsizer.iam.snapshot import Role
from rightsizer.usage import Companion, RoleUsage, S3Call, UsedPermission
from rightsizer.verify import replay

ACCOUNT = "111122223333"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/service-role/fn-role"
T0 = dt.datetime(2026, 11, 1, 12, 0, 0)
COVERED = Coverage(observed=(ObservedRegion(ACCOUNT, "us-east-1", 10, 10),))
NO_DATA_EVENTS = Coverage(observed=())


def role(*statements: dict[str, Any], name: str = "inline") -> Role:
    doc = parse_policy({"Version": "2012-10-17", "Statement": list(statements)}, name=name)
    return Role(arn=ROLE_ARN, name="fn-role", path="/service-role/", inline_policies={name: doc})


def usage(*pairs: tuple[str, str], companions: tuple[Companion, ...] = ()) -> RoleUsage:
    used = tuple(UsedPermission(a, r, 1, T0, T0) for a, r in pairs)
    calls = tuple(
        S3Call("fn", "us-east-1", a.split(":")[1], "success", ((a, r),), True, 1, T0, T0, f"e{i}")
        for i, (a, r) in enumerate(pairs)
    )
    return RoleUsage(
        ROLE_ARN, "fn-role", ACCOUNT, ("fn",), calls, used, (), (), companions, ("us-east-1",)
    )


def s3_statements(policy: PolicyDocument) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    return [
        (s.actions or (), s.resources or ())
        for s in policy.statements
        if s.sid and s.sid.startswith("S3")
    ]


FULL_ACCESS = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
KEYS = [f"arn:aws:s3:::uploads/incoming/2026/11/0{d}/img{d}.jpg" for d in range(1, 4)]


def test_over_privileged_role_is_narrowed_to_the_prefix_it_used() -> None:
    rec = recommend(role(FULL_ACCESS), usage(*[("s3:GetObject", k) for k in KEYS]), COVERED)
    assert s3_statements(rec.policy) == [(("s3:GetObject",), ("arn:aws:s3:::uploads/incoming/*",))]
    assert rec.used == [
        {
            "action": "s3:GetObject",
            "resource": "arn:aws:s3:::uploads/incoming/*",
            "count": 3,
            "first_seen": T0,
            "last_seen": T0,
        }
    ]
    changes = diff(role(FULL_ACCESS).policies, rec.policy, rec.unknown_grants)
    assert changes["removed"] == [
        {
            "action": "s3:*",
            "resource": "*",
            "narrowed_to": [
                {"action": "s3:GetObject", "resource": "arn:aws:s3:::uploads/incoming/*"}
            ],
        }
    ]


def test_never_more_than_today_keeps_a_narrower_current_grant() -> None:
    only_one = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": KEYS[0]}
    rec = recommend(role(only_one), usage(("s3:GetObject", KEYS[0])), COVERED)
    assert s3_statements(rec.policy) == [(("s3:GetObject",), (KEYS[0],))]
    changes = diff(role(only_one).policies, rec.policy, rec.unknown_grants)
    assert changes["removed"] == [] and changes["kept"] == [
        {"action": "s3:GetObject", "resource": KEYS[0]}
    ]


def test_use_not_granted_by_identity_policy_is_reported_not_added() -> None:
    rec = recommend(
        role(FULL_ACCESS | {"Action": "s3:PutObject"}), usage(("s3:GetObject", KEYS[0])), COVERED
    )
    assert rec.not_granted == [{"action": "s3:GetObject", "resource": KEYS[0], "count": 1}]
    assert s3_statements(rec.policy) == []
    assert any(w["code"] == "not-granted-by-identity-policy" for w in rec.warnings)


def test_idle_role_with_covered_logs_keeps_no_s3_permission() -> None:
    rec = recommend(role(FULL_ACCESS), None, COVERED)
    assert s3_statements(rec.policy) == [] and rec.unknown == []


def test_without_data_events_today_s_data_permissions_are_kept_as_unknown() -> None:
    rec = recommend(role(FULL_ACCESS), None, NO_DATA_EVENTS)
    granted = {
        (a, r)
        for actions, resources in s3_statements(rec.policy)
        for a in actions
        for r in resources
    }
    assert ("s3:GetObject", "*") in granted and ("s3:PutObject", "*") in granted
    assert ("s3:ListBucket", "*") in granted
    assert ("s3:PutBucketPolicy", "*") not in granted  # management events are always logged
    assert {u["action"] for u in rec.unknown} >= {"s3:GetObject", "s3:PutObject"}
    messages = " ".join(w["message"] for w in rec.warnings if w["code"] == "coverage-unknown")
    assert "ReadOnly or All" in messages and "WriteOnly or All" in messages


def test_non_s3_statements_and_denies_are_carried_over_unchanged() -> None:
    logs = {"Sid": "Logs", "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}
    deny = {
        "Sid": "NoSecrets",
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::secrets/*",
    }
    rec = recommend(role(FULL_ACCESS, logs, deny), usage(("s3:GetObject", KEYS[0])), COVERED)
    sids = [s.sid for s in rec.policy.statements]
    assert "Logs" in sids and "NoSecrets" in sids
    assert {e["sid"] for e in rec.out_of_scope} == {"Logs", "NoSecrets"}


def test_admin_star_keeps_everything_but_s3() -> None:
    admin = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    rec = recommend(role(admin), usage(("s3:GetObject", KEYS[0])), COVERED)
    assert is_allowed(rec.policy, "dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:1:table/t")
    assert not is_allowed(rec.policy, "s3:DeleteBucket", "arn:aws:s3:::uploads")
    assert is_allowed(rec.policy, "s3:GetObject", KEYS[0])


def test_conditional_grant_keeps_its_condition() -> None:
    condition = {"StringEquals": {"aws:SourceVpce": "vpce-1"}}
    rec = recommend(
        role(FULL_ACCESS | {"Condition": condition}), usage(("s3:GetObject", KEYS[0])), COVERED
    )
    (statement,) = [s for s in rec.policy.statements if s.sid and s.sid.startswith("S3")]
    assert statement.condition == condition


def test_companion_is_kept_only_when_held_today() -> None:
    companion = Companion("s3:ListBucket", "arn:aws:s3:::uploads", ("GetObject",), "404", 1)
    narrow = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::uploads/*"}
    rec = recommend(
        role(narrow), usage(("s3:GetObject", KEYS[0]), companions=(companion,)), COVERED
    )
    assert not is_allowed(rec.policy, "s3:ListBucket", "arn:aws:s3:::uploads")
    rec = recommend(
        role(FULL_ACCESS), usage(("s3:GetObject", KEYS[0]), companions=(companion,)), COVERED
    )
    assert is_allowed(rec.policy, "s3:ListBucket", "arn:aws:s3:::uploads")


def test_batch_delete_keeps_the_whole_bucket_prefix() -> None:
    rec = recommend(role(FULL_ACCESS), usage(("s3:DeleteObject", "arn:aws:s3:::raw/*")), COVERED)
    assert s3_statements(rec.policy) == [(("s3:DeleteObject",), ("arn:aws:s3:::raw/*",))]
    assert is_allowed(rec.policy, "s3:DeleteObject", "arn:aws:s3:::raw/any/key")


def test_size_limit_coarsens_prefixes_and_reports_it() -> None:
    keys = [f"arn:aws:s3:::b/team{t}/sub{s}/f.txt" for t in range(5) for s in range(5)]
    full = recommend(role(FULL_ACCESS), usage(*[("s3:GetObject", k) for k in keys]), COVERED)
    small = recommend(
        role(FULL_ACCESS), usage(*[("s3:GetObject", k) for k in keys]), COVERED, size_limit=300
    )
    assert len(s3_statements(full.policy)[0][1]) == 25  # every folder kept apart
    assert policy_size(small.policy) <= 300 < policy_size(full.policy)
    assert {g["from"] for g in small.precision_given_up} >= {"arn:aws:s3:::b/team0/sub0/*"}
    assert len(s3_statements(small.policy)[0][1]) < 25
    assert all(is_allowed(small.policy, "s3:GetObject", k) for k in keys)
    tiny = recommend(
        role(FULL_ACCESS), usage(*[("s3:GetObject", k) for k in keys]), COVERED, size_limit=150
    )
    assert s3_statements(tiny.policy) == [(("s3:GetObject",), ("arn:aws:s3:::b/*",))]


def test_replay_names_a_call_the_recommendation_would_deny() -> None:
    u = usage(("s3:GetObject", KEYS[0]), ("s3:PutObject", KEYS[1]))
    too_small = PolicyDocument(
        statements=parse_policy(
            {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": KEYS[0]}]}
        ).statements
    )
    result = replay(too_small, role(FULL_ACCESS).policies, u.used)
    assert not result.ok
    assert result.failures[0].action == "s3:PutObject" and KEYS[1] in result.failures[0].describe()
    good = recommend(role(FULL_ACCESS), u, COVERED)
    assert replay(good.policy, role(FULL_ACCESS).policies, u.used).ok


# --- properties -----------------------------------------------------------------------------

ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectVersion"]
BUCKETS = ["alpha", "beta"]
segment = st.sampled_from(["a", "b", "2026", "11", "x.json", "y.csv", "c d", "k*ey"])
object_arn = st.builds(
    lambda b, parts: f"arn:aws:s3:::{b}/{'/'.join(parts)}",
    st.sampled_from(BUCKETS),
    st.lists(segment, min_size=1, max_size=4),
)
grant_resource = st.sampled_from(
    [
        "*",
        "arn:aws:s3:::alpha/*",
        "arn:aws:s3:::beta/a/*",
        "arn:aws:s3:::alpha/2026/*",
        "arn:aws:s3:::*/x.json",
    ]
)
grant = st.one_of(
    st.fixed_dictionaries(
        {
            "Effect": st.sampled_from(["Allow", "Allow", "Allow", "Deny"]),
            "Action": st.sampled_from([*ACTIONS, "s3:*", "s3:Get*"]),
            "Resource": grant_resource,
        }
    ),
    st.fixed_dictionaries(
        {
            "Effect": st.just("Allow"),
            "NotAction": st.sampled_from(["s3:DeleteObject", "iam:*"]),
            "NotResource": st.sampled_from(["arn:aws:s3:::beta/*", "arn:aws:s3:::alpha/2026/*"]),
        }
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(grant, min_size=1, max_size=4),
    st.lists(st.tuples(st.sampled_from(ACTIONS), object_arn), min_size=1, max_size=12),
    st.sampled_from(["object", "prefix", "bucket"]),
    st.lists(st.tuples(st.sampled_from(ACTIONS), object_arn), min_size=1, max_size=10),
    st.sampled_from([COVERED, NO_DATA_EVENTS]),
)
def test_recommendation_is_a_subset_allows_every_use_and_is_deterministic(
    grants_: list[dict[str, Any]],
    pairs: list[tuple[str, str]],
    granularity: str,
    probes: list[tuple[str, str]],
    coverage: Coverage,
) -> None:
    r = role(*grants_)
    u = usage(*pairs)
    rec = recommend(r, u, coverage, granularity=granularity)
    # every call today's policy allows is still allowed
    assert replay(rec.policy, r.policies, u.used).ok
    # never more than today, probed on used and random requests alike
    for action, arn in [*pairs, *probes]:
        if is_allowed(rec.policy, action, arn):
            assert is_allowed(r.policies, action, arn), (action, arn)
    # deterministic
    assert recommend(r, u, coverage, granularity=granularity).policy == rec.policy


def test_unknown_coverage_keeps_a_not_resource_grant_as_it_is() -> None:
    not_secret = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "NotResource": "arn:aws:s3:::secret/*",
    }
    rec = recommend(role(not_secret), None, NO_DATA_EVENTS)
    assert is_allowed(rec.policy, "s3:GetObject", KEYS[0])
    assert not is_allowed(rec.policy, "s3:GetObject", "arn:aws:s3:::secret/k")
    assert [(u["action"], u["resource"]) for u in rec.unknown] == [
        ("s3:GetObject", "* except arn:aws:s3:::secret/*")
    ]
