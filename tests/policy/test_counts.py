"""diff.counts: the figures of one policy document (README, "The figures")."""

from __future__ import annotations

from typing import Any

from role_usage import NO_DATA_EVENTS, role

from rightsizer.diff import counts, merged
from rightsizer.generate import recommend
from rightsizer.iam.policy import expand_s3_actions, parse_policy
from rightsizer.iam.s3 import expand_s3_family_actions
from rightsizer.model import percent
from rightsizer.unknown import data_event_actions


def figures(*statements: dict[str, Any]) -> dict[str, Any]:
    return counts(parse_policy({"Version": "2012-10-17", "Statement": list(statements)}))


def allow(action: Any, resource: Any, **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


def test_lists_expand_and_a_grant_repeated_counts_once() -> None:
    found = figures(
        allow(["s3:GetObject", "s3:PutObject"], ["arn:aws:s3:::a/*", "arn:aws:s3:::b/*"]),
        allow("S3:GETOBJECT", "arn:aws:s3:::a/*"),  # the same grant, another policy
    )
    assert (found["grants"], found["buckets"], found["wildcard_grants"]) == (4, 2, 0)


def test_the_s3_family_on_star_is_a_wildcard_grant_and_no_bucket() -> None:
    found = figures(allow(["s3-object-lambda:*", "s3express:*"], "*"))
    assert found == {
        "grants": 2,
        "s3_actions": 0,
        "buckets": 0,
        "all_buckets": False,
        "wildcard_grants": 2,
        "wildcard_actions": len(expand_s3_family_actions("s3-object-lambda:*"))
        + len(expand_s3_family_actions("s3express:*")),
    }


def test_not_action_and_not_resource_are_wildcards_reaching_every_bucket() -> None:
    found = figures(
        {"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": "arn:aws:s3:::a/*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secret/*"},
    )
    assert found["grants"] == 2 and found["wildcard_grants"] == 2 and found["all_buckets"]


def test_account_level_actions_on_star_reach_no_bucket() -> None:
    found = figures(allow("s3:ListAllMyBuckets", "*"), allow("s3:GetObject", "arn:aws:s3:::a/*"))
    assert (found["buckets"], found["all_buckets"], found["wildcard_grants"]) == (1, False, 0)


def test_star_on_another_service_grants_no_s3() -> None:
    found = figures(allow("*", "arn:aws:dynamodb:us-east-1:1:table/t"), allow("s3:*", "*"))
    assert (found["grants"], found["wildcard_grants"], found["all_buckets"]) == (1, 1, True)


def test_a_bucket_pattern_is_a_wildcard_not_every_bucket() -> None:
    found = figures(allow("s3:GetObject", "arn:aws:s3:::acme-*/*"))
    assert (found["buckets"], found["all_buckets"], found["wildcard_grants"]) == (1, False, 1)


def test_wildcard_actions_are_the_actions_wildcard_grants_allow_each_once() -> None:
    found = figures(
        allow("s3:Get*", "arn:aws:s3:::a/*"),  # an action pattern
        allow("s3:GetObject", "*"),  # one action on every bucket: already under s3:Get*
        allow("s3:PutObject", "arn:aws:s3:::acme-*/*"),  # a bucket pattern
        allow("s3:DeleteObject", "arn:aws:s3:::a/*"),  # not a wildcard
        allow("s3:ListAllMyBuckets", "*"),  # no resource of its own: not a wildcard
    )
    assert found["wildcard_grants"] == 3
    assert found["wildcard_actions"] == len(expand_s3_actions("s3:Get*")) + 1


def test_not_action_allows_every_s3_and_family_action_but_those_it_names() -> None:
    found = figures({"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": "*"})
    family = figures(allow("*", "*"))["wildcard_actions"]
    assert found["wildcard_actions"] == family - len(expand_s3_actions("s3:Delete*"))


def test_unknown_coverage_raises_wildcard_grants_but_wildcard_actions_fall() -> None:
    # No data events: s3:* on * is kept as the data actions it holds, each on `*`.
    today = role({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    before = counts(merged(today.policies))
    after = counts(recommend(today, None, NO_DATA_EVENTS).policy)
    assert (before["wildcard_grants"], after["wildcard_grants"]) == (1, len(data_event_actions()))
    assert (before["wildcard_actions"], after["wildcard_actions"]) == (
        len(expand_s3_actions("s3:*")),
        len(data_event_actions()),
    )
    assert after["wildcard_actions"] < before["wildcard_actions"]


def test_the_s3_family_kept_as_it_is_counts_on_both_sides() -> None:
    today = role(
        {"Effect": "Allow", "Action": ["s3:*", "s3-object-lambda:*"], "Resource": "*"},
    )
    before = counts(merged(today.policies))
    after = counts(recommend(today, None, NO_DATA_EVENTS).policy)
    object_lambda = len(expand_s3_family_actions("s3-object-lambda:*"))
    assert object_lambda > 0
    assert before["wildcard_actions"] == len(expand_s3_actions("s3:*")) + object_lambda
    assert after["wildcard_actions"] == len(data_event_actions()) + object_lambda


def test_a_share_never_reads_zero_or_all_unless_it_is() -> None:
    assert [percent(x) for x in (0.0, 0.001, 0.5, 0.999, 1.0)] == ["0%", "1%", "50%", "99%", "100%"]
