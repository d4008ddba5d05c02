"""Generate one minimized replacement policy per Lambda role.

The recommendation keeps, for S3, only what the role's successful calls in the window needed
(object keys generalized into prefixes), intersected with what its identity policies grant
today. Where the logs cannot show a kind of use (no data events), today's grants of that kind
are kept and marked unknown. Every non-S3 statement and every Deny is carried over unchanged.

`recommend` runs five steps, each a function of its own:

1. `_place_used`: the used permissions, on the widest resource today's grants allow;
2. `_add_companions`: permissions a rare path of the same calls may need, where held today;
3. `_keep_unknown`: today's grants the logs cannot show the use of (rightsizer.unknown);
4. `carry_over`: non-S3 statements and Denies, unchanged (rightsizer.carry);
5. `fit_size`: the policy document within IAM's size limit (rightsizer.fitting).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from rightsizer.carry import carry_over, s3_family_kept
from rightsizer.coverage import Coverage, Hole
from rightsizer.current import Cover, CurrentGrants
from rightsizer.findings import Code
from rightsizer.fitting import INLINE_POLICY_LIMIT, fit_size
from rightsizer.iam.arn import parse_arn
from rightsizer.iam.containment import as_2012, within
from rightsizer.iam.matching import escape_resource
from rightsizer.iam.policy import (
    Decision,
    PolicyDocument,
    Statement,
)
from rightsizer.iam.s3 import S3Resource
from rightsizer.iam.snapshot import Role
from rightsizer.prefixes import folders_below
from rightsizer.unknown import Wanted, keep_unobservable
from rightsizer.usage import RoleUsage
from rightsizer.usedsets import Group, MemorySets, UsedSets


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
    selector_holes: frozenset[Hole] = frozenset()  # for the trail's selector fix
    companions: frozenset[Item] = frozenset()  # grants (as in `policy`) kept as companions

    @property
    def unknown_grants(self) -> set[Item]:
        """The (action, resource) grants kept because the logs cannot show their use."""
        return {Item(u["action"], u["resource"]) for u in self.unknown}


def recommend(
    role: Role,
    usage: RoleUsage | None,
    coverage: Coverage,
    *,
    granularity: str = "prefix",
    size_limit: int = INLINE_POLICY_LIMIT,
    sets: UsedSets | None = None,
) -> Recommendation:
    """Build the replacement policy for one role from its usage and today's grants.

    `sets` gives the used permissions as groups (rightsizer.usedsets; the analysis of a store
    passes the engine's, generalized at `granularity`); None takes them from `usage.used`.
    """
    current = CurrentGrants(role)
    sets = sets if sets is not None else MemorySets(usage, granularity)
    placed = _place_used(current, sets)
    _add_companions(current, sets, placed)
    unknown = _keep_unknown(current, coverage, role, usage, placed)
    carried = carry_over(role)
    fitted = fit_size(
        current, placed.wanted, [*unknown.statements, *carried.statements], granularity, size_limit
    )
    used, companions = placed.used, placed.companions
    if fitted.given_up:  # the coarser grants now hold what was placed
        granted = _granted(fitted.wanted)
        used = _regroup_used(placed.used, granted)
        companions = {_coarser(item, granted) for item in placed.companions}
    return Recommendation(
        policy=fitted.policy,
        used=[used[k] for k in sorted(used, key=lambda i: (i.action, i.resource))],
        unknown=unknown.items,
        not_granted=sorted(placed.not_granted, key=lambda r: (r["action"], r["resource"])),
        out_of_scope=carried.out_of_scope,
        precision_given_up=fitted.given_up,
        warnings=[
            *carried.warnings,
            *placed.warnings(_other_allowers(role, unknown)),
            *unknown.warnings,
            *_boundary_warnings(role),
            *fitted.warnings,
        ],
        selector_holes=frozenset(unknown.holes),
        companions=frozenset(companions),
    )


@dataclass
class _Placed:
    """The used permissions placed on today's grants (step 1), and those today's identity
    policies do not grant."""

    wanted: Wanted = field(default_factory=lambda: defaultdict(set))
    used: dict[Item, dict[str, Any]] = field(default_factory=dict)  # the `used` rows
    not_granted: list[dict[str, Any]] = field(default_factory=list)
    exact_only: dict[str, set[str]] = field(  # target → fragile keys granted one by one
        default_factory=lambda: defaultdict(set)
    )
    # targets of `exact_only` a NotResource grant of today allows new keys under
    excepted: set[str] = field(default_factory=set)
    companions: set[Item] = field(default_factory=set)  # (action, target) placed in step 2
    # (action, `base/*`, calls): objects of a bucket whose keys the calls do not log (a batch
    # DeleteObjects) that today's grants allow only in part: kept where they reach (step 3)
    keys_not_logged: list[tuple[str, str, int]] = field(default_factory=list)
    under_deny: int = 0  # of `not_granted`, those a Deny of today matches

    def _under_deny(self) -> str:
        if not self.under_deny:
            return ""
        return (
            f"; {self.under_deny} of them match a Deny of today's policies, which no bucket "
            "policy overrides: the policies changed during the window, or the snapshot is "
            "older than those calls"
        )

    def warnings(self, allowers: Sequence[str]) -> list[dict[str, str]]:
        """Why some used permissions are not in the policy, or only as exact keys; `allowers`:
        what else than a bucket policy may have allowed those not granted (_other_allowers)."""
        warnings = []
        if self.not_granted:
            who = ", or ".join([*allowers, "a bucket policy"])
            warnings.append(
                {
                    "code": Code.NOT_GRANTED_BY_IDENTITY_POLICY,
                    "message": f"{len(self.not_granted)} used permission(s) are not granted by "
                    f"the role's identity policies as the snapshot shows them ({who} allowed "
                    f"them){self._under_deny()}; they are reported, not added",
                }
            )
        warnings.extend(
            {"code": Code.FRAGILE_GRANT, "message": self._fragile(target, len(keys))}
            for target, keys in sorted(self.exact_only.items())
        )
        return warnings

    def _fragile(self, target: str, keys: int) -> str:
        used = f"({keys} used in the window, kept as exact keys)"
        if target in self.excepted:
            return (
                f"today's policy allows new keys under {target} only through a NotResource "
                f"grant, which cannot be narrowed to that folder {used}: the next new key will "
                f"be denied, though today it is allowed; grant {target} to keep new keys allowed"
            )
        return (
            f"today's policy grants only exact keys under {target} {used}; the next new key "
            "will be denied, as it is today"
        )


def _place_used(current: CurrentGrants, sets: UsedSets) -> _Placed:
    """Step 1: every permission the role used, generalized into prefixes and placed on the
    widest resource today's grants allow (see _place); what they do not grant is set aside.

    A group whose target today's grants cover whole, under one condition (or none) that alone
    reaches into it and with no Deny of today reaching into it, goes there at once (each of its
    keys would); the keys of the other groups are placed one by one."""
    placed = _Placed()
    placements: dict[tuple[str, str, str | None], tuple[str, Cover] | None] = {}
    by_key: list[Group] = []
    for group in sets.groups("used"):
        if group.keys == 1:
            _place_key(current, placed, placements, group)
        elif (cover := _whole(current, group)) is not None:
            placed.wanted[(group.target, cover.condition)].add(group.action)
            _tally(placed.used, Item(group.action, group.target), group)
        else:
            by_key.append(group)
    for key in sets.keys("used", by_key):
        _place_key(current, placed, placements, key)
    return placed


def _whole(current: CurrentGrants, group: Group, *, deny: bool = True) -> Cover | None:
    """Today's grant covering every key of the group alike: it covers the target, a conditional
    one is the only grant that reaches into it (each key was allowed under that condition), and
    no Deny of today can reach any key under it (`deny`: used permissions only)."""
    cover = current.cover(group.action, group.target)
    if cover is None or (deny and current.may_deny(group.action, group.target)):
        return None
    if cover.condition is not None and not current.sole_condition(
        group.action, group.target, cover.condition
    ):
        return None
    return cover


def _under(current: CurrentGrants, action: str, resource: str) -> tuple[str | None, ...]:
    """The conditions under which a call on `resource` that today's grants allow must stay
    allowed. Conditions are not logged, so a call may have met none of them: with a grant of
    today allowing it unconditionally it must stay allowed unconditionally; else it met one of
    the conditional grants allowing it, not known which, so it stays allowed under each."""
    found = current.conditions(action, resource)
    return (None,) if None in found else found


def _place_key(
    current: CurrentGrants,
    placed: _Placed,
    placements: dict[tuple[str, str, str | None], tuple[str, Cover] | None],
    use: Group,
) -> None:
    """Place one used (action, resource): a group of one key."""
    resource = use.resource or use.target
    obj = _object_of(use)
    target = obj.target if obj else resource
    spots: list[tuple[str, Cover]] = []
    # Allowed today under no Deny (else a bucket policy allowed it, or one of today's Denies
    # holds it): placed once for each condition it must stay allowed under.
    if current.today.allows(use.action, resource):
        for condition in _under(current, use.action, obj.exact if obj else resource):
            # Keys sharing a generalized target share the answer, unless today's grant is
            # narrower.
            key = (use.action, target, condition)
            if (spot := placements.get(key)) is None:
                spot = _place(current, use.action, resource, obj, condition=condition)
                if spot is not None and spot[0] == target:
                    placements[key] = spot
            if spot is not None:
                spots.append(spot)
    if not spots:
        if _keys_not_logged(resource):
            placed.keys_not_logged.append((use.action, resource, use.count))
        else:
            placed.not_granted.append(
                {"action": use.action, "resource": resource, "count": use.count}
            )
            placed.under_deny += current.today(use.action, resource) is Decision.DENY
        return
    for where, cover in spots:
        if obj and use.fragile and where == obj.exact:
            placed.exact_only[target].add(resource)
            if any(a.grant.except_resources and a.applies_to(use.action) for a in current.allows):
                placed.excepted.add(target)
        placed.wanted[(where, cover.condition)].add(use.action)
    _tally(placed.used, Item(use.action, spots[0][0]), use)


def _keys_not_logged(resource: str) -> bool:
    """Whether a used resource stands for objects of a bucket (or access point) the calls did
    not name, `base/*`, rather than for one object."""
    parsed = S3Resource.parse(resource)
    return parsed is not None and parsed.key == "*" and "*" not in parsed.object_base


def _tally(rows: dict[Item, dict[str, Any]], item: Item, use: Group | dict[str, Any]) -> None:
    """Add uses (a group or a key, or a `used` row being regrouped) to the `used` row of
    `item`, starting the row on its first use; functions and an example event ride along as
    the evidence of the grant (rightsizer.evidence)."""
    get: Callable[[str], Any] = use.get if isinstance(use, dict) else partial(getattr, use)
    row = rows.setdefault(
        item,
        {
            "action": item.action,
            "resource": item.resource,
            "count": 0,
            "first_seen": get("first_seen"),
            "last_seen": get("last_seen"),
            "functions": (),
            "example_event_id": get("example_event_id"),
        },
    )
    row["count"] += get("count")
    row["first_seen"] = min(row["first_seen"], get("first_seen"))
    row["last_seen"] = max(row["last_seen"], get("last_seen"))
    row["functions"] = tuple(sorted({*row["functions"], *get("functions")}))
    row["example_event_id"] = min(
        filter(None, (row["example_event_id"], get("example_event_id"))), default=""
    )


def _add_companions(current: CurrentGrants, sets: UsedSets, placed: _Placed) -> None:
    """Step 2: permissions no call needed that a rare path of the same calls may need, kept
    where today's grants hold them on the used permission's target or a folder below it."""
    by_key: list[Group] = []
    for group in sets.groups("companion"):
        if not current.grants_action(group.action):
            continue  # e.g. a companion the role is not given today: none of its keys is held
        if group.keys == 1:
            _place_companion(current, placed, group)
        elif (cover := _whole(current, group, deny=False)) is not None:
            placed.wanted[(group.target, cover.condition)].add(group.action)
            placed.companions.add(Item(group.action, group.target))
        else:
            by_key.append(group)  # a folder below the target may still be held, key by key
    for key in sets.keys("companion", by_key):
        _place_companion(current, placed, key)


def _place_companion(current: CurrentGrants, placed: _Placed, companion: Group) -> None:
    resource = companion.resource or companion.target
    obj = _object_of(companion)
    for condition in _under(current, companion.action, obj.exact if obj else resource):
        spot = _place(current, companion.action, resource, obj, condition=condition, fallback=False)
        if spot is not None:
            placed.wanted[(spot[0], spot[1].condition)].add(companion.action)
            placed.companions.add(Item(companion.action, spot[0]))


@dataclass(frozen=True)
class _Unknown:
    """Today's grants kept because the logs cannot show their use (step 3)."""

    items: list[dict[str, str]]  # the `unknown` rows: action, resource, reason
    statements: list[Statement]  # kept grants that cannot join `wanted` (NotResource)
    warnings: list[dict[str, str]]
    holes: set[Hole]


def _keep_unknown(
    current: CurrentGrants,
    coverage: Coverage,
    role: Role,
    usage: RoleUsage | None,
    placed: _Placed,
) -> _Unknown:
    """Step 3: add to `wanted` today's grants the logs cannot show the use of (rightsizer.unknown);
    grants of S3-family services rightsizer does not map stay in the carried statements."""
    account = _account(role.arn)
    kept = keep_unobservable(current, coverage, account, usage, placed.keys_not_logged)
    wanted = placed.wanted
    statements = kept.apply(current, wanted)
    family = s3_family_kept(role)
    warnings = [{"code": code, "message": why} for code, why in kept.codes()]
    warnings.extend(
        {"code": Code.S3_FAMILY_UNKNOWN, "message": why}
        for why in sorted({u["reason"] for u in family})
    )
    items = sorted([*kept.items(), *family], key=lambda u: (u["action"], u["resource"]))
    return _Unknown(items, statements, warnings, kept.holes)


@dataclass(frozen=True, slots=True)
class _Object:
    """An object ARN the role used, parsed once: the ARN its key hangs off, the key as a
    resource that grants exactly it, and the generalized key (the key, or a `folder/*`)."""

    base: str  # "arn:P:s3:::bucket", or an access point's ".../object"
    key: str
    suffix: str

    @property
    def exact(self) -> str:
        return f"{self.base}/{self.key}"

    @property
    def target(self) -> str:
        return f"{self.base}/{self.suffix}"


def _object_of(one: Group) -> _Object | None:
    """The object a group of one key names, parsed; None for a resource naming no object."""
    if one.base is None or one.key is None:
        return None
    return _Object(one.base, escape_resource(one.key), one.suffix)


def _place(
    current: CurrentGrants,
    action: str,
    arn: str,
    obj: _Object | None,
    *,
    condition: str | None,
    fallback: bool = True,
) -> tuple[str, Cover] | None:
    """Where a used (action, arn) goes to stay allowed under `condition` (None: none; see
    _under): the generalized target when today's grants cover it so; else a grant of today
    within the target that allows it so; else the widest folder on the key's path below the
    target that today's grants cover so; else the exact key. None: not granted so today. A
    companion (`fallback` False) takes only the target or a folder. `obj` is None when `arn`
    names no single object (a bucket, `bucket/*`): then it is its own target."""
    if not current.grants_action(action):
        return None  # e.g. a companion the role is not given today: skip its key's folders
    target, exact = (obj.target, obj.exact) if obj else (arn, arn)
    cover = current.cover_under(action, target, condition)
    if cover is not None:
        return target, cover
    if fallback:
        for allow in current.allows:
            grant = allow.grant
            if grant.except_resources or not allow.applies_to(action):
                continue
            if allow.condition is not None and allow.condition != condition:
                continue
            mine = as_2012(grant.resource, allow.variables)
            if within(mine, target) and within(exact, grant.resource, variables=allow.variables):
                return mine, Cover(allow.condition)
    if obj:
        # The next key the code writes lands in one of these folders: grant the widest held.
        for folder in folders_below(obj.suffix, obj.key):
            cover = current.cover_under(action, f"{obj.base}/{folder}", condition)
            if cover is not None:
                return f"{obj.base}/{folder}", cover
    if not fallback:
        return None
    cover = current.cover_under(action, exact, condition)
    return (exact, cover) if cover is not None else None


def _other_allowers(role: Role, unknown: _Unknown) -> list[str]:
    """Grants of the role the analysis cannot read that may allow what it finds not granted:
    they are kept, so those calls stay allowed."""
    found = []
    if any(w["code"] == Code.POLICY_VARIABLE for w in unknown.warnings):
        found.append("a grant kept as it is for its policy variable")
    if role.missing_policies:
        found.append("an attached policy the snapshot lacks, left attached")
    return found


def _boundary_warnings(role: Role) -> list[dict[str, str]]:
    """A permissions boundary is not part of the recommendation, and still limits the role."""
    if role.permissions_boundary is None:
        return []
    arn = getattr(role.permissions_boundary, "arn", role.permissions_boundary)
    return [
        {
            "code": Code.PERMISSIONS_BOUNDARY,
            "message": f"the role has the permissions boundary {arn}; it still applies",
        }
    ]


def _regroup_used(
    rows: dict[Item, dict[str, Any]], granted: list[tuple[str, str]]
) -> dict[Item, dict[str, Any]]:
    """After coarsening, fold used rows into the coarser resources (`_granted`) that now cover
    them."""
    out: dict[Item, dict[str, Any]] = {}
    for item, row in rows.items():
        _tally(out, _coarser(item, granted), row)
    return out


def _granted(wanted: Wanted) -> list[tuple[str, str]]:
    """The (resource, action) pairs of `wanted`, in order."""
    return sorted((r, a) for (r, _), acts in wanted.items() for a in acts)


def _coarser(item: Item, granted: list[tuple[str, str]]) -> Item:
    """After coarsening, the grant (of `_granted`) that now covers `item`, or `item` itself."""
    resource = next(
        (r for r, a in granted if a == item.action and within(item.resource, r)), item.resource
    )
    return Item(item.action, resource)


def _account(role_arn: str) -> str:
    arn = parse_arn(role_arn)
    return arn.account if arn is not None else ""
