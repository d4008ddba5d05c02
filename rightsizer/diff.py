"""The diff between a role's S3 grants today and its recommendation."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rightsizer.generate import Item
from rightsizer.iam.containment import within
from rightsizer.iam.matching import action_matches, has_wildcard
from rightsizer.iam.policy import Grant, PolicyDocument, canonical_json, expand_s3_actions, grants
from rightsizer.iam.s3 import (
    S3Resource,
    could_be_s3,
    expand_s3_family_actions,
    is_s3_action,
    s3_family_service,
)

# S3 actions with no resource type (docs/s3-event-actions.md): `*` is their only Resource, not
# a wildcard.
ACCOUNT_ACTIONS = frozenset(
    {
        "s3:ListAllMyBuckets",
        "s3:GetAccountPublicAccessBlock",
        "s3:PutAccountPublicAccessBlock",
        "s3:ListAccessPoints",
        "s3:ListJobs",
        "s3:CreateJob",
        "s3:ListStorageLensConfigurations",
    }
)


def merged(documents: Iterable[PolicyDocument]) -> PolicyDocument:
    """All statements of several policies as one document (for display and counting)."""
    return PolicyDocument(statements=tuple(st for doc in documents for st in doc.statements))


def s3_allow_grants(doc: PolicyDocument) -> list[Grant]:
    return [g for g in grants(doc) if g.effect == "Allow" and could_be_s3(g.action)]


def family_grants(doc: PolicyDocument) -> list[Grant]:
    """Allow grants of S3-family services beyond `s3:` (s3-object-lambda, s3express, ...)."""
    return [g for g in grants(doc) if g.effect == "Allow" and s3_family_service(g.action)]


def label(grant: Grant) -> Item:
    return Item(grant.action_label, grant.resource_label)


def diff(
    current: Sequence[PolicyDocument], recommended: PolicyDocument, unknown: set[Item]
) -> dict[str, Any]:
    """Removed, kept and unknown S3 grants, a unified diff and before/after counts."""
    before = merged(current)
    after = [g for g in s3_allow_grants(recommended) if is_s3_action(g.action)]
    after_items = {Item(g.action.lower(), g.resource) for g in after}
    removed, kept = [], []
    unknown_items: set[Item] = set()
    for grant in s3_allow_grants(before):
        item = label(grant)
        if not grant.except_actions and Item(grant.action.lower(), grant.resource) in after_items:
            exact = Item(grant.action, grant.resource)
            if any(
                u.action.lower() == exact.action.lower() and u.resource == exact.resource
                for u in unknown
            ):
                unknown_items.add(exact)
            else:
                kept.append(item.as_dict())
            continue
        narrowed = sorted(
            {
                Item(g.action, g.resource)
                for g in after
                if action_matches(grant.action, g.action)
                and not any(action_matches(x, g.action) for x in grant.except_actions)
                and (grant.except_resources or within(g.resource, grant.resource))
            },
            key=lambda i: (i.action, i.resource),
        )
        unknown_items.update(i for i in narrowed if i in unknown)
        removed.append(
            {**item.as_dict(), "narrowed_to": [i.as_dict() for i in narrowed if i not in unknown]}
        )
    # The S3 family beyond s3: is carried over unchanged and reported as unknown.
    carried = {label(g) for g in family_grants(recommended)}
    unknown_items.update(i for i in map(label, family_grants(before)) if i in carried)
    unified = "\n".join(
        difflib.unified_diff(
            canonical_json(before).splitlines(),
            canonical_json(recommended).splitlines(),
            "current",
            "recommended",
            lineterm="",
        )
    )
    return {
        "removed": sorted(removed, key=lambda r: (r["action"], r["resource"])),
        "kept": sorted(kept, key=lambda r: (r["action"], r["resource"])),
        "unknown": [
            i.as_dict() for i in sorted(unknown_items, key=lambda i: (i.action, i.resource))
        ],
        "unified": unified + "\n" if unified else "",
    }


def s3_grants(doc: PolicyDocument) -> dict[Item, Grant]:
    """The S3 grants of a document, each once: the figures' unit (README, "The figures").

    A grant is one (action, resource) pair of an Allow statement that can grant S3 or a
    service of the S3 family: each entry of an Action or Resource list is a pair of its own, a
    pattern (`s3:Get*`) stays one grant, a NotAction or NotResource statement is one grant per
    pair (shown `* except ...`). Actions compare ignoring case, as IAM does.
    """
    found: dict[Item, Grant] = {}
    for grant in grants(doc):
        if grant.effect != "Allow":
            continue
        if not s3_family_service(grant.action) and not (
            could_be_s3(grant.action) and _could_name_s3(grant)
        ):
            continue
        found.setdefault(Item(grant.action_label.lower(), grant.resource_label), grant)
    return found


def _could_name_s3(grant: Grant) -> bool:
    """Can the grant's resource be an S3 one? (`*` on a DynamoDB table grants no S3.)"""
    if is_s3_action(grant.action) or grant.except_resources or ":" not in grant.resource:
        return True
    parts = grant.resource.split(":", 3)
    return len(parts) < 3 or could_be_s3(parts[2])


def is_wildcard(grant: Grant) -> bool:
    """Does the grant reach more than it names: an action pattern or NotAction, or a resource
    that reaches every bucket (`*`, a bucket pattern, NotResource; for the S3 family any
    wildcard)? `*` is not a wildcard for an action that has no resource (s3:ListAllMyBuckets)."""
    if has_wildcard(grant.action) or grant.except_actions or grant.except_resources:
        return True
    if s3_family_service(grant.action):
        return has_wildcard(grant.resource)
    return _reaches_every_bucket(grant) or _bucket_pattern(grant.resource)


def _account_level(grant: Grant) -> bool:
    actions = expand_s3_actions(grant.action)
    return bool(actions) and all(a in ACCOUNT_ACTIONS for a in actions)


def _reaches_every_bucket(grant: Grant) -> bool:
    """A resource matching any bucket or object (`*`, `arn:aws:s3:::*`, NotResource), unless
    the grant is of account-level actions only."""
    if grant.except_resources:
        return True
    parsed = S3Resource.parse(grant.resource)
    if parsed is None or parsed.bucket != "*":
        return False
    if parsed.access_point is not None and not parsed.access_point.endswith("accesspoint/*"):
        return False  # one access point: the bucket behind it is not in the ARN
    return not _account_level(grant)


def _bucket_pattern(resource: str) -> bool:
    """A resource naming buckets by a pattern (`acme-*`); `*` itself is every bucket."""
    parsed = S3Resource.parse(resource)
    return (
        parsed is not None
        and parsed.access_point is None
        and parsed.bucket != "*"
        and has_wildcard(parsed.bucket)
    )


def counts(doc: PolicyDocument) -> dict[str, Any]:
    """The figures of one document (README, "The figures"): S3 grants, concrete S3 actions
    granted, buckets named (`all_buckets` when a grant reaches every bucket), wildcard grants
    and the actions they allow, each grant counted once however many statements repeat it."""
    found = s3_grants(doc)
    actions: set[str] = set()
    buckets: set[str] = set()
    all_buckets = False
    for grant in found.values():
        actions.update(_allowed(grant, expand_s3_actions(grant.action)))
        if s3_family_service(grant.action):
            continue  # their resources are not buckets
        if _reaches_every_bucket(grant):
            all_buckets = True
        elif (parsed := S3Resource.parse(grant.resource)) is not None and not (
            grant.resource == "*" and _account_level(grant)
        ):
            buckets.add(parsed.access_point or parsed.bucket)
    wildcards = [grant for grant in found.values() if is_wildcard(grant)]
    return {
        "grants": len(found),
        "s3_actions": len(actions),
        "buckets": len(buckets),
        "all_buckets": all_buckets,
        "wildcard_grants": len(wildcards),
        "wildcard_actions": len(wildcard_actions(wildcards)),
    }


def wildcard_actions(wildcards: Iterable[Grant]) -> set[str]:
    """The concrete actions of S3 and the S3 family that some of the wildcard grants allow.

    Unlike the number of wildcard grants, this cannot rise when a recommendation narrows:
    `s3:*` on `*` kept as thirty data actions, each on `*`, is one grant become thirty, but
    180 actions become thirty.
    """
    # Many grants share an action pattern (one per resource): expand each pattern once.
    patterns = {(grant.action, grant.except_actions): grant for grant in wildcards}
    return {
        action
        for grant in patterns.values()
        for action in _allowed(grant, expand_s3_family_actions(grant.action))
    }


def _allowed(grant: Grant, actions: Iterable[str]) -> list[str]:
    """Those of `actions` the grant's NotAction does not leave out."""
    return [a for a in actions if not any(action_matches(x, a) for x in grant.except_actions)]


def removed_or_narrowed(removed: Iterable[Mapping[str, Any]]) -> int:
    """Today's grants the recommendation does not keep as they are (the diff's `removed`,
    each grant once)."""
    return len({(row["action"].lower(), row["resource"]) for row in removed})
