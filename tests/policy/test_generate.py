"""Recommendation rules, one test each, on hand-made roles and usage; plus property tests."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from role_usage import COVERED, NO_DATA_EVENTS, ROLE_ARN, T0, role, usage
from usage_events import FUNCTION, WINDOW, object_resources, s3_event
from usage_events import ROLE as EVENTS_ROLE

from rightsizer.analyze import analyze
from rightsizer.coverage import Coverage
from rightsizer.diff import counts, diff, merged
from rightsizer.fitting import MANAGED_POLICY_LIMIT
from rightsizer.generate import recommend
from rightsizer.iam.containment import within
from rightsizer.iam.matching import action_matches
from rightsizer.iam.policy import PolicyDocument, is_allowed, parse_policy, policy_size, to_dict
from rightsizer.iam.s3 import S3Resource, is_s3_action
from rightsizer.iam.snapshot import AccountSnapshot, Role
from rightsizer.ingest import load_records
from rightsizer.store import connect
from rightsizer.usage import Companion
from rightsizer.verify import replay


def s3_statements(policy: PolicyDocument) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(actions, resources) of the statements that grant S3 itself."""
    return [
        (s.actions or (), s.resources or ())
        for s in policy.statements
        if s.effect == "Allow" and s.actions and all(is_s3_action(a) for a in s.actions)
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
            "functions": (),
            "example_event_id": "",
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


def test_replay_refuses_a_condition_the_call_may_not_have_met() -> None:
    # Conditions are not logged: a call allowed today with no condition may have met none, and
    # one allowed under either of two conditions may have met only the other.
    vpce = {"StringEquals": {"aws:SourceVpce": "vpce-1"}}
    ip = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    u = usage(("s3:GetObject", KEYS[0]))

    def grant(*conditions: dict[str, Any] | None) -> list[PolicyDocument]:
        statements = [FULL_ACCESS | ({"Condition": c} if c else {}) for c in conditions]
        return role(*statements).policies

    def kept(proposed: list[PolicyDocument], today: list[PolicyDocument]) -> bool:
        return replay(proposed[0], today, u.used).ok

    assert not kept(grant(vpce), grant(None))
    assert not kept(grant(vpce), grant(vpce, ip))
    assert kept(grant(vpce, ip), grant(vpce, ip))
    assert kept(grant(None), grant(vpce, ip))
    assert kept(grant(vpce), grant(vpce))
    assert not kept(grant(vpce), grant(vpce, None))


def test_fitting_never_lifts_a_grant_into_a_folder_held_only_under_a_condition() -> None:
    # Today any key of bk/ is granted from 10/8 only, the 30 folders from anywhere: moving
    # them up to bk/in/* with no condition would grant bk/in/other/ from anywhere.
    ip = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    folders = [f"arn:aws:s3:::bk/in/t{i}/*" for i in range(30)]
    today = role(
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::bk/*",
            "Condition": ip,
        },
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": folders},
    )
    keys = [f"arn:aws:s3:::bk/in/t{i}/f{j}.csv" for i in range(30) for j in range(3)]
    rec = recommend(today, usage(*[("s3:GetObject", k) for k in keys]), COVERED, size_limit=300)
    ((actions, resources),) = s3_statements(rec.policy)
    assert actions == ("s3:GetObject",) and set(resources) == set(folders)
    assert rec.precision_given_up == []
    assert [w["code"] for w in rec.warnings] == ["policy-too-large"]


def test_used_permissions_a_missing_policy_may_grant_are_not_blamed_on_a_bucket_policy() -> None:
    narrow = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other/*"}
    missing = ("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",)
    lacking = dataclasses.replace(role(narrow), missing_policies=missing)
    rec = recommend(lacking, usage(("s3:GetObject", KEYS[0])), COVERED)
    (note,) = [w for w in rec.warnings if w["code"] == "not-granted-by-identity-policy"]
    assert (
        "(an attached policy the snapshot lacks, left attached, or a bucket policy"
        in (note["message"])
    )


def test_when_nothing_else_fits_grants_move_into_today_s_grant_that_holds_them() -> None:
    # 600 buckets' folders are over IAM's limit, and today's one pattern holds them all.
    today = {
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:PutObject"],
        "Resource": "arn:aws:s3:::bucket-number-*/in/*",
    }
    keys = [f"arn:aws:s3:::bucket-number-{b:04d}/in/f.csv" for b in range(600)]
    rec = recommend(role(today), usage(*[("s3:GetObject", k) for k in keys]), COVERED)
    assert s3_statements(rec.policy) == [
        (("s3:GetObject",), ("arn:aws:s3:::bucket-number-*/in/*",))
    ]
    assert "policy-too-large" not in {w["code"] for w in rec.warnings}
    assert {r["to"] for r in rec.precision_given_up} == {"arn:aws:s3:::bucket-number-*/in/*"}
    assert replay(
        rec.policy, role(today).policies, usage(*[("s3:GetObject", k) for k in keys]).used
    ).ok


def test_a_used_permission_today_s_deny_matches_is_not_blamed_on_a_bucket_policy() -> None:
    deny = {"Effect": "Deny", "Action": "s3:GetObject", "Resource": KEYS[0]}
    rec = recommend(role(FULL_ACCESS, deny), usage(("s3:GetObject", KEYS[0])), COVERED)
    assert rec.not_granted == [{"action": "s3:GetObject", "resource": KEYS[0], "count": 1}]
    (note,) = [w for w in rec.warnings if w["code"] == "not-granted-by-identity-policy"]
    assert (
        "1 of them match a Deny of today's policies, which no bucket policy overrides"
        in (note["message"])
    )


def test_text_of_a_2008_document_keeps_its_meaning_in_the_2012_recommendation() -> None:
    # Under 2008-10-17 `${aws:userid}` is text; the recommendation is 2012-10-17, where it
    # would be a variable: carried Denies, other services' grants and conditions escape `$`.
    doc = parse_policy(
        {
            "Version": "2008-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::bk/*"},
                {
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": "arn:aws:s3:::bk",
                    "Condition": {"StringLike": {"s3:prefix": "${aws:userid}/*"}},
                },
                {
                    "Effect": "Deny",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::bk/${aws:userid}/*",
                },
                {
                    "Effect": "Allow",
                    "Action": "sqs:SendMessage",
                    "Resource": "arn:aws:sqs:eu-west-1:1:q-${x}",
                },
            ],
        },
        name="old",
    )
    r = Role(arn=ROLE_ARN, name="fn-role", path="/service-role/", inline_policies={"old": doc})
    u = usage(("s3:GetObject", "arn:aws:s3:::bk/AROA1:fn/a"), ("s3:ListBucket", "arn:aws:s3:::bk"))
    rec = recommend(r, u, COVERED)
    texts = {json.dumps(to_dict(PolicyDocument(statements=(st,)))) for st in rec.policy.statements}
    written = " ".join(texts)
    assert "${aws:userid}" not in written and "${x}" not in written
    assert "arn:aws:s3:::bk/${$}{aws:userid}/*" in written
    assert "arn:aws:sqs:eu-west-1:1:q-${$}{x}" in written
    assert "${$}{aws:userid}/*" in written.replace("arn:aws:s3:::bk/${$}{aws:userid}/*", "")
    assert is_allowed(rec.policy, "s3:GetObject", "arn:aws:s3:::bk/AROA1:fn/a")
    assert replay(rec.policy, [doc], u.used).ok


def test_a_fragile_folder_a_notresource_grant_allows_is_not_called_exact_keys_today() -> None:
    # Today any key but b* is allowed: the next new key is allowed today, and the warning
    # must not say otherwise.
    not_b = {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::bk/in/b*"}
    keys = [f"arn:aws:s3:::bk/in/a{i}" for i in range(30)]
    rec = recommend(role(not_b), usage(*[("s3:GetObject", k) for k in keys]), COVERED)
    (warning,) = [w for w in rec.warnings if w["code"] == "fragile-grant"]
    assert "only through a NotResource grant" in warning["message"]
    assert "though today it is allowed" in warning["message"]
    assert "as it is today" not in warning["message"]


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
        # narrower than the prefixes keys generalize into: the deepest folder held is granted
        "arn:aws:s3:::alpha/?/2026/*",
        "arn:aws:s3:::beta/*/b/*",
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


# Wildcard grants of every kind the figures know, beside those of `grant`.
wildcard_grant = st.fixed_dictionaries(
    {
        "Effect": st.just("Allow"),
        "Action": st.sampled_from(
            ["s3:*", "s3:*Object", "s3:List*", "s3-object-lambda:*", "s3express:Create*", "*"]
        ),
        "Resource": st.sampled_from(
            ["*", "arn:aws:s3:::*", "arn:aws:s3:::al*/*", "arn:aws:s3:::beta/a/*"]
        ),
    }
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(grant, wildcard_grant), min_size=1, max_size=4),
    st.lists(st.tuples(st.sampled_from(ACTIONS), object_arn), min_size=0, max_size=12),
    st.sampled_from(["object", "prefix", "bucket"]),
    st.sampled_from([COVERED, NO_DATA_EVENTS]),
)
def test_the_actions_under_wildcards_never_rise(
    grants_: list[dict[str, Any]],
    pairs: list[tuple[str, str]],
    granularity: str,
    coverage: Coverage,
) -> None:
    r = role(*grants_)
    rec = recommend(r, usage(*pairs) if pairs else None, coverage, granularity=granularity)
    before, after = counts(merged(r.policies)), counts(rec.policy)
    assert after["wildcard_actions"] <= before["wildcard_actions"]


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


def granted_objects(policy: PolicyDocument) -> set[tuple[str, str]]:
    """(action, resource) of the recommendation's S3 grants on objects."""
    return {
        (a, r)
        for actions, resources in s3_statements(policy)
        for a in actions
        for r in resources
        if (parsed := S3Resource.parse(r)) is not None and parsed.reach() != "buckets"
    }


@settings(max_examples=150, deadline=None)
@given(
    st.lists(grant, min_size=1, max_size=4),
    st.lists(st.tuples(st.sampled_from(ACTIONS), object_arn), min_size=1, max_size=12),
    st.sampled_from([10_240, 400, 250]),
)
@example(  # over the size limit, exact keys were once coarsened past prefix's `beta/a`
    [FULL_ACCESS, {"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::a/*"}],
    [
        ("s3:GetObject", "arn:aws:s3:::alpha/a"),
        ("s3:PutObject", "arn:aws:s3:::beta/a"),
        ("s3:DeleteObject", "arn:aws:s3:::alpha/2026"),
    ],
    400,
)
def test_object_granularity_is_never_wider_than_prefix(
    grants_: list[dict[str, Any]], pairs: list[tuple[str, str]], size_limit: int
) -> None:
    r, u = role(*grants_), usage(*pairs)
    exact = recommend(r, u, COVERED, granularity="object", size_limit=size_limit)
    prefix = recommend(r, u, COVERED, granularity="prefix", size_limit=size_limit)
    prefixes = granted_objects(prefix.policy)
    for action, resource in granted_objects(exact.policy):
        assert any(a == action and within(resource, p) for a, p in prefixes), (action, resource)
    if any("NotResource" in g for g in grants_):
        return
    # never more than today: each object resource lies within an Allow of its action
    allows = [g for g in grants_ if g["Effect"] == "Allow"]
    for action, resource in granted_objects(prefix.policy) | granted_objects(exact.policy):
        assert any(
            action_matches(g["Action"], action) and within(resource, g["Resource"]) for g in allows
        ), (action, resource)


# --- a grant of today narrower than the generalized prefix ----------------------------------

TENANT_INBOXES = {
    "Effect": "Allow",
    "Action": ["s3:GetObject", "s3:PutObject"],
    "Resource": "arn:aws:s3:::bucket/data-*/tenant-?/inbox/*",
}
# Eight tenants: more folders than structure has, so the keys generalize into `data-us/*`.
INBOX_KEYS = [
    f"arn:aws:s3:::bucket/data-us/tenant-{t}/inbox/msg-{i:04d}.json"
    for t in range(1, 9)
    for i in range(3)
]
NEXT_KEY = "arn:aws:s3:::bucket/data-us/tenant-2/inbox/msg-9999.json"


def test_a_narrower_grant_keeps_the_deepest_folder_it_covers_not_the_keys_seen() -> None:
    rec = recommend(
        role(TENANT_INBOXES), usage(*[("s3:GetObject", k) for k in INBOX_KEYS]), COVERED
    )
    inboxes = tuple(f"arn:aws:s3:::bucket/data-us/tenant-{t}/inbox/*" for t in range(1, 9))
    assert s3_statements(rec.policy) == [(("s3:GetObject",), inboxes)]
    assert is_allowed(rec.policy, "s3:GetObject", NEXT_KEY)  # the function's next new key
    assert not is_allowed(rec.policy, "s3:GetObject", "arn:aws:s3:::bucket/data-us/tenant-2/x")
    assert [w["code"] for w in rec.warnings] == []
    assert {row["resource"] for row in rec.used} == set(inboxes)


def test_the_covering_folder_keeps_the_condition_of_the_grant() -> None:
    condition = {"StringEquals": {"aws:SourceVpce": "vpce-1"}}
    rec = recommend(
        role(TENANT_INBOXES | {"Condition": condition}),
        usage(*[("s3:PutObject", k) for k in INBOX_KEYS]),
        COVERED,
    )
    (statement,) = [s for s in rec.policy.statements if s.sid and s.sid.startswith("S3")]
    assert statement.condition == condition
    assert "arn:aws:s3:::bucket/data-us/tenant-3/inbox/*" in (statement.resources or ())


def test_a_companion_goes_to_the_folder_its_call_went_to() -> None:
    put_any = TENANT_INBOXES | {"Action": "s3:PutObject*"}
    tagging = Companion("s3:PutObjectTagging", INBOX_KEYS[0], ("PutObject",), "tags", 1)
    u = usage(*[("s3:PutObject", k) for k in INBOX_KEYS], companions=(tagging,))
    rec = recommend(role(put_any), u, COVERED)
    inbox = "arn:aws:s3:::bucket/data-us/tenant-1/inbox/*"
    assert (("s3:PutObject", "s3:PutObjectTagging"), (inbox,)) in s3_statements(rec.policy)


def test_a_grant_of_exact_keys_stays_exact_and_says_the_next_key_will_be_denied() -> None:
    only_these = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": INBOX_KEYS}
    pairs = [(action, k) for k in INBOX_KEYS for action in ("s3:GetObject", "s3:PutObject")]
    rec = recommend(role(only_these | {"Action": "s3:*"}), usage(*pairs), COVERED)
    assert s3_statements(rec.policy) == [
        (("s3:GetObject", "s3:PutObject"), tuple(sorted(INBOX_KEYS)))
    ]
    assert not is_allowed(rec.policy, "s3:GetObject", NEXT_KEY)
    (warning,) = rec.warnings
    assert warning["code"] == "fragile-grant"
    assert "exact keys under arn:aws:s3:::bucket/data-us/*" in warning["message"]
    assert "24 used" in warning["message"] and "next new key will be denied" in warning["message"]


def test_one_exact_config_file_is_not_fragile() -> None:
    config = "arn:aws:s3:::bucket/app/settings.json"
    only_it = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": config}
    rec = recommend(role(only_it), usage(("s3:GetObject", config)), COVERED)
    assert s3_statements(rec.policy) == [(("s3:GetObject",), (config,))]
    assert rec.warnings == []


def test_a_key_named_with_a_star_is_granted_as_that_key() -> None:
    # `dir/*` is a key here, not a folder: allowed today, it must stay allowed (and no more).
    not_x = {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b/dir/x"}
    u = usage(("s3:GetObject", "arn:aws:s3:::b/dir/*"))
    rec = recommend(role(not_x), u, COVERED)
    assert rec.not_granted == []
    assert s3_statements(rec.policy) == [(("s3:GetObject",), ("arn:aws:s3:::b/dir/${*}",))]
    assert replay(rec.policy, role(not_x).policies, u.used).ok


def test_object_granularity_keeps_exact_keys_over_the_size_limit() -> None:
    keys = [f"arn:aws:s3:::b/team{t}/sub{s}/f.txt" for t in range(5) for s in range(5)]
    u = usage(*[("s3:GetObject", k) for k in keys])
    rec = recommend(role(FULL_ACCESS), u, COVERED, granularity="object", size_limit=300)
    assert s3_statements(rec.policy) == [(("s3:GetObject",), tuple(sorted(keys)))]
    assert rec.precision_given_up == []
    (warning,) = [w for w in rec.warnings if w["code"] == "policy-too-large"]
    assert "as exact keys; use --granularity prefix" in warning["message"]


def test_a_policy_over_the_managed_limit_says_to_apply_it_inline() -> None:
    names = [f"{c}{c}" for c in "abcdef"]  # six folders per level: structure, kept apart
    keys = [
        f"arn:aws:s3:::b/team-{t}/sub-{s}/part-{p}/f.txt"
        for t in names
        for s in names
        for p in names
    ]
    rec = recommend(role(FULL_ACCESS), usage(*[("s3:GetObject", k) for k in keys]), COVERED)
    assert MANAGED_POLICY_LIMIT < policy_size(rec.policy) <= 10_240
    assert rec.precision_given_up == []
    (warning,) = rec.warnings
    assert warning["code"] == "over-managed-policy-limit"
    assert f"{policy_size(rec.policy)} characters" in warning["message"]
    assert "inline policy" in warning["message"]
    smaller = recommend(
        role(FULL_ACCESS), usage(*[("s3:GetObject", k) for k in keys[:36]]), COVERED
    )
    assert smaller.warnings == []


# --- end to end: records in a store, analyzed ------------------------------------------------


def analyze_records(tmp_path: Path, statement: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """The analysis entry of the Lambda role holding `statement`, after GetObject on `keys`."""
    policy = parse_policy({"Version": "2012-10-17", "Statement": [statement]}, name="app")
    lambda_role = Role(
        arn=EVENTS_ROLE,
        name=EVENTS_ROLE.rsplit("/", 1)[-1],
        inline_policies={"app": policy},
        functions=(FUNCTION,),
    )
    records = []
    for arn in keys:
        bucket, key = arn.removeprefix("arn:aws:s3:::").split("/", 1)
        request = {"bucketName": bucket, "key": key}
        records.append(s3_event("GetObject", request, resources=object_resources(bucket, key)))
    conn = connect(tmp_path / "fragile.duckdb")
    try:
        load_records(conn, records)
        result = analyze(conn, WINDOW, AccountSnapshot(roles={EVENTS_ROLE: lambda_role}))
    finally:
        conn.close()
    assert result.refused == ()
    (entry,) = result.data["roles"]
    return entry


def test_analyze_grants_each_tenant_inbox_the_narrower_grant_allows(tmp_path: Path) -> None:
    entry = analyze_records(tmp_path, TENANT_INBOXES, INBOX_KEYS)
    assert is_allowed(parse_policy(entry["recommended_policy"]), "s3:GetObject", NEXT_KEY)
    (read,) = [s for s in entry["recommended_policy"]["Statement"] if s["Action"] == "s3:GetObject"]
    assert read["Resource"] == [
        f"arn:aws:s3:::bucket/data-us/tenant-{t}/inbox/*" for t in range(1, 9)
    ]
    assert "fragile-grant" not in [w["code"] for w in entry["warnings"]]


def test_analyze_warns_when_today_grants_only_exact_keys(tmp_path: Path) -> None:
    only_these = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": INBOX_KEYS}
    entry = analyze_records(tmp_path, only_these, INBOX_KEYS)
    assert not is_allowed(parse_policy(entry["recommended_policy"]), "s3:GetObject", NEXT_KEY)
    assert "fragile-grant" in [w["code"] for w in entry["warnings"]]
