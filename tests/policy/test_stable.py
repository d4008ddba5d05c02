"""Stable documents: today's statements that survive keep their Sid, text and place."""

from __future__ import annotations

from typing import Any

from role_usage import COVERED, role, usage

from rightsizer.diff import diff, merged
from rightsizer.generate import recommend
from rightsizer.iam.policy import canonical_json, is_allowed

CONFIG = "arn:aws:s3:::acme-config"
READ_APP_CONFIG = {
    "Sid": "ReadAppConfig",
    "Effect": "Allow",
    "Action": "s3:GetObject",
    "Resource": f"{CONFIG}/app/*",
}
LIST_CONFIG = {
    "Sid": "ListConfig",
    "Effect": "Allow",
    "Action": "s3:ListBucket",
    "Resource": CONFIG,
}
LOGS = {
    "Sid": "Logs",
    "Effect": "Allow",
    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
    "Resource": "*",
}
USES = (("s3:GetObject", f"{CONFIG}/app/settings.json"), ("s3:ListBucket", CONFIG))


def sids(statements: Any) -> list[str | None]:
    return [s.sid for s in statements]


def test_a_minimal_policy_comes_back_byte_identical_with_an_empty_diff() -> None:
    today = role(READ_APP_CONFIG, LIST_CONFIG, LOGS)
    rec = recommend(today, usage(*USES), COVERED)
    assert canonical_json(rec.policy) == canonical_json(merged(today.policies))
    changes = diff(today.policies, rec.policy, rec.unknown_grants)
    assert changes["unified"] == "" and changes["removed"] == []


def test_a_surviving_named_statement_keeps_its_name_and_place_while_another_changes() -> None:
    everything = {"Sid": "Everything", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    today = role(LOGS, everything, READ_APP_CONFIG)
    uses = (*USES, ("s3:PutObject", "arn:aws:s3:::acme-out/reports/r1.csv"))
    rec = recommend(today, usage(*uses), COVERED)
    statements = rec.policy.statements
    # Logs and ReadAppConfig stand where they stood; the narrowed grants take Everything's place.
    assert statements[0].sid == "Logs"
    assert statements[-1].sid == "ReadAppConfig" and statements[-1].resources == (
        f"{CONFIG}/app/*",
    )
    assert "Everything" not in sids(statements)
    assert all(is_allowed(rec.policy, a, r) for a, r in uses)
    assert not is_allowed(rec.policy, "s3:DeleteObject", f"{CONFIG}/app/settings.json")


def test_a_new_statement_never_takes_the_sid_of_a_kept_one() -> None:
    # Today's S3Objects1 (an earlier recommendation's name) survives; Wide is narrowed.
    wide = {
        "Sid": "Wide",
        "Effect": "Allow",
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::acme-out/*",
    }
    today = role(wide, {**READ_APP_CONFIG, "Sid": "S3Objects1"})
    rec = recommend(
        today, usage(*USES[:1], ("s3:PutObject", "arn:aws:s3:::acme-out/reports/r1.csv")), COVERED
    )
    narrowed, kept = rec.policy.statements
    assert (kept.sid, kept.resources) == ("S3Objects1", (f"{CONFIG}/app/*",))
    assert narrowed.sid == "S3Objects2"
    assert narrowed.resources == ("arn:aws:s3:::acme-out/reports/*",)


def test_statements_keep_their_own_order_of_actions_and_resources() -> None:
    both = {
        "Sid": "ConfigObjects",
        "Effect": "Allow",
        "Action": ["s3:PutObject", "s3:GetObject"],
        "Resource": [f"{CONFIG}/app/*", f"{CONFIG}/env/*"],
    }
    uses = [
        (action, f"{CONFIG}/{folder}/{name}.json")
        for action in ("s3:GetObject", "s3:PutObject")
        for folder in ("app", "env")
        for name in ("a", "b")
    ]
    today = role(both)
    rec = recommend(today, usage(*uses), COVERED)
    assert canonical_json(rec.policy) == canonical_json(merged(today.policies))
