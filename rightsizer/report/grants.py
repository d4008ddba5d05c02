"""What a grant means for the report: S3 actions a pattern covers, risk, and grant counts.

An S3 *grant* is one (action pattern, resource pattern) pair of an Allow statement, the unit
the analysis diff classifies as removed, kept or unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from rightsizer.iam.s3 import expand_s3_actions

# Action prefixes the report calls high-risk, besides `s3:*` and any grant on resource `*`.
_RISKY_ACTION_PREFIXES = ("s3:delete", "s3:put")


@cache  # a report asks about the same few patterns for every role
def actions_matching(pattern: str) -> frozenset[str]:
    """The S3 actions an IAM action pattern covers (`*`, `s3:*`, `s3:Get*`, `s3:GetObject`)."""
    return frozenset(expand_s3_actions(pattern))


def is_high_risk(action: str, resource: str) -> bool:
    """True for `s3:*`, a pattern covering any Delete or Put action, or anything on `*`."""
    if resource == "*":
        return True
    return any(a.lower().startswith(_RISKY_ACTION_PREFIXES) for a in actions_matching(action))


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value]


def statement_s3_actions(statement: Mapping[str, Any]) -> frozenset[str]:
    """The S3 actions an Allow statement grants (NotAction means all the others)."""
    if statement.get("Effect") != "Allow":
        return frozenset()
    if "NotAction" in statement:
        excluded: set[str] = set()
        for pattern in _as_list(statement["NotAction"]):
            excluded |= actions_matching(pattern)
        return actions_matching("s3:*") - excluded
    found: set[str] = set()
    for pattern in _as_list(statement.get("Action")):
        found |= actions_matching(pattern)
    return frozenset(found)


def _statements(document: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if not document:
        return []
    statements = document.get("Statement", [])
    if isinstance(statements, Mapping):
        return [statements]
    return [s for s in statements if isinstance(s, Mapping)]


def policy_s3_actions(document: Mapping[str, Any] | None) -> frozenset[str]:
    """The S3 actions any Allow statement of a policy document grants, on any resource."""
    found: set[str] = set()
    for statement in _statements(document):
        found |= statement_s3_actions(statement)
    return frozenset(found)


def policy_s3_grants(document: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The (action pattern, resource pattern) pairs of a document's S3-granting Allows.

    A NotAction or NotResource statement counts as one broad grant, written with `NOT `.
    """
    grants: set[tuple[str, str]] = set()
    for statement in _statements(document):
        if not statement_s3_actions(statement):
            continue
        if "NotAction" in statement:
            actions = ["NOT " + ",".join(_as_list(statement["NotAction"]))]
        else:
            actions = [a for a in _as_list(statement.get("Action")) if actions_matching(a)]
        if "NotResource" in statement:
            resources = ["NOT " + ",".join(_as_list(statement["NotResource"]))]
        else:
            resources = _as_list(statement.get("Resource"))
        grants.update((action, resource) for action in actions for resource in resources)
    return sorted(grants)
