"""The selector fix: one `aws cloudtrail put-event-selectors` per trail that closes the holes.

A hole is an S3 location and access type whose data events the trail's selectors do not log
(rightsizer.coverage), so grants there were kept as unknown. The fix is the trail's complete
list of advanced event selectors: its selectors of today (basic ones rewritten as the advanced
selectors that log the same events, since a trail has one kind or the other), then one
selector per access type (reads and writes, reads, writes) whose `resources.ARN` StartsWith
values are the holes' folders: `arn:P:s3:::bucket/` or `arn:P:s3:::bucket/folder/`, the forms
CloudTrail takes for S3 objects. A hole in a bucket named by a wildcard becomes all of S3.
Without the trail's selectors (coverage inferred from the logs) there is no fix: writing a
trail's selectors without knowing them would drop what it logs today.

CloudTrail refuses a trail whose advanced event selectors hold more than 500 values in all
(the CloudTrail quotas page; PutEventSelectors' InvalidEventSelectorsException). A fix that
would hold more widens its own folders to their buckets, then to all of S3 for each access
type, and says so in its note: logging more never hides a call, logging less would.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from shlex import quote
from typing import Any

from rightsizer.coverage import Hole
from rightsizer.iam.arn import parse_arn
from rightsizer.model import SelectorFix
from rightsizer.selectors import S3_OBJECT_TYPE, EventSelectors, TrailSelectors

# Selector names of the fix, by the access types they log.
_NAMES = {
    ("read", "write"): "rightsizer: S3 object reads and writes",
    ("read",): "rightsizer: S3 object reads",
    ("write",): "rightsizer: S3 object writes",
}
_READ_ONLY = {("read",): "true", ("write",): "false"}
MAX_VALUES = 500  # values of all conditions in all of a trail's advanced event selectors
_BASIC_READ_ONLY = {"ReadOnly": "true", "WriteOnly": "false"}


def selector_fixes(selectors: EventSelectors | None, holes: Iterable[Hole]) -> list[SelectorFix]:
    """One fix per trail of `selectors` for the holes (none without selectors or holes)."""
    ordered = sorted(set(holes))
    if selectors is None or not ordered:
        return []
    return [_fix(trail, ordered) for trail in selectors.trails]


def _fix(trail: TrailSelectors, holes: list[Hole]) -> SelectorFix:
    arn = parse_arn(trail.trail_arn or "")
    partition = arn.partition if arn else "aws"
    wanted: dict[str, set[str]] = defaultdict(set)  # ARN prefix ("" = all of S3) → accesses
    for hole in holes:
        wanted[_arn_prefix(partition, hole)].add(hole.access)
    existing = _existing(trail)
    selectors, note = _within_quota(existing, wanted)
    name = trail.trail_arn or "TRAIL-NAME"
    region = f" --region {quote(arn.region)}" if arn and arn.region else ""
    command = (
        f"aws cloudtrail put-event-selectors{region} --trail-name {quote(name)} "
        f"--advanced-event-selectors {quote(json.dumps(selectors, separators=(',', ':')))}"
    )
    shown = tuple(f"{hole.access} {_arn_prefix(partition, hole) or '*'}" for hole in holes)
    return SelectorFix(name, tuple(dict.fromkeys(shown)), selectors, command, note)


def _within_quota(
    existing: list[dict[str, Any]], wanted: dict[str, set[str]]
) -> tuple[tuple[dict[str, Any], ...], str]:
    """Today's selectors and the added ones, the added folders widened until the whole list
    holds at most MAX_VALUES values; with a note when they were widened, or cannot fit."""
    today = _values(existing)
    selectors: tuple[dict[str, Any], ...] = ()
    for widen, widened_to in _WIDENINGS:
        widened: dict[str, set[str]] = defaultdict(set)
        for prefix, accesses in wanted.items():
            widened[widen(prefix)] |= accesses
        selectors = (*existing, *_added(widened))
        held = _values(selectors)
        if held <= MAX_VALUES:
            return selectors, widened_to and (
                f"the folders are widened {widened_to}: CloudTrail allows {MAX_VALUES} values "
                f"across a trail's advanced event selectors, and this list holds {held} "
                f"({today} of them today's)"
            )
    return selectors, (
        f"CloudTrail allows {MAX_VALUES} values across a trail's advanced event selectors and "
        f"today's hold {today}: this list holds {_values(selectors)}, so CloudTrail will "
        "refuse it; merge today's selectors first"
    )


def _added(wanted: dict[str, set[str]]) -> list[dict[str, Any]]:
    """One selector per set of access types, naming its folders ("" = all of S3)."""
    # A prefix inside another of the same access adds nothing.
    for prefix in sorted(wanted, key=len):
        for access in list(wanted[prefix]):
            if any(p != prefix and prefix.startswith(p) and access in a for p, a in wanted.items()):
                wanted[prefix].discard(access)
    by_accesses: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for prefix, accesses in sorted(wanted.items()):
        if accesses:
            by_accesses[tuple(sorted(accesses))].append(prefix)
    return [_selector(accesses, prefixes) for accesses, prefixes in sorted(by_accesses.items())]


def _bucket_of(prefix: str) -> str:
    """`arn:P:s3:::bucket/folder/` → `arn:P:s3:::bucket/`; "" stays all of S3."""
    head, sep, rest = prefix.partition(":::")
    return f"{head}{sep}{rest.partition('/')[0]}/" if sep else prefix


# How the added folders widen to fit the quota, in order, with what the note calls it.
_WIDENINGS: tuple[tuple[Callable[[str], str], str], ...] = (
    (lambda prefix: prefix, ""),
    (_bucket_of, "to their buckets"),
    (lambda prefix: "", "to all of S3"),
)


def _values(selectors: Iterable[dict[str, Any]]) -> int:
    """The values of every condition of `selectors`, as CloudTrail counts them."""
    return sum(
        len(values)
        for selector in selectors
        for field in selector.get("FieldSelectors") or []
        for key, values in field.items()
        if key != "Field" and isinstance(values, list)
    )


def _arn_prefix(partition: str, hole: Hole) -> str:
    """The folder of the hole as a StartsWith value; "" for all of S3."""
    if not hole.bucket or any(c in hole.bucket for c in "*?$/:"):
        return ""
    folder = hole.key_prefix.rpartition("/")[0]
    return f"arn:{partition}:s3:::{hole.bucket}/" + (f"{folder}/" if folder else "")


def _selector(accesses: tuple[str, ...], prefixes: list[str]) -> dict[str, Any]:
    fields: list[dict[str, Any]] = [
        {"Field": "eventCategory", "Equals": ["Data"]},
        {"Field": "resources.type", "Equals": [S3_OBJECT_TYPE]},
    ]
    if accesses in _READ_ONLY:
        fields.append({"Field": "readOnly", "Equals": [_READ_ONLY[accesses]]})
    if "" not in prefixes:
        fields.append({"Field": "resources.ARN", "StartsWith": prefixes})
    return {"Name": _NAMES[accesses], "FieldSelectors": fields}


def _existing(trail: TrailSelectors) -> list[dict[str, Any]]:
    """The trail's selectors of today as advanced selectors that log the same events."""
    document = trail.document or {}
    if document.get("AdvancedEventSelectors"):
        return [dict(s) for s in document["AdvancedEventSelectors"]]
    out: list[dict[str, Any]] = []
    for number, basic in enumerate(document.get("EventSelectors") or [], start=1):
        read_only = _BASIC_READ_ONLY.get(basic.get("ReadWriteType", "All"))
        access = [{"Field": "readOnly", "Equals": [read_only]}] if read_only else []
        if basic.get("IncludeManagementEvents", True):
            fields = [{"Field": "eventCategory", "Equals": ["Management"]}, *access]
            excluded = basic.get("ExcludeManagementEventSources") or []
            if excluded:
                fields.append({"Field": "eventSource", "NotEquals": list(excluded)})
            out.append({"Name": f"Management events ({number})", "FieldSelectors": fields})
        for resource in basic.get("DataResources") or []:
            fields = [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": [resource["Type"]]},
                *access,
            ]
            values = [str(v) for v in resource.get("Values") or []]
            if not any(_spans_all(v) for v in values):
                s3 = resource["Type"] == S3_OBJECT_TYPE
                # A basic S3 value is a bucket or a prefix; other types name one resource each.
                fields.append(
                    {"Field": "resources.ARN", "StartsWith": [_s3_value(v) for v in values]}
                    if s3
                    else {"Field": "resources.ARN", "Equals": values}
                )
            out.append(
                {"Name": f"{resource['Type']} data events ({number})", "FieldSelectors": fields}
            )
    return out


def _spans_all(value: str) -> bool:
    """`arn:aws:s3`, `arn:aws:s3:::`, `arn:aws:lambda`: every resource of the type."""
    arn = parse_arn(value)
    return arn is None or not arn.resource


def _s3_value(value: str) -> str:
    """A basic S3 value as a StartsWith value: a bare bucket means all of its objects."""
    return value if "/" in value.partition(":::")[2] else f"{value}/"
