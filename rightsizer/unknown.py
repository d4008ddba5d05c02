"""What the logs cannot show, and which of today's grants to keep because of it.

Absence of evidence is not evidence of absence: wherever the logs cannot tell whether a role
used a permission, the recommendation keeps today's grant and says why, with a warning code.
The kinds of "cannot tell":

- `coverage-unknown`: object-level calls are data events, logged only where the trail's
  selectors say so (rightsizer.coverage); bucket and account-level calls are management
  events, which selectors can leave out too (IncludeManagementEvents false, reads only...);
- `evidence-gap`: days on which a region of the role's account logged nothing at all (any
  region: the role may have called from one its logged calls do not show), and log files of
  the account skipped as unreadable: every S3 grant is kept;
- `unmodeled-calls`: successful calls whose IAM requests the mapping cannot derive (an S3 event
  name it does not know, a record without the resource or the copy source, another S3
  service, a batch DeleteObjects): every grant that could have authorized them is kept;
- `policy-variable`: a grant whose resource names a policy variable (`${aws:PrincipalTag/team}`)
  takes its value from each request's context, which the logs do not record: it is kept as it
  is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from rightsizer.coverage import Coverage, Hole
from rightsizer.current import CurrentGrants, HeldAllow
from rightsizer.findings import Code
from rightsizer.iam.containment import as_2012, literal_prefix, may_overlap, within
from rightsizer.iam.matching import names_variable
from rightsizer.iam.policy import Statement, expand_s3_actions
from rightsizer.iam.s3 import S3Resource, could_be_s3
from rightsizer.usage import RoleUsage, UnmodeledCall

# Bucket-level actions that only data events show (docs/s3-event-actions.md).
DATA_BUCKET_ACTIONS = ("s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads")
Access = Literal["read", "write"]
Wanted = dict[tuple[str, str | None], set[str]]  # (resource, condition JSON) → actions

_UNMODELED_WHY = {
    "no_mapping": "rightsizer's mapping table (rightsizer/data/s3_event_actions.csv) does not "
    "know this S3 event",
    "no_resource": "the records do not show the resource of {actions}",
    "no_copy_source": "the records do not name the copy source they read ({actions})",
    "other_s3_service": "rightsizer does not map {source} events",
}


def access_of(action: str) -> Access:
    """Data events are logged as reads (Get/List/Head) or writes (everything else)."""
    name = action.split(":", 1)[-1].lower()
    return "read" if name.startswith(("get", "list")) else "write"


@lru_cache(maxsize=1)
def copy_source_events() -> dict[str, tuple[str, ...]]:
    """The S3 actions a copy needs on its source (mapping rows on `copy_source`), each with the
    copy events that need it. A copy is a write event whose destination may be any bucket, so
    the source's reads show only where every bucket's writes are logged."""
    from rightsizer.mapping import read_mapping

    events: dict[str, set[str]] = defaultdict(set)
    for row in read_mapping():
        if row.resource == "copy_source":
            events[row.action].add(row.event_name)
    return {action: tuple(sorted(names)) for action, names in events.items()}


@lru_cache(maxsize=1)
def data_event_actions() -> frozenset[str]:
    """S3 actions whose use only data events can show: object-level ones and bucket lists."""
    from rightsizer.mapping import read_mapping

    levels = ("object", "bucket_objects", "copy_source")
    actions = {row.action for row in read_mapping() if row.resource in levels}
    return frozenset(actions | set(DATA_BUCKET_ACTIONS))


@dataclass
class Kept:
    """Today's grants kept as unknown: actions per grant (by its index in `current.allows`) and
    resource (None: the grant's own), and the reason and warning code of each (action, resource)
    shown to the user."""

    actions: dict[tuple[int, str | None], set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )
    reasons: dict[tuple[str, str], str] = field(default_factory=dict)  # the first reason
    warnings: set[tuple[str, str]] = field(default_factory=set)  # (code, reason), every one
    holes: set[Hole] = field(default_factory=set)  # what the trail's selectors leave out

    def keep(
        self,
        index: int,
        allow: HeldAllow,
        actions: Sequence[str],
        code: Code,
        why: str,
        resource: str | None = None,
        *,
        warn: bool = True,
    ) -> None:
        """Keep `actions` of grant `index`, on `resource` (within the grant's) or on its own;
        `warn` False: the reason is the item's only (a selector hole: one warning for all)."""
        if not actions:
            return
        self.actions[(index, resource)].update(actions)
        if warn:
            self.warnings.add((code, why))
        for action in actions:
            self.reasons.setdefault((action, resource or _label(allow)), why)

    def codes(self) -> list[tuple[str, str]]:
        """(warning code, reason) pairs, each once, sorted; the selector holes as one."""
        found = set(self.warnings)
        if self.holes:
            where = ", ".join(f"{hole.access} {hole.where}" for hole in sorted(self.holes))
            found.add(
                (
                    Code.COVERAGE_UNKNOWN,
                    "the trail's event selectors do not log every S3 data event of these "
                    f"grants ({where}); kept: the selector fix (aws cloudtrail "
                    "put-event-selectors, given once per trail) adds them",
                )
            )
        return sorted(found)

    def items(self) -> list[dict[str, str]]:
        """The unknown items of the analysis JSON: action, resource, reason."""
        return [
            {"action": action, "resource": resource, "reason": why}
            for (action, resource), why in sorted(self.reasons.items())
        ]

    def apply(self, current: CurrentGrants, wanted: Wanted) -> list[Statement]:
        """Add the kept actions to `wanted`; NotResource grants come back as statements of
        their own, since their resources cannot be listed."""
        kept_apart: list[Statement] = []
        for index, resource in sorted(self.actions, key=lambda k: (k[0], k[1] or "")):
            allow = current.allows[index]
            grant = allow.grant
            actions = tuple(sorted(self.actions[(index, resource)]))
            if resource is not None:
                wanted[(resource, allow.condition)].update(actions)
            elif grant.except_resources:
                kept_apart.append(
                    Statement(
                        effect="Allow",
                        sid=f"S3Unknown{len(kept_apart) + 1}",
                        actions=actions,
                        not_resources=tuple(
                            as_2012(r, allow.variables) for r in grant.except_resources
                        ),
                        condition=allow.statement.condition if grant.has_condition else None,
                    )
                )
            else:
                wanted[(as_2012(grant.resource, allow.variables), allow.condition)].update(actions)
        return kept_apart


def keep_unobservable(
    current: CurrentGrants,
    coverage: Coverage,
    account: str,
    usage: RoleUsage | None,
    keys_not_logged: Sequence[tuple[str, str, int]] = (),
) -> Kept:
    """Every grant of today the logs cannot show the use of, with the reason. `keys_not_logged`:
    (action, `base/*`, calls) used on objects the calls did not name, which today's grants
    allow only in part."""
    kept = Kept()
    # Where the role's calls are logged; for an idle role, every region of its account. (Gaps
    # count every region of the account whatever the role's calls: coverage.gaps.)
    regions = sorted(set(usage.regions if usage else ()))
    allows = [(i, a) for i, a in enumerate(current.allows) if could_be_s3(a.grant.action)]
    gaps = coverage.gaps(account, regions)
    if gaps:
        parts = [_s3_part(allow) for _, allow in allows]
        for gap in gaps:
            for (index, allow), part in zip(allows, parts, strict=True):
                kept.keep(index, allow, part, Code.EVIDENCE_GAP, gap)
    _keep_unlogged_data(kept, allows, coverage, account, regions or coverage.regions_of(account))
    _keep_unlogged_management(kept, allows, coverage)
    _keep_variable_grants(kept, allows)
    for call in usage.unmodeled if usage else ():
        _keep_for_unmodeled(kept, allows, call)
    for action, objects, calls in keys_not_logged:
        _keep_for_unnamed_objects(kept, allows, action, objects, calls)
    return kept


def _keep_unlogged_data(
    kept: Kept,
    allows: list[tuple[int, HeldAllow]],
    coverage: Coverage,
    account: str,
    regions: Sequence[str],
) -> None:
    """Keep the data-event actions of grants whose data events the trail does not log."""
    where: Sequence[str | None] = regions or [None]
    data_actions = data_event_actions()
    copy_events = copy_source_events()
    for index, allow in allows:
        grant = allow.grant
        if grant.except_resources:
            bucket, prefix, reach = "*", "", "both"
        else:
            parsed = S3Resource.parse(grant.resource)
            if parsed is None:
                continue
            bucket, prefix, reach = parsed.bucket, literal_prefix(parsed.key or ""), parsed.reach()
        actions = [
            a
            for a in expand_s3_actions(grant.action)
            if a in data_actions
            and (reach == "both" or (a in DATA_BUCKET_ACTIONS) == (reach == "buckets"))
            and allow.applies_to(a)
        ]
        for action in actions:
            # Read where the grant reaches; a copy's source read is logged as the copy, a write.
            copies = copy_events.get(action, ())
            for region in where:
                verdict = coverage.check(account, region, bucket, prefix, access_of(action))
                why = verdict.reason
                for event in copies if verdict.status == "covered" else ():
                    verdict = coverage.check(account, region, "*", "", "write", event)
                    why = f"copies ({', '.join(copies)}) read their source in write data events "
                    why += f"of any destination bucket: {verdict.reason}"
                    if verdict.status == "unknown":
                        break
                if verdict.status == "unknown":
                    hole = verdict.hole
                    kept.keep(index, allow, [action], Code.COVERAGE_UNKNOWN, why, warn=hole is None)
                    if hole is not None:
                        kept.holes.add(hole)
                    break


def _keep_unlogged_management(
    kept: Kept, allows: list[tuple[int, HeldAllow]], coverage: Coverage
) -> None:
    """Keep the bucket and account-level actions of grants whose management events the
    trail's selectors leave out (every S3 action that is not a data-event one)."""
    verdicts = {access: coverage.check_management(access) for access in ("read", "write")}
    if all(v.status == "covered" for v in verdicts.values()):
        return
    data_actions = data_event_actions()
    for index, allow in allows:
        grant = allow.grant
        if not grant.except_resources:
            parsed = S3Resource.parse(grant.resource)
            if parsed is None or parsed.reach() == "objects":
                continue  # no bucket or account-level action applies to object ARNs alone
        for access, verdict in verdicts.items():
            if verdict.status != "unknown":
                continue
            actions = [
                a
                for a in expand_s3_actions(grant.action)
                if a not in data_actions and access_of(a) == access and allow.applies_to(a)
            ]
            kept.keep(index, allow, actions, Code.COVERAGE_UNKNOWN, verdict.reason)


def _keep_variable_grants(kept: Kept, allows: list[tuple[int, HeldAllow]]) -> None:
    """Keep, as they are, the grants whose resource names a policy variable: which calls they
    allowed depends on request values the logs do not show."""
    for index, allow in allows:
        grant = allow.grant
        patterns = grant.except_resources or (grant.resource,)
        if any(names_variable(p, allow.variables) for p in patterns):
            why = (
                f"{_label(allow)} names a policy variable, whose value in each request the logs "
                "do not show: kept as it is"
            )
            kept.keep(index, allow, _s3_part(allow), Code.POLICY_VARIABLE, why)


def _keep_for_unnamed_objects(
    kept: Kept, allows: list[tuple[int, HeldAllow]], action: str, objects: str, calls: int
) -> None:
    """Keep every grant of today that could have allowed `action` on some of `objects`
    (`base/*`): a batch DeleteObjects names only its bucket, not the keys it deleted."""
    why = (
        f"{calls} successful call(s) needed {action} on objects of {objects[:-2]} the records "
        "do not name (a batch DeleteObjects logs no keys): today's grants of it there are kept"
    )
    for index, allow in allows:
        grant = allow.grant
        if allow.applies_to(action) and (
            grant.except_resources or may_overlap(objects, grant.resource, allow.variables)
        ):
            kept.keep(index, allow, [action], Code.UNMODELED_CALLS, why)


def _keep_for_unmodeled(
    kept: Kept, allows: list[tuple[int, HeldAllow]], call: UnmodeledCall
) -> None:
    """Keep every grant of today that could have authorized calls rightsizer cannot model."""
    if call.status == "other_s3_service":
        return  # those services' grants are kept whole (generate: the S3 family)
    actions = list(call.actions)
    if call.status == "no_mapping":
        # On the bucket it names, every S3 action (empty list): an API may need more than its
        # namesake (UpdateObjectEncryption needs s3:PutObject too). With no bucket named, the
        # same-named action where the catalog has one, else every S3 action.
        actions = [] if call.resource else expand_s3_actions(f"s3:{call.event_name}")
    why = _UNMODELED_WHY[call.status].format(actions=", ".join(actions), source=call.event_source)
    reason = (
        f"{call.count} successful {call.event_name} call(s) cannot be checked ({why}; "
        f"e.g. event {call.example_event_id}): today's grants that could authorize them are kept"
    )
    scope = [call.resource, f"{call.resource}/*"] if call.resource else None
    for index, allow in allows:
        grant = allow.grant
        if (
            scope
            and not grant.except_resources
            and not any(may_overlap(s, grant.resource, allow.variables) for s in scope)
        ):
            continue
        chosen = [a for a in actions if allow.applies_to(a)] if actions else _s3_part(allow)
        if scope and not grant.except_resources:
            # Kept on the call's bucket (or access point) where today's grant is wider.
            mine = as_2012(grant.resource, allow.variables)
            if all(within(s, mine) for s in scope):
                for s in scope:
                    kept.keep(index, allow, chosen, Code.UNMODELED_CALLS, reason, resource=s)
                continue
        kept.keep(index, allow, chosen, Code.UNMODELED_CALLS, reason)


def _s3_part(allow: HeldAllow) -> list[str]:
    """The S3 actions a grant allows, as its own pattern when that pattern is S3's alone."""
    grant = allow.grant
    if grant.action.lower().startswith("s3:") and not grant.except_actions:
        return [grant.action]
    catalog = expand_s3_actions("s3:*")
    concrete = [a for a in catalog if allow.applies_to(a)]
    return ["s3:*"] if len(concrete) == len(catalog) else concrete


def _label(allow: HeldAllow) -> str:
    """How a grant's resource is shown: its pattern, or `* except ...` for NotResource."""
    grant = allow.grant
    if grant.except_resources:
        return grant.resource_label
    return as_2012(grant.resource, allow.variables)
