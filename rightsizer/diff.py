"""The diff between a role's S3 grants today and its recommendation."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from rightsizer.generate import Item
from rightsizer.iam.containment import within
from rightsizer.iam.matching import action_matches, has_wildcard
from rightsizer.iam.policy import Grant, PolicyDocument, canonical_json, expand_s3_actions, grants
from rightsizer.iam.s3 import S3Resource, could_be_s3, is_s3_action, s3_family_service

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


def counts(doc: PolicyDocument) -> dict[str, int]:
    """S3 actions granted (concrete), buckets named, and grants that are wildcards."""
    actions: set[str] = set()
    buckets: set[str] = set()
    wildcards = 0
    for grant in s3_allow_grants(doc):
        actions.update(
            a
            for a in expand_s3_actions(grant.action)
            if not any(action_matches(x, a) for x in grant.except_actions)
        )
        parsed = S3Resource.parse(grant.resource)
        broad = grant.resource == "*" or bool(grant.except_resources)
        if parsed is not None and not broad:
            if has_wildcard(parsed.bucket):
                broad = True
            else:
                buckets.add(parsed.bucket)
        account_level = grant.resource == "*" and all(
            a in ACCOUNT_ACTIONS for a in expand_s3_actions(grant.action)
        )
        if (broad and not account_level) or has_wildcard(grant.action) or grant.except_actions:
            wildcards += 1
    # Grants of the S3 family beyond s3: (s3-object-lambda:*, ...) are S3 access too.
    for grant in family_grants(doc):
        if has_wildcard(grant.action) or has_wildcard(grant.resource) or grant.except_resources:
            wildcards += 1
    return {"s3_actions": len(actions), "buckets": len(buckets), "wildcard_grants": wildcards}
