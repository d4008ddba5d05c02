"""Generate one minimized replacement policy per Lambda role.

The recommendation keeps, for S3, only what the role's successful calls in the window needed
(object keys generalized into prefixes), intersected with what its identity policies grant
today. Where the logs cannot show a kind of use (no data events), today's grants of that kind
are kept and marked unknown. Every non-S3 statement and every Deny is carried over unchanged.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rightsizer.coverage import Coverage
from rightsizer.findings import Code
from rightsizer.iam.containment import as_2012, may_overlap, within
from rightsizer.iam.matching import action_matches, escape_resource
from rightsizer.iam.policy import (
    Evaluator,
    Grant,
    PolicyDocument,
    Statement,
    grants,
    policy_size,
)
from rightsizer.iam.s3 import S3Resource, could_be_s3, is_s3_action, s3_family_service
from rightsizer.iam.snapshot import Role
from rightsizer.prefixes import coarsen, folders_below, fragile_keys, generalize
from rightsizer.unknown import keep_unobservable
from rightsizer.usage import RoleUsage

# IAM's limit for all inline policies of one role together (characters, no whitespace).
INLINE_POLICY_LIMIT = 10_240
# IAM's limit for one managed policy (characters, no whitespace).
MANAGED_POLICY_LIMIT = 6_144


@dataclass(frozen=True)
class Item:
    """One (action, resource) line of a finding, as it appears in the JSON output."""

    action: str
    resource: str

    def as_dict(self) -> dict[str, str]:
        return {"action": self.action, "resource": self.resource}


@dataclass
class Recommendation:
    """The replacement policy of one role and everything a reader needs to trust it."""

    policy: PolicyDocument
    used: list[dict[str, Any]]
    unknown: list[dict[str, str]]
    not_granted: list[dict[str, Any]]
    out_of_scope: list[dict[str, Any]]
    precision_given_up: list[dict[str, str]]
    warnings: list[dict[str, str]]

    @property
    def unknown_grants(self) -> set[Item]:
        """The (action, resource) grants kept because the logs cannot show their use."""
        return {Item(u["action"], u["resource"]) for u in self.unknown}


@dataclass(frozen=True)
class _Allow:
    """One Allow grant of today, its statement, and whether its document reads `${...}`."""

    grant: Grant
    statement: Statement
    variables: bool

    def applies_to(self, action: str) -> bool:
        g = self.grant
        return action_matches(g.action, action) and not any(
            action_matches(a, action) for a in g.except_actions
        )

    @property
    def condition(self) -> str | None:
        """The Condition as canonical JSON, to carry into the recommendation."""
        if not self.grant.has_condition:
            return None
        return json.dumps(self.statement.condition, sort_keys=True)


@dataclass(frozen=True)
class _Cover:
    """A current Allow grant that covers a recommended (action, resource)."""

    condition: str | None  # JSON of the grant's Condition, carried into the recommendation


class CurrentGrants:
    """Today's identity-policy Allow grants of one role, asked "does this stay within them?"."""

    def __init__(self, role: Role) -> None:
        self._covers: dict[tuple[str, str], _Cover | None] = {}
        # A call is granted today when the identity policies allow it; a call that succeeded
        # evidently met the conditions of any conditional Deny, hence "ignore".
        self.today = Evaluator(role.policies, conditional_deny="ignore")
        self.allows: list[_Allow] = []
        for _, doc in role.policy_sources:
            variables = doc.reads_variables
            for grant in grants(doc):
                if grant.effect == "Allow":
                    self.allows.append(
                        _Allow(grant, doc.statements[grant.statement_index], variables)
                    )

    def cover(self, action: str, resource: str) -> _Cover | None:
        """The grant allowing `action` on every ARN `resource` matches; unconditional first."""
        key = (action, resource)
        if key not in self._covers:
            self._covers[key] = self._find_cover(action, resource)
        return self._covers[key]

    def _find_cover(self, action: str, resource: str) -> _Cover | None:
        conditional: _Cover | None = None
        for allow in self.allows:
            grant = allow.grant
            if not allow.applies_to(action):
                continue
            if grant.except_resources:
                if any(may_overlap(resource, r, allow.variables) for r in grant.except_resources):
                    continue
            elif not within(resource, grant.resource, variables=allow.variables):
                continue
            if not grant.has_condition:
                return _Cover(None)
            conditional = conditional or _Cover(allow.condition)
        return conditional

    def s3_grants(self) -> list[_Allow]:
        """Allow grants whose action pattern can reach S3."""
        return [a for a in self.allows if could_be_s3(a.grant.action)]


def recommend(
    role: Role,
    usage: RoleUsage | None,
    coverage: Coverage,
    *,
    granularity: str = "prefix",
    size_limit: int = INLINE_POLICY_LIMIT,
) -> Recommendation:
    """Build the replacement policy for one role from its usage and today's grants."""
    current = CurrentGrants(role)
    wanted: dict[tuple[str, str | None], set[str]] = defaultdict(set)  # (resource, cond) → actions
    used_rows: dict[Item, dict[str, Any]] = {}
    not_granted: list[dict[str, Any]] = []
    warnings: list[dict[str, str]] = []

    uses = list(usage.used) if usage else []
    suffixes, fragile = _generalize_keys([u.resource for u in uses], granularity)
    exact_only: dict[str, set[str]] = defaultdict(set)  # target → fragile keys granted as such
    placements: dict[tuple[str, str], tuple[str, _Cover] | None] = {}
    for use in uses:
        target = suffixes.get(use.resource, use.resource)
        key = (use.action, target)
        # Keys sharing a generalized target share the answer, unless today's grant is narrower.
        if not current.today.allows(use.action, use.resource):
            placed = None  # allowed by a bucket policy, or under one of today's Denies
        elif (placed := placements.get(key)) is None:
            placed = _place(current, use.action, use.resource, target)
            if placed is not None and placed[0] == target:
                placements[key] = placed
        if placed is None:
            not_granted.append({"action": use.action, "resource": use.resource, "count": use.count})
            continue
        resource, cover = placed
        if use.resource in fragile and resource == _exact_arn(use.resource):
            exact_only[target].add(use.resource)
        wanted[(resource, cover.condition)].add(use.action)
        row = used_rows.get(Item(use.action, resource))
        if row is None:
            used_rows[Item(use.action, resource)] = {
                "action": use.action,
                "resource": resource,
                "count": use.count,
                "first_seen": use.first_seen,
                "last_seen": use.last_seen,
            }
        else:
            row["count"] += use.count
            row["first_seen"] = min(row["first_seen"], use.first_seen)
            row["last_seen"] = max(row["last_seen"], use.last_seen)

    for companion in usage.companions if usage else ():
        target = suffixes.get(companion.resource, companion.resource)
        placed = _place(current, companion.action, companion.resource, target, fallback=False)
        if placed is not None:
            wanted[(placed[0], placed[1].condition)].add(companion.action)

    kept = keep_unobservable(current, coverage, role.arn.split(":")[4], usage)
    kept_apart = kept.apply(current, wanted)
    carried, out_of_scope, mixed = _carry_over(role)
    carried = [*kept_apart, *carried]
    warnings.extend(mixed)
    family = _s3_family_kept(role)
    unknown = sorted([*kept.items(), *family], key=lambda u: (u["action"], u["resource"]))
    if not_granted:
        warnings.append(
            {
                "code": Code.NOT_GRANTED_BY_IDENTITY_POLICY,
                "message": f"{len(not_granted)} used permission(s) are not granted by the role's "
                "identity policies (a bucket policy allowed them); they are reported, not added",
            }
        )
    warnings.extend(
        {
            "code": Code.FRAGILE_GRANT,
            "message": f"today's policy grants only exact keys under {target} ({len(keys)} "
            "used in the window, kept as exact keys); the next new key will be denied, as it is "
            "today",
        }
        for target, keys in sorted(exact_only.items())
    )
    warnings.extend({"code": code, "message": why} for code, why in kept.codes())
    warnings.extend(
        {"code": Code.S3_FAMILY_UNKNOWN, "message": why}
        for why in sorted({u["reason"] for u in family})
    )
    if role.permissions_boundary is not None:
        arn = getattr(role.permissions_boundary, "arn", role.permissions_boundary)
        warnings.append(
            {
                "code": Code.PERMISSIONS_BOUNDARY,
                "message": f"the role has the permissions boundary {arn}; it still applies",
            }
        )

    given_up: list[dict[str, str]] = []
    policy = _assemble(wanted, carried)
    while policy_size(policy) > size_limit:
        # Object granularity promises exact keys: never trade them for prefixes.
        coarser = None if granularity == "object" else _coarsen_once(current, wanted, given_up)
        if coarser is None:
            how = (
                "as exact keys; use --granularity prefix or"
                if granularity == "object"
                else "even at bucket level;"
            )
            warnings.append(
                {
                    "code": Code.POLICY_TOO_LARGE,
                    "message": f"the recommendation is {policy_size(policy)} characters, over "
                    f"IAM's {size_limit}, {how} split it across managed policies",
                }
            )
            break
        wanted = coarser
        policy = _assemble(wanted, carried)
    if MANAGED_POLICY_LIMIT < policy_size(policy) <= size_limit:
        warnings.append(
            {
                "code": Code.OVER_MANAGED_POLICY_LIMIT,
                "message": f"the recommendation is {policy_size(policy)} characters, over the "
                f"{MANAGED_POLICY_LIMIT} of a managed policy; apply it as an inline policy "
                f"(up to {INLINE_POLICY_LIMIT} for all of a role's inline policies) or split it",
            }
        )
    if given_up:
        used_rows = _regroup_used(used_rows, wanted)
    return Recommendation(
        policy=policy,
        used=[used_rows[k] for k in sorted(used_rows, key=lambda i: (i.action, i.resource))],
        unknown=unknown,
        not_granted=sorted(not_granted, key=lambda r: (r["action"], r["resource"])),
        out_of_scope=out_of_scope,
        precision_given_up=given_up,
        warnings=warnings,
    )


def _generalize_keys(
    resources: Iterable[str], granularity: str
) -> tuple[dict[str, str], frozenset[str]]:
    """Resource ARN → generalized ARN for object resources, bucket (or access point) by bucket;
    and the object ARNs among data-named keys (fragile when granted one by one), unless exact
    keys are asked."""
    keys: dict[str, set[str]] = defaultdict(set)  # "arn:P:s3:::bucket" → keys
    for arn in resources:
        parsed = S3Resource.parse(arn)
        if parsed is not None and parsed.key is not None and parsed.key != "*":
            keys[parsed.object_base].add(parsed.key)
    out: dict[str, str] = {}
    fragile: set[str] = set()
    for base, base_keys in keys.items():
        for key, suffix in generalize(base_keys, granularity).items():
            out[f"{base}/{key}"] = f"{base}/{suffix}"
        if granularity != "object":
            fragile.update(f"{base}/{key}" for key in fragile_keys(base_keys))
    return out, frozenset(fragile)


def _place(
    current: CurrentGrants, action: str, arn: str, target: str, *, fallback: bool = True
) -> tuple[str, _Cover] | None:
    """Where a used (action, arn) goes: the generalized target when today's grants cover it;
    else a grant of today within the target that allows it; else the widest folder on the
    key's path below the target that today's grants cover; else the exact key. None: not
    granted today. A companion (`fallback` False) takes only the target or a folder."""
    cover = current.cover(action, target)
    if cover is not None:
        return target, cover
    exact = _exact_arn(arn)
    if fallback:
        for allow in current.allows:
            grant = allow.grant
            if grant.except_resources or not allow.applies_to(action):
                continue
            mine = as_2012(grant.resource, allow.variables)
            if within(mine, target) and within(exact, grant.resource, variables=allow.variables):
                return mine, _Cover(allow.condition)
    parsed, wider = S3Resource.parse(exact), S3Resource.parse(target)
    if parsed and wider and parsed.key is not None and wider.key is not None:
        # The next key the code writes lands in one of these folders: grant the widest held.
        for folder in folders_below(wider.key, parsed.key):
            cover = current.cover(action, parsed.arn(folder))
            if cover is not None:
                return parsed.arn(folder), cover
    if not fallback:
        return None
    cover = current.cover(action, exact)
    return (exact, cover) if cover is not None else None


def _exact_arn(arn: str) -> str:
    """The ARN as a resource that grants exactly it (`bucket/*` of a batch call stays)."""
    parsed = S3Resource.parse(arn)
    if parsed is None or parsed.key is None or parsed.key == "*":
        return arn
    return parsed.arn(escape_resource(parsed.key))


def _s3_family_kept(role: Role) -> list[dict[str, str]]:
    """Unknown items for today's grants of S3-family services beyond `s3:` (s3-object-lambda,
    s3express, ...): carried over unchanged, since rightsizer does not map their calls."""
    items: dict[tuple[str, str], str] = {}
    for _, doc in role.policy_sources:
        for grant in grants(doc):
            service = s3_family_service(grant.action)
            if grant.effect != "Allow" or service is None:
                continue
            resource = grant.resource
            if grant.except_resources:
                resource = f"* except {', '.join(grant.except_resources)}"
            items[(grant.action, resource)] = (
                f"rightsizer does not right-size {service}: its calls are not mapped to IAM "
                "actions, so today's grant is kept as it is"
            )
    return [{"action": a, "resource": r, "reason": why} for (a, r), why in sorted(items.items())]


def _carry_over(role: Role) -> tuple[list[Statement], list[dict[str, Any]], list[dict[str, str]]]:
    """Non-S3 parts of today's statements, unchanged; Deny statements whole."""
    carried: list[Statement] = []
    out_of_scope: list[dict[str, Any]] = []
    warnings: list[dict[str, str]] = []
    for label, doc in role.policy_sources:
        for st in doc.statements:
            if st.effect == "Deny":
                carried.append(st)
                out_of_scope.append(_scope_entry(label, st, "deny statement kept unchanged"))
                continue
            if st.not_actions is not None:
                if not any(
                    action_matches(a, "s3:*") or a.lower() == "s3:*" for a in st.not_actions
                ):
                    st = dataclasses.replace(st, not_actions=(*st.not_actions, "s3:*"))
                carried.append(st)
                out_of_scope.append(_scope_entry(label, st, "NotAction statement; S3 excluded"))
                continue
            actions = st.actions or ()
            other = [a for a in actions if not could_be_s3(a)]
            broad = [a for a in actions if could_be_s3(a) and not is_s3_action(a)]
            if any(a in ("*", "*:*") for a in broad):
                kept = dataclasses.replace(st, actions=None, not_actions=("s3:*",))
                carried.append(kept)
                out_of_scope.append(_scope_entry(label, kept, "all actions except S3"))
                continue
            if broad:
                other += broad
                warnings.append(
                    {
                        "code": Code.MIXED_WILDCARD,
                        "message": f"{label}: {', '.join(broad)} grants S3 and other services; "
                        "kept unchanged, so S3 access through it is not reduced",
                    }
                )
            if other:
                kept = dataclasses.replace(st, actions=tuple(other))
                carried.append(kept)
                family = sorted({s for a in other if (s := s3_family_service(a))})
                note = "not S3"
                if family:
                    note = f"kept unchanged; {', '.join(family)} is not right-sized (unknown)"
                out_of_scope.append(_scope_entry(label, kept, note))
    return carried, out_of_scope, warnings


def _scope_entry(label: str, st: Statement, note: str) -> dict[str, Any]:
    actions = (
        st.actions if st.actions is not None else tuple(f"NOT {a}" for a in st.not_actions or ())
    )
    return {
        "policy": label,
        "sid": st.sid,
        "effect": st.effect,
        "actions": list(actions),
        "note": note,
    }


def _kind(resource: str) -> str:
    parsed = S3Resource.parse(resource)
    if resource == "*" or parsed is None:
        return "AllResources"
    if parsed.key is None or (parsed.access_point is None and parsed.bucket == "*"):
        return "Buckets"
    return "Objects"


def _assemble(
    wanted: dict[tuple[str, str | None], set[str]], carried: Sequence[Statement]
) -> PolicyDocument:
    """Group resources by their action set: one statement per set, deterministic order."""
    by_actions: dict[tuple[tuple[str, ...], str | None, str], list[str]] = defaultdict(list)
    for (resource, condition), action_set in wanted.items():
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
    return PolicyDocument(statements=(*statements, *carried))


def _coarsen_once(
    current: CurrentGrants,
    wanted: dict[tuple[str, str | None], set[str]],
    given_up: list[dict[str, str]],
) -> dict[tuple[str, str | None], set[str]] | None:
    """Move the deepest object prefixes one folder up where today's grants still cover it."""
    deepest = max(
        (r.count("/") for r, _ in wanted if _kind(r) == "Objects" and not r.endswith(":::*")),
        default=0,
    )
    if deepest == 0:
        return None
    out: dict[tuple[str, str | None], set[str]] = defaultdict(set)
    changed = False
    for (resource, condition), actions in wanted.items():
        parsed = S3Resource.parse(resource)
        new = resource
        if parsed and parsed.key is not None and resource.count("/") == deepest:
            candidate = parsed.arn(coarsen(parsed.key))
            if all(current.cover(a, candidate) for a in actions):
                new = candidate
        if new != resource:
            changed = True
            given_up.append({"from": resource, "to": new})
        out[(new, condition)] |= actions
    return out if changed else None


def _regroup_used(
    rows: dict[Item, dict[str, Any]], wanted: dict[tuple[str, str | None], set[str]]
) -> dict[Item, dict[str, Any]]:
    """After coarsening, fold used rows into the coarser resources that now cover them."""
    out: dict[Item, dict[str, Any]] = {}
    granted = [(r, a) for (r, _), acts in wanted.items() for a in acts]
    for item, row in rows.items():
        resource = next(
            (r for r, a in sorted(granted) if a == item.action and within(item.resource, r)),
            item.resource,
        )
        merged = out.setdefault(
            Item(item.action, resource), {**row, "resource": resource, "count": 0}
        )
        merged["count"] += row["count"]
        merged["first_seen"] = min(merged["first_seen"], row["first_seen"])
        merged["last_seen"] = max(merged["last_seen"], row["last_seen"])
    return out
