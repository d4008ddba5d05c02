"""Which form a recommended policy is deployed in, within IAM's limits for that form.

IAM counts policy size in characters without whitespace (IAM User Guide, "IAM and AWS STS
quotas"): all inline policies of one role together may hold 10,240, one managed policy 6,144,
and a role has at most 10 managed policies attached by default (20 after a quota increase).

A recommendation without statements is deployed as no policy at all (IAM refuses a document
without one): today's policies are only removed. It is added before today's policies are
removed, so the role holds both for a moment: a recommendation within the inline limit beside
today's inline policies is deployed as one inline policy, which replaces all of the role's
policies. A larger one, or one that fits only once today's are gone, is split, statement by
statement, into managed policies of at most 6,144 characters each; a statement too large on
its own is split by its resources, then by its actions (same effect, same condition, so the
union grants what the statement did). What cannot be split to fit, or needs more managed
policies than a role takes by default (today's counted while they are attached), is said in
`Deployment.problem`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from rightsizer.fitting import INLINE_POLICY_LIMIT, MANAGED_POLICY_LIMIT
from rightsizer.iam.policy import policy_size
from rightsizer.model import RoleAnalysis

# Managed policies a role may have attached unless the account's quota was raised.
MANAGED_POLICIES_PER_ROLE = 10
# The inline policy's name; the managed ones are `<role>-rightsized-<n>`.
INLINE_POLICY_NAME = "rightsized"
# A statement too large alone is split on these lists (NotAction/NotResource cannot be).
_SPLITTABLE = ("Resource", "Action")

Form = Literal["none", "inline", "managed"]


@dataclass(frozen=True)
class PolicyPart:
    """One policy document to deploy, with the name it gets in IAM."""

    name: str
    document: Mapping[str, Any]

    @property
    def size(self) -> int:
        return policy_size(self.document)


@dataclass(frozen=True)
class Deployment:
    """The recommended policy of one role in the form it is deployed in."""

    form: Form
    parts: tuple[PolicyPart, ...]
    size: int  # of the whole recommendation
    problem: str = ""  # why it cannot be applied as written; "" when it can
    beside: int = 0  # characters of today's inline policies the role holds while it is added

    @property
    def limit(self) -> int:
        """The size limit of each part: the role's inline total, or one managed policy."""
        return MANAGED_POLICY_LIMIT if self.form == "managed" else INLINE_POLICY_LIMIT

    def describe(self) -> str:
        """One line naming the form, the sizes and the IAM limit that applies."""
        if self.form == "none":
            return (
                "no policy: the recommendation holds no statement and IAM refuses a policy "
                "document without one, so nothing is added and today's policies are only removed"
            )
        if self.form == "inline":
            return (
                f"one inline policy {self.parts[0].name!r} of {self.size:,} characters; IAM "
                f"allows {INLINE_POLICY_LIMIT:,} characters for all inline policies of a role "
                "together (whitespace not counted)"
            )
        sizes = ", ".join(f"{part.size:,}" for part in self.parts)
        if self.size > INLINE_POLICY_LIMIT:
            why = (
                f"the recommendation's {self.size:,} characters are over the "
                f"{INLINE_POLICY_LIMIT:,} IAM allows for a role's inline policies"
            )
        else:
            why = (
                f"the recommendation's {self.size:,} characters and the {self.beside:,} of "
                "today's inline policies, which are removed only once it is in place, are "
                f"together over the {INLINE_POLICY_LIMIT:,} IAM allows for a role's inline "
                "policies"
            )
        return (
            f"{len(self.parts)} managed policies of {sizes} characters: {why}; IAM allows "
            f"{MANAGED_POLICY_LIMIT:,} characters per managed policy (whitespace not counted) "
            f"and {MANAGED_POLICIES_PER_ROLE} managed policies attached to a role by default"
        )


@dataclass(frozen=True)
class Target:
    """What every form writes about one role: the role, its deployment and the header lines."""

    role: RoleAnalysis
    base: str  # the role's file name without extension, unique in the --out folder
    deployment: Deployment
    header: tuple[str, ...]  # comment lines every form starts with


def deployment(
    role_name: str, document: Mapping[str, Any], *, inline_beside: int = 0, attached: int = 0
) -> Deployment:
    """The form `document` (the recommended policy of `role_name`) is deployed in.

    The recommendation is added before today's policies are removed, so while it is added the
    role also holds `inline_beside` characters of inline policies (today's, but one named as
    the recommendation's, which the put replaces) and `attached` managed policies: an inline
    recommendation that does not fit beside them is deployed as managed policies.
    """
    size = policy_size(document)
    if not document.get("Statement"):
        return Deployment("none", (), size)
    if size + inline_beside <= INLINE_POLICY_LIMIT:
        return Deployment("inline", (PolicyPart(INLINE_POLICY_NAME, document),), size)
    pieces: list[dict[str, Any]] = []
    problems: list[str] = []
    header = _header(document)
    for index, statement in enumerate(document.get("Statement", [])):
        split = _split(dict(statement), header)
        pieces.extend(split)
        for piece in split:
            over = policy_size({**header, "Statement": [piece]})
            if over > MANAGED_POLICY_LIMIT:
                label = piece.get("Sid") or f"number {index + 1}"
                problems.append(
                    f"statement {label} alone is {over:,} characters, over the "
                    f"{MANAGED_POLICY_LIMIT:,} of a managed policy, and cannot be split further"
                )
    groups = _pack(pieces, header)
    parts = tuple(
        PolicyPart(f"{role_name}-{INLINE_POLICY_NAME}-{n}", {**header, "Statement": g})
        for n, g in enumerate(groups, start=1)
    )
    if len(parts) > MANAGED_POLICIES_PER_ROLE:
        problems.append(
            f"it needs {len(parts)} managed policies, over the {MANAGED_POLICIES_PER_ROLE} a role "
            "may have attached by default: raise the account's quota (up to 20), or analyze "
            "with --granularity prefix, which folds keys into folders until the policy fits"
        )
    elif len(parts) + attached > MANAGED_POLICIES_PER_ROLE:
        problems.append(
            f"while it is added, the role holds its {len(parts)} managed policies beside the "
            f"{attached} attached today, which are detached only once it is in place: over the "
            f"{MANAGED_POLICIES_PER_ROLE} a role may have attached by default; raise the "
            "account's quota (up to 20)"
        )
    beside = inline_beside if size <= INLINE_POLICY_LIMIT else 0
    return Deployment("managed", parts, size, "; ".join(problems), beside)


def _header(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document without its statements (Version, Id)."""
    return {key: value for key, value in document.items() if key != "Statement"}


def _fits(statements: list[dict[str, Any]], header: dict[str, Any]) -> bool:
    return policy_size({**header, "Statement": statements}) <= MANAGED_POLICY_LIMIT


def _split(statement: dict[str, Any], header: dict[str, Any]) -> list[dict[str, Any]]:
    """The statement as pieces each within a managed policy's limit where its lists allow."""
    if _fits([statement], header):
        return [statement]
    for key in _SPLITTABLE:
        values = statement.get(key)
        if not isinstance(values, list) or len(values) < 2:
            continue
        chunks: list[list[Any]] = [[]]
        for value in values:
            if chunks[-1] and not _fits([{**statement, key: [*chunks[-1], value]}], header):
                chunks.append([])
            chunks[-1].append(value)
        pieces: list[dict[str, Any]] = []
        for number, chunk in enumerate(chunks, start=1):
            piece = {**statement, key: chunk if len(chunk) > 1 else chunk[0]}
            if number > 1 and "Sid" in statement:
                piece["Sid"] = f"{statement['Sid']}Part{number}"  # Sids stay unique
            pieces.extend(_split(piece, header))
        return pieces
    return [statement]


def _pack(pieces: list[dict[str, Any]], header: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Statements into documents within the limit, each into the first with room (first fit:
    the order of statements across managed policies means nothing to IAM)."""
    groups: list[list[dict[str, Any]]] = []
    for piece in pieces:
        group = next((g for g in groups if _fits([*g, piece], header)), None)
        if group is None:
            groups.append([piece])
        else:
            group.append(piece)
    return groups
