"""Property tests (hypothesis) for the policy engine: matching, evaluation and rendering."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from rightsizer.iam.policy import (
    Decision,
    Evaluator,
    PolicyDocument,
    Statement,
    action_matches,
    canonical_json,
    escape_resource,
    evaluate,
    parse_policy,
    policy_size,
    resource_matches,
)
from rightsizer.usage import UsedPermission
from rightsizer.verify import replay

S3_PREFIX = "arn:aws:s3:::"
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
T0 = dt.datetime(2026, 11, 1)

services = st.sampled_from(["s3", "kms", "logs", "dynamodb"])
action_names = st.text(LETTERS, min_size=1, max_size=12)
actions = st.builds(lambda s, n: f"{s}:{n}", services, action_names)
buckets = st.text("abcdefghij0123456789.-", min_size=1, max_size=8)
# Object keys: any text, including separators, colons, wildcard characters and non-ASCII.
keys = st.text(st.characters(codec="utf-8"), min_size=0, max_size=15)
object_arns = st.builds(lambda b, k: f"{S3_PREFIX}{b}/{k}", buckets, keys)


def globbed(data: st.DataObject, text: str, *, escape: bool) -> str:
    """A pattern for `text`: each character kept, replaced by `?`, or absorbed into a `*`."""
    out: list[str] = []
    for ch in text:
        op = data.draw(st.sampled_from(["keep", "keep", "?", "*"]))
        if op == "keep":
            out.append(escape_resource(ch) if escape else ch)
        elif op == "?":
            out.append("?")
        elif not out or out[-1] != "*":
            out.append("*")
    if data.draw(st.booleans()):
        out.insert(data.draw(st.integers(0, len(out))), "*")  # a * may also match nothing
    return "".join(out)


def action_pattern(data: st.DataObject, action: str) -> str:
    """A valid action pattern for `action`: both sides of the colon globbed."""
    service, _, name = action.partition(":")
    return f"{globbed(data, service, escape=False)}:{globbed(data, name, escape=False)}"


@given(st.data(), actions)
def test_action_pattern_made_from_an_action_matches_it_in_any_case(
    data: st.DataObject, action: str
) -> None:
    pattern = action_pattern(data, action)
    assert action_matches(pattern, action)
    assert action_matches(pattern.upper(), action.swapcase())


@given(st.data(), object_arns)
def test_resource_pattern_made_from_an_object_arn_matches_it(data: st.DataObject, arn: str) -> None:
    resource_part = arn.removeprefix(S3_PREFIX)
    pattern = S3_PREFIX + globbed(data, resource_part, escape=True)
    assert resource_matches(pattern, arn)


@given(object_arns)
def test_escaped_resource_matches_only_itself(arn: str) -> None:
    pattern = escape_resource(arn)
    assert resource_matches(pattern, arn)
    assert not resource_matches(pattern, arn + "x")
    if any(ch.isalpha() and ch.swapcase() != ch for ch in arn.removeprefix(S3_PREFIX)):
        swapped = S3_PREFIX + arn.removeprefix(S3_PREFIX).swapcase()
        assert swapped == arn or not resource_matches(pattern, swapped)


# --- documents -------------------------------------------------------------------------------

action_patterns = st.one_of(
    st.just("*"),
    st.builds(lambda s, n, w: f"{s}:{n}{w}", services, action_names, st.sampled_from(["", "*"])),
    st.builds(lambda s: f"{s}:*", services),
)
resource_patterns = st.one_of(
    st.just("*"),
    st.builds(lambda b: S3_PREFIX + b, buckets),
    st.builds(lambda b, p: f"{S3_PREFIX}{b}/{p}*", buckets, st.text("abc/", max_size=4)),
)
conditions = st.one_of(
    st.none(),
    st.just({"Bool": {"aws:SecureTransport": "true"}}),
    st.just({"StringLike": {"s3:prefix": ["home/*", "tmp/*"]}}),
)


@st.composite
def statements(draw: st.DrawFn) -> Statement:
    pattern_lists = st.lists(action_patterns, min_size=1, max_size=3).map(tuple)
    resource_lists = st.lists(resource_patterns, min_size=1, max_size=3).map(tuple)
    negate_action, negate_resource = draw(st.booleans()), draw(st.booleans())
    chosen_actions, chosen_resources = draw(pattern_lists), draw(resource_lists)
    return Statement(
        effect=draw(st.sampled_from(["Allow", "Deny"])),
        sid=draw(st.one_of(st.none(), st.text(LETTERS + "0123456789", min_size=1, max_size=8))),
        actions=None if negate_action else chosen_actions,
        not_actions=chosen_actions if negate_action else None,
        resources=None if negate_resource else chosen_resources,
        not_resources=chosen_resources if negate_resource else None,
        condition=draw(conditions),
    )


documents = st.builds(
    PolicyDocument,
    version=st.sampled_from(["2012-10-17", "2008-10-17", None]),
    statements=st.lists(statements(), max_size=4).map(tuple),
    id=st.one_of(st.none(), st.just("policy-id")),
)
requests = st.tuples(
    st.one_of(actions, st.sampled_from(["s3:GetObject", "s3:PutObject", "kms:Decrypt"])),
    st.one_of(
        object_arns,
        st.builds(lambda b: S3_PREFIX + b, buckets),
        st.builds(lambda b, p: f"{S3_PREFIX}{b}/{p}", buckets, st.text("abc/", max_size=5)),
    ),
)


@given(documents)
def test_canonical_json_round_trips_and_is_idempotent(doc: PolicyDocument) -> None:
    text = canonical_json(doc)
    assert parse_policy(text) == doc
    assert canonical_json(parse_policy(text)) == text
    assert canonical_json(text) == text


@given(documents)
def test_size_is_the_pretty_text_without_whitespace(doc: PolicyDocument) -> None:
    # Generated strings hold no whitespace, so every whitespace character is layout.
    assert policy_size(doc) == len(re.sub(r"\s", "", canonical_json(doc, indent=2)))


@given(statements(), requests)
def test_single_allow_statement_evaluates_like_the_match_predicates(
    statement: Statement, request: tuple[str, str]
) -> None:
    action, resource = request
    allow = Statement(
        effect="Allow",
        actions=statement.actions,
        not_actions=statement.not_actions,
        resources=statement.resources,
        not_resources=statement.not_resources,
        condition=statement.condition,
    )
    if allow.actions is not None:
        action_ok = any(action_matches(p, action) for p in allow.actions)
    else:
        action_ok = not any(action_matches(p, action) for p in allow.not_actions or ())
    if allow.resources is not None:
        resource_ok = any(resource_matches(p, resource) for p in allow.resources)
    else:
        resource_ok = not any(resource_matches(p, resource) for p in allow.not_resources or ())
    decision = evaluate([PolicyDocument(statements=(allow,))], action, resource)
    expected = Decision.ALLOW if action_ok and resource_ok else Decision.IMPLICIT_DENY
    assert decision is expected


@given(st.data(), st.lists(documents, max_size=3), requests)
def test_a_matching_deny_always_wins_and_a_missing_one_changes_nothing(
    data: st.DataObject, policies: list[PolicyDocument], request: tuple[str, str]
) -> None:
    action, resource = request
    before = evaluate(policies, action, resource)
    assert evaluate(list(reversed(policies)), action, resource) is before
    deny = PolicyDocument(
        statements=(
            Statement(
                effect="Deny",
                actions=(action_pattern(data, action),),
                resources=(S3_PREFIX + globbed(data, resource[len(S3_PREFIX) :], escape=True),),
            ),
        )
    )
    for position in (0, len(policies)):
        with_deny = [*policies[:position], deny, *policies[position:]]
        assert evaluate(with_deny, action, resource) is Decision.DENY
    elsewhere = PolicyDocument(
        statements=(
            Statement(
                effect="Deny", actions=(action,), resources=(escape_resource(resource) + "-other",)
            ),
        )
    )
    assert evaluate([*policies, elsewhere], action, resource) is before


# --- the replay decides a column of ARNs at once ----------------------------------------------

# Resource patterns with every character the two regex dialects treat differently.
odd_text = st.text(st.sampled_from("ab/:*?$.{}()[]^|+\\#~ \n٣é"), max_size=8)
odd_patterns = st.one_of(
    st.just("*"),
    st.builds(lambda b, p: f"{S3_PREFIX}{b}/{p}", buckets, odd_text),
    st.builds(lambda p: f"arn:aws:s3:{p}", odd_text),
    st.sampled_from(["arn:aws:s3:::a/${aws:username}/*", "arn:aws:s3:::a/${*}${?}${$}*"]),
)


@st.composite
def odd_statements(draw: st.DrawFn) -> Statement:
    chosen = tuple(draw(st.lists(odd_patterns, min_size=1, max_size=3)))
    negate = draw(st.booleans())
    return Statement(
        effect=draw(st.sampled_from(["Allow", "Allow", "Deny"])),
        actions=("s3:GetObject",),
        resources=None if negate else chosen,
        not_resources=chosen if negate else None,
        condition=draw(conditions),
    )


odd_documents = st.builds(
    PolicyDocument,
    version=st.sampled_from(["2012-10-17", None]),
    statements=st.lists(odd_statements(), min_size=1, max_size=3).map(tuple),
)


@settings(deadline=None)
@given(
    odd_documents,
    odd_documents,
    st.lists(
        st.one_of(
            st.builds(lambda b, k: f"{S3_PREFIX}{b}/{k}", buckets, odd_text),
            st.builds(lambda p: f"arn:aws:s3:{p}", odd_text),
        ),
        unique=True,
        max_size=12,
    ),
)
def test_the_replay_decides_each_arn_as_the_evaluator_does(
    today: PolicyDocument, proposed: PolicyDocument, arns: list[str]
) -> None:
    used = [UsedPermission("s3:GetObject", arn, 1, T0, T0) for arn in arns]
    checked = replay(proposed, [today], used)
    granted = Evaluator([today], conditional_deny="ignore").allows
    assert checked.permissions == len(arns)
    assert checked.not_granted_today == sum(not granted("s3:GetObject", arn) for arn in arns)
    # Conditions are not logged: kept means unconditionally where today allows so, else under
    # each condition of today's Allows that allow the ARN (or with none).
    lost = set()
    for arn in arns:
        before, after = _allowed_under(today, arn), _allowed_under(proposed, arn)
        if before and None not in after and (None in before or not before <= after):
            lost.add(arn)
    assert {f.resource for f in checked.failures} == lost


def _allowed_under(doc: PolicyDocument, arn: str) -> set[str | None]:
    """The conditions of the Allows of `doc` that allow s3:GetObject on `arn`, each judged alone
    beside every Deny of `doc` (empty when `doc` does not allow it)."""
    denies = tuple(s for s in doc.statements if s.effect == "Deny")
    return {
        s.condition_key
        for s in doc.statements
        if s.effect == "Allow"
        and Evaluator(
            [PolicyDocument(version=doc.version, statements=(*denies, s))],
            conditional_deny="ignore",
        ).allows("s3:GetObject", arn)
    }
