"""The policy engine, rule by rule: parsing as IAM accepts it, matching, evaluation, rendering."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

from rightsizer.errors import PolicyError
from rightsizer.iam.policy import (
    Decision,
    Grant,
    PolicyDocument,
    Statement,
    action_matches,
    canonical_json,
    escape_resource,
    evaluate,
    expand_s3_actions,
    grants,
    has_wildcard,
    is_allowed,
    parse_policy,
    policy_size,
    resource_matches,
    to_dict,
)

# AWS managed policies as AWS publishes them (default versions).
S3_FULL_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:*", "s3-object-lambda:*"], "Resource": "*"},
    ],
}
LAMBDA_BASIC_EXECUTION = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ],
}


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    """A one-statement Allow policy document."""
    statement = {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
    return {"Version": "2012-10-17", "Statement": [statement]}


# --- parsing ---------------------------------------------------------------------------------


def test_string_and_list_forms_parse_to_the_same_patterns() -> None:
    as_string = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": allow("s3:GetObject", "arn:aws:s3:::b/*")["Statement"][0],
        }
    )
    as_list = parse_policy(allow(["s3:GetObject"], ["arn:aws:s3:::b/*"]))
    assert as_string == as_list
    (statement,) = as_list.statements
    assert statement.actions == ("s3:GetObject",)
    assert statement.resources == ("arn:aws:s3:::b/*",)
    assert statement.not_actions is None and statement.not_resources is None


def test_json_text_and_url_encoded_text_parse_like_the_dict() -> None:
    text = json.dumps(S3_FULL_ACCESS, indent=4)
    encoded = urllib.parse.quote(json.dumps(S3_FULL_ACCESS), safe="")
    assert encoded.startswith("%7B")
    expected = parse_policy(S3_FULL_ACCESS)
    assert parse_policy(text) == expected
    assert parse_policy(encoded) == expected
    assert parse_policy(text.encode()) == expected


def test_not_forms_condition_sid_and_principal_are_kept() -> None:
    doc = parse_policy(
        {
            "Version": "2012-10-17",
            "Id": "example",
            "Statement": [
                {
                    "Sid": "NoDeletes",
                    "Effect": "Deny",
                    "NotAction": "s3:Get*",
                    "NotResource": ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                },
            ],
        }
    )
    deny, trust = doc.statements
    assert doc.id == "example"
    assert deny.sid == "NoDeletes" and deny.effect == "Deny"
    assert deny.not_actions == ("s3:Get*",)
    assert deny.not_resources == ("arn:aws:s3:::logs", "arn:aws:s3:::logs/*")
    assert deny.condition == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny.has_condition and not trust.has_condition
    assert trust.principal == {"Service": "lambda.amazonaws.com"}
    assert trust.resources is None and trust.not_resources is None


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ({"Action": "s3:GetObject", "Resource": "*"}, "has no Effect"),
        ({"Effect": "allow", "Action": "s3:GetObject", "Resource": "*"}, "'allow'"),
        (
            {"Effect": "Allow", "Action": "s3:GetObject", "NotAction": "s3:Put*", "Resource": "*"},
            "Action and NotAction; it has both",
        ),
        ({"Effect": "Allow", "Resource": "*"}, "it has neither"),
        ({"Effect": "Allow", "Action": ["s3:GetObject", 7], "Resource": "*"}, "list of strings"),
        ({"Effect": "Allow", "Action": [], "Resource": "*"}, "Action is an empty list"),
        ({"Effect": "Allow", "Action": "GetObject", "Resource": "*"}, "'GetObject'"),
        ({"Effect": "Allow", "Action": "s3:GetObject"}, "neither Resource nor NotResource"),
        (
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "NotResource": "arn:aws:s3:::b"},
            "both Resource and NotResource",
        ),
        ({"Effect": "Allow", "Action": "s3:*", "Resources": "*"}, "unknown key 'Resources'"),
        ({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": "x"}, "Condition"),
        ({"Effect": "Allow", "Action": "s3:*", "Resource": ""}, "empty string"),
    ],
)
def test_malformed_statements_name_the_policy_and_the_problem(
    statement: dict[str, Any], message: str
) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, statement],
    }
    with pytest.raises(PolicyError, match="reader-policy") as caught:
        parse_policy(document, name="reader-policy")
    assert message in str(caught.value)
    assert "statement 2" in str(caught.value)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"Version": "2012-10-17"}, "has no Statement"),
        ({"Version": "2012-10-17", "Statements": []}, "unknown key 'Statements'"),
        ({"Version": "2012-10-18", "Statement": []}, "Version '2012-10-18'"),
        ({"Version": "2012-10-17", "Statement": "Allow"}, "Statement must be an object or a list"),
        ('{"Version": "2012-10-17", "Statement": [}', "not valid JSON (line 1"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_malformed_documents_name_the_policy_and_the_problem(document: Any, message: str) -> None:
    with pytest.raises(PolicyError, match="'inline/app'") as caught:
        parse_policy(document, name="inline/app")
    assert message in str(caught.value)


def test_statements_built_in_code_are_checked_too() -> None:
    # Untyped callers (notebooks) may pass a list or a string; both become tuples.
    loose: dict[str, Any] = {"actions": ["s3:GetObject"], "resources": "arn:aws:s3:::b/*"}
    built = Statement(effect="Allow", **loose)
    assert built.actions == ("s3:GetObject",) and built.resources == ("arn:aws:s3:::b/*",)
    with pytest.raises(PolicyError, match="exactly one of Action and NotAction"):
        Statement(effect="Allow", resources=("*",))
    with pytest.raises(PolicyError, match="Effect"):
        Statement(effect="Permit", actions=("s3:*",), resources=("*",))


# --- matching --------------------------------------------------------------------------------


def test_actions_match_case_insensitively_with_wildcards() -> None:
    assert action_matches("s3:GetObject", "S3:getobject")
    assert action_matches("S3:GET*", "s3:GetObjectVersion")
    assert action_matches("s3:*Object*", "s3:PutObjectAcl")
    assert action_matches("s3:Get?bject", "s3:GetObject")
    assert action_matches("*", "kms:Decrypt")
    assert not action_matches("s3:Get*", "s3:PutObject")
    assert not action_matches("s3:Get?bject", "s3:GetOObject")
    assert not action_matches("s3:GetObject", "s3:GetObjectVersion")
    assert not action_matches("s3:*", "s3express:CreateSession")


def test_resources_match_case_sensitively() -> None:
    assert resource_matches("arn:aws:s3:::Reports/*", "arn:aws:s3:::Reports/q1.csv")
    assert not resource_matches("arn:aws:s3:::reports/*", "arn:aws:s3:::Reports/q1.csv")
    assert not resource_matches("arn:aws:s3:::b/Data/*", "arn:aws:s3:::b/data/x")


def test_star_spans_slashes_and_colons_in_the_resource_part() -> None:
    assert resource_matches("arn:aws:s3:::B/*/test/*", "arn:aws:s3:::B/1/2/test/x")
    assert resource_matches("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b/c.json")
    assert resource_matches("arn:aws:s3:::b/*", "arn:aws:s3:::b/2024-01-01T00:00:00Z.log")
    assert resource_matches("arn:aws:s3:::b/a*z", "arn:aws:s3:::b/a:1/y:z")
    assert resource_matches("*", "arn:aws:s3:::anything/at/all")
    assert resource_matches("arn:aws:s3:::*", "arn:aws:s3:::bucket")
    # The bucket ARN is not an object ARN and vice versa.
    assert not resource_matches("arn:aws:s3:::b/*", "arn:aws:s3:::b")
    assert not resource_matches("arn:aws:s3:::b", "arn:aws:s3:::b/key")


def test_wildcards_stay_inside_the_first_arn_segments_unless_they_end_one() -> None:
    role = "arn:aws:iam::123456789012:role/app"
    assert resource_matches("arn:aws:iam::*:role/app", role)
    assert resource_matches("arn:aws:i*", role)  # a trailing * runs past colons
    assert resource_matches("arn:*:iam::123456789012:role/*", role)
    assert not resource_matches("arn:aws*iam::123456789012:role/app", role)
    assert resource_matches("arn:aws:i*m::123456789012:role/app", role)
    assert not resource_matches("arn:aws:iam:?:123456789012:role/app", role)
    assert resource_matches("arn:aws:logs:us-east-?:*:*", "arn:aws:logs:us-east-1:1:log-group:x:*")


def test_question_mark_is_exactly_one_character() -> None:
    assert resource_matches("arn:aws:s3:::b/file?.txt", "arn:aws:s3:::b/file1.txt")
    assert resource_matches("arn:aws:s3:::b/a?c", "arn:aws:s3:::b/a/c")
    assert not resource_matches("arn:aws:s3:::b/file?.txt", "arn:aws:s3:::b/file.txt")
    assert not resource_matches("arn:aws:s3:::b/file?.txt", "arn:aws:s3:::b/file12.txt")


def test_escapes_are_literal_characters() -> None:
    key = "arn:aws:s3:::b/what?*$x"
    assert resource_matches("arn:aws:s3:::b/what${?}${*}${$}x", key)
    assert not resource_matches("arn:aws:s3:::b/what${?}${*}${$}x", "arn:aws:s3:::b/whatA*$x")
    assert escape_resource("b/what?*$x") == "b/what${?}${*}${$}x"
    assert resource_matches("arn:aws:s3:::" + escape_resource("b/a*b"), "arn:aws:s3:::b/a*b")
    assert not resource_matches("arn:aws:s3:::" + escape_resource("b/a*b"), "arn:aws:s3:::b/axb")
    assert has_wildcard("arn:aws:s3:::b/*") and has_wildcard("arn:aws:s3:::b/?")
    assert not has_wildcard("arn:aws:s3:::b/${*}${?}")


def test_policy_variables_never_match_and_old_versions_read_them_literally() -> None:
    pattern = "arn:aws:s3:::home/${aws:username}/*"
    assert not resource_matches(pattern, "arn:aws:s3:::home/alice/notes.txt")
    assert not resource_matches(pattern, "arn:aws:s3:::home/${aws:username}/x")
    assert resource_matches(pattern, "arn:aws:s3:::home/alice/notes.txt", unresolved="any")
    # Version 2008-10-17 has no variables or escapes: "${" is plain text, "*" still a wildcard.
    assert resource_matches(pattern, "arn:aws:s3:::home/${aws:username}/x", variables=False)
    assert resource_matches("arn:aws:s3:::b/${*}", "arn:aws:s3:::b/${zz}", variables=False)


# --- evaluation ------------------------------------------------------------------------------


def test_allow_and_implicit_deny() -> None:
    doc = parse_policy(
        allow(["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::b", "arn:aws:s3:::b/*"])
    )
    assert evaluate([doc], "s3:GetObject", "arn:aws:s3:::b/k") is Decision.ALLOW
    assert evaluate([doc], "s3:ListBucket", "arn:aws:s3:::b") is Decision.ALLOW
    assert evaluate([doc], "s3:PutObject", "arn:aws:s3:::b/k") is Decision.IMPLICIT_DENY
    assert evaluate([doc], "s3:GetObject", "arn:aws:s3:::other/k") is Decision.IMPLICIT_DENY
    assert evaluate([], "s3:GetObject", "arn:aws:s3:::b/k") is Decision.IMPLICIT_DENY
    assert is_allowed(doc, "s3:getobject", "arn:aws:s3:::b/k")


def test_not_action_allows_everything_else() -> None:
    doc = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": {"Effect": "Allow", "NotAction": ["s3:Delete*", "iam:*"], "Resource": "*"},
        }
    )
    assert is_allowed([doc], "s3:GetObject", "arn:aws:s3:::b/k")
    assert is_allowed([doc], "kms:Decrypt", "arn:aws:kms:us-east-1:1:key/k")
    assert evaluate([doc], "s3:DeleteObject", "arn:aws:s3:::b/k") is Decision.IMPLICIT_DENY
    assert evaluate([doc], "IAM:PassRole", "arn:aws:iam::1:role/r") is Decision.IMPLICIT_DENY


def test_not_resource_allows_everywhere_else() -> None:
    doc = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Action": "s3:*",
                "NotResource": ["arn:aws:s3:::secrets", "arn:aws:s3:::secrets/*"],
            },
        }
    )
    assert is_allowed([doc], "s3:GetObject", "arn:aws:s3:::public/k")
    assert not is_allowed([doc], "s3:GetObject", "arn:aws:s3:::secrets/k")
    assert not is_allowed([doc], "s3:ListBucket", "arn:aws:s3:::secrets")
    assert is_allowed([doc], "s3:ListBucket", "arn:aws:s3:::secrets-archive")


def test_explicit_deny_wins_across_policies() -> None:
    grant = parse_policy(S3_FULL_ACCESS)
    guard = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Deny", "Action": "s3:Delete*", "Resource": "arn:aws:s3:::prod/*"}
            ],
        }
    )
    for order in ([grant, guard], [guard, grant]):
        assert evaluate(order, "s3:DeleteObject", "arn:aws:s3:::prod/k") is Decision.DENY
        assert evaluate(order, "s3:DeleteObject", "arn:aws:s3:::dev/k") is Decision.ALLOW
        assert evaluate(order, "s3:GetObject", "arn:aws:s3:::prod/k") is Decision.ALLOW
    assert evaluate([guard], "s3:DeleteObject", "arn:aws:s3:::prod/k") is Decision.DENY


def test_conditional_allow_counts_and_conditional_deny_is_the_callers_choice() -> None:
    conditional = {"StringEquals": {"aws:SourceVpce": "vpce-1"}}
    doc = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": conditional},
                {
                    "Effect": "Deny",
                    "Action": "s3:PutObject",
                    "Resource": "*",
                    "Condition": conditional,
                },
            ],
        }
    )
    assert is_allowed([doc], "s3:GetObject", "arn:aws:s3:::b/k")
    assert evaluate([doc], "s3:PutObject", "arn:aws:s3:::b/k") is Decision.DENY
    replay = evaluate([doc], "s3:PutObject", "arn:aws:s3:::b/k", conditional_deny="ignore")
    assert replay is Decision.ALLOW


def test_variables_never_widen_an_allow_and_widen_a_deny_only_when_applied() -> None:
    doc = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:*",
                    "Resource": "arn:aws:s3:::home/${aws:userid}/*",
                },
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared/*"},
                {
                    "Effect": "Deny",
                    "Action": "s3:*",
                    "Resource": "arn:aws:s3:::shared/${aws:userid}/*",
                },
            ],
        }
    )
    assert not is_allowed([doc], "s3:GetObject", "arn:aws:s3:::home/AROA1/x")
    assert evaluate([doc], "s3:GetObject", "arn:aws:s3:::shared/AROA1/x") is Decision.DENY
    replay = evaluate(
        [doc], "s3:GetObject", "arn:aws:s3:::shared/AROA1/x", conditional_deny="ignore"
    )
    assert replay is Decision.ALLOW


def test_bucket_and_object_arns_are_not_interchangeable() -> None:
    doc = parse_policy(allow(["s3:ListBucket", "s3:GetObject"], "arn:aws:s3:::b/*"))
    assert not is_allowed([doc], "s3:ListBucket", "arn:aws:s3:::b")
    assert is_allowed([doc], "s3:GetObject", "arn:aws:s3:::b/k")


def test_trust_policy_statements_grant_no_identity_request() -> None:
    trust = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    assert evaluate([trust], "sts:AssumeRole", "*") is Decision.IMPLICIT_DENY


def test_real_managed_policies() -> None:
    policies = [parse_policy(S3_FULL_ACCESS), parse_policy(LAMBDA_BASIC_EXECUTION)]
    assert is_allowed(policies, "s3:PutObject", "arn:aws:s3:::any-bucket/any/key")
    assert is_allowed(policies, "s3:ListAllMyBuckets", "*")
    assert is_allowed(
        policies, "logs:PutLogEvents", "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/f:*"
    )
    assert not is_allowed(policies, "kms:Decrypt", "arn:aws:kms:us-east-1:1:key/k")
    assert not is_allowed(
        policies, "s3express:CreateSession", "arn:aws:s3express:us-east-1:1:bucket/b"
    )


# --- rendering and size ----------------------------------------------------------------------


def test_canonical_json_orders_keys_like_iam_and_keeps_statement_order() -> None:
    messy = {
        "Statement": [
            {
                "Resource": ["arn:aws:s3:::b/*"],
                "Action": "s3:GetObject",
                "Effect": "Allow",
                "Sid": "Read",
            },
            {
                "Condition": {
                    "StringLike": {"s3:prefix": ["a/*"]},
                    "Bool": {"aws:SecureTransport": "true"},
                },
                "NotResource": "arn:aws:s3:::x",
                "Effect": "Deny",
                "NotAction": ["s3:Get*", "s3:List*"],
            },
        ],
        "Version": "2012-10-17",
    }
    expected = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Read",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*",
            },
            {
                "Effect": "Deny",
                "NotAction": ["s3:Get*", "s3:List*"],
                "NotResource": "arn:aws:s3:::x",
                "Condition": {
                    "Bool": {"aws:SecureTransport": "true"},
                    "StringLike": {"s3:prefix": ["a/*"]},
                },
            },
        ],
    }
    text = canonical_json(messy)
    assert text == json.dumps(expected, indent=2)
    assert list(json.loads(text)) == ["Version", "Statement"]
    assert list(json.loads(text)["Statement"][1]) == [
        "Effect",
        "NotAction",
        "NotResource",
        "Condition",
    ]
    assert canonical_json(parse_policy(text)) == text
    assert to_dict(parse_policy(messy)) == expected


def test_policy_size_is_the_json_without_whitespace() -> None:
    compact = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Action":["s3:*","s3-object-lambda:*"],"Resource":"*"}]}'
    )
    doc = parse_policy(S3_FULL_ACCESS)
    assert canonical_json(doc, indent=None) == compact
    assert policy_size(doc) == len(compact) == 111
    assert policy_size(json.dumps(S3_FULL_ACCESS, indent=4)) == len(compact)
    assert policy_size(S3_FULL_ACCESS) == len(compact)


def test_documents_without_version_stay_without_version() -> None:
    doc = parse_policy({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    assert doc.version is None
    assert "Version" not in json.loads(canonical_json(doc))
    with pytest.raises(PolicyError, match="Version"):
        PolicyDocument(version="2020-01-01")


def test_only_2012_documents_read_variables_and_escapes() -> None:
    assert PolicyDocument(version="2012-10-17").reads_variables
    assert not PolicyDocument(version="2008-10-17").reads_variables
    assert not PolicyDocument(version=None).reads_variables  # IAM reads it as 2008-10-17
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::a/k${?}"}
    doc = parse_policy({"Statement": [statement]})
    assert is_allowed([doc], "s3:GetObject", "arn:aws:s3:::a/k${x}")  # `${` text, `?` wildcard
    assert not is_allowed([doc], "s3:GetObject", "arn:aws:s3:::a/k?")


# --- helpers for generation ------------------------------------------------------------------


def test_grants_flatten_statements() -> None:
    doc = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Rw",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject"],
                    "Resource": ["arn:aws:s3:::a/*", "arn:aws:s3:::b/*"],
                },
                {
                    "Effect": "Deny",
                    "NotAction": "s3:Get*",
                    "Resource": "*",
                    "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
                },
                {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
            ],
        }
    )
    assert grants(doc) == [
        Grant("Allow", "s3:GetObject", "arn:aws:s3:::a/*", False, "Rw"),
        Grant("Allow", "s3:GetObject", "arn:aws:s3:::b/*", False, "Rw"),
        Grant("Allow", "s3:PutObject", "arn:aws:s3:::a/*", False, "Rw"),
        Grant("Allow", "s3:PutObject", "arn:aws:s3:::b/*", False, "Rw"),
        Grant("Deny", "*", "*", True, None, except_actions=("s3:Get*",), statement_index=1),
    ]


def test_expand_s3_actions_uses_the_catalog() -> None:
    gets = expand_s3_actions("s3:Get*")
    assert {"s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketPolicy"} <= set(gets)
    assert all(action.startswith("s3:Get") for action in gets)
    assert gets == sorted(gets)
    assert expand_s3_actions("S3:getobject") == ["s3:GetObject"]
    assert "s3:DeleteObject" in expand_s3_actions("s3:*Object")
    assert "s3:GetObjectAcl" not in expand_s3_actions("s3:*Object")
    assert "s3:PutObject" in expand_s3_actions("*")
    assert expand_s3_actions("ec2:*") == []
    assert len(expand_s3_actions("s3:*")) > 100
