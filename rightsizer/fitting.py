"""Step 5 of generate: the policy document, fitted into IAM's size limits.

Today's statements whose grants the recommendation keeps whole survive as they are
(rightsizer.stable); the rest of the wanted (resource, condition) → actions are grouped into one
statement per action set, in a deterministic order. While the document is over the limit, its
deepest object prefixes move one folder up where today's grants still cover the wider one, and
when none can, each grant moves into today's grant that holds it; `--granularity object` never
trades exact keys for prefixes.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rightsizer.current import CurrentGrants
from rightsizer.findings import Code
from rightsizer.iam.containment import as_2012, within
from rightsizer.iam.policy import PolicyDocument, Statement, policy_size
from rightsizer.iam.s3 import S3Resource
from rightsizer.prefixes import coarsen
from rightsizer.stable import arrange, surviving
from rightsizer.unknown import Wanted

# IAM's limit for all inline policies of one role together (characters, no whitespace).
INLINE_POLICY_LIMIT = 10_240
# IAM's limit for one managed policy (characters, no whitespace).
MANAGED_POLICY_LIMIT = 6_144


@dataclass(frozen=True)
class Fitted:
    """The policy document within IAM's size limit and what it gave up to get there."""

    policy: PolicyDocument
    wanted: Wanted  # after coarsening
    given_up: list[dict[str, str]]  # the `precision_given_up` rows
    warnings: list[dict[str, str]]


def fit_size(
    current: CurrentGrants,
    wanted: Wanted,
    carried: Sequence[Statement],
    granularity: str,
    size_limit: int,
) -> Fitted:
    """Assemble the policy; while it is over `size_limit`, move its deepest object
    prefixes one folder up where today's grants cover the wider one; warn when it cannot fit,
    or fits only as an inline policy."""
    given_up: list[dict[str, str]] = []
    warnings: list[dict[str, str]] = []
    policy = _assemble(wanted, carried, current.statements)
    while policy_size(policy) > size_limit:
        # Object granularity promises exact keys: never trade them for prefixes. The last
        # resort is today's own grant: it fits today, so it fits with fewer of its kind.
        coarser = (
            None
            if granularity == "object"
            else _coarsen_once(current, wanted, given_up)
            or _widen_to_today(current, wanted, given_up)
        )
        if coarser is None:
            how = (
                "as exact keys; use --granularity prefix or"
                if granularity == "object"
                else "even with each grant as wide as today's grants allow;"
            )
            warnings.append(
                {
                    "code": Code.POLICY_TOO_LARGE,
                    "message": f"the recommendation is {policy_size(policy)} characters, over "
                    f"IAM's {size_limit}, {how} split it across managed policies (--emit writes "
                    f"it so, {MANAGED_POLICY_LIMIT} characters each at most)",
                }
            )
            break
        wanted = coarser
        policy = _assemble(wanted, carried, current.statements)
    if MANAGED_POLICY_LIMIT < policy_size(policy) <= size_limit:
        warnings.append(
            {
                "code": Code.OVER_MANAGED_POLICY_LIMIT,
                "message": f"the recommendation is {policy_size(policy)} characters, over the "
                f"{MANAGED_POLICY_LIMIT} of a managed policy; apply it as an inline policy "
                f"(up to {INLINE_POLICY_LIMIT} for all of a role's inline policies; --emit "
                "writes it so where today's inline policies leave it room, else split into "
                "managed policies) or split it",
            }
        )
    return Fitted(policy, wanted, given_up, warnings)


def _kind(resource: str) -> str:
    parsed = S3Resource.parse(resource)
    if resource == "*" or parsed is None:
        return "AllResources"
    if parsed.key is None or (parsed.access_point is None and parsed.bucket == "*"):
        return "Buckets"
    return "Objects"


def _assemble(
    wanted: Wanted, carried: Sequence[Statement], today: Sequence[Statement]
) -> PolicyDocument:
    """Today's statements that survive where they stood; the other grants grouped by their
    action set, one statement per set, in a deterministic order."""
    survivors = surviving(today, wanted)
    by_actions: dict[tuple[tuple[str, ...], str | None, str], list[str]] = defaultdict(list)
    for (resource, condition), action_set in survivors.rest.items():
        key = (tuple(sorted(action_set, key=str.lower)), condition, _kind(resource))
        by_actions[key].append(resource)
    order = {"Objects": 0, "Buckets": 1, "AllResources": 2}
    statements: list[Statement] = []
    counters: dict[str, int] = defaultdict(int)
    for (actions, condition, kind), resources in sorted(
        by_actions.items(),
        key=lambda kv: (order[kv[0][2]], kv[0][0], sorted(kv[1]), kv[0][1] or ""),
    ):
        counters[kind] += 1
        statements.append(
            Statement(
                effect="Allow",
                sid=f"S3{kind}{counters[kind]}",
                actions=actions,
                resources=tuple(sorted(resources)),
                condition=json.loads(condition) if condition else None,
            )
        )
    return arrange(today, [*survivors.statements, *statements, *carried])


def _widen_to_today(
    current: CurrentGrants, wanted: Wanted, given_up: list[dict[str, str]]
) -> Wanted | None:
    """Move grants into the grant of today that holds them (their actions, under no condition
    or the same one) where two or more of them meet there: the widest the recommendation may
    go, no wider than today, and shorter."""
    holder: dict[tuple[str, str | None], str] = {}
    for (resource, condition), actions in wanted.items():
        for allow in current.allows:
            grant = allow.grant
            if grant.except_resources or allow.condition not in (None, condition):
                continue
            if all(allow.applies_to(a) for a in actions) and within(
                resource, grant.resource, variables=allow.variables
            ):
                holder[(resource, condition)] = as_2012(grant.resource, allow.variables)
                break
    meeting = Counter((new, condition) for (_, condition), new in holder.items())
    out: Wanted = defaultdict(set)
    for (resource, condition), actions in wanted.items():
        new = holder.get((resource, condition), resource)
        if new != resource and meeting[(new, condition)] > 1:
            given_up.append({"from": resource, "to": new})
            resource = new
        out[(resource, condition)] |= actions
    return out if len(out) < len(wanted) else None


def _coarsen_once(
    current: CurrentGrants,
    wanted: Wanted,
    given_up: list[dict[str, str]],
) -> Wanted | None:
    """Move the deepest object prefixes one folder up where today's grants still cover it."""
    deepest = max(
        (r.count("/") for r, _ in wanted if _kind(r) == "Objects" and not r.endswith(":::*")),
        default=0,
    )
    if deepest == 0:
        return None
    out: Wanted = defaultdict(set)
    changed = False
    for (resource, condition), actions in wanted.items():
        parsed = S3Resource.parse(resource)
        new = resource
        if parsed and parsed.key is not None and resource.count("/") == deepest:
            candidate = parsed.arn(coarsen(parsed.key))
            if all(current.cover_under(a, candidate, condition) for a in actions):
                new = candidate
        if new != resource:
            changed = True
            given_up.append({"from": resource, "to": new})
        out[(new, condition)] |= actions
    return out if changed else None
