"""A trail's event selectors: what S3 object-level activity it logs at all, and whether it
logs S3's management events (bucket and account-level calls).

Parses the JSON of `aws cloudtrail get-event-selectors` (basic `EventSelectors` or
`AdvancedEventSelectors`), or fetches it live with `cloudtrail:GetEventSelectors`, and answers
one question conservatively: is every S3 read (or write) data event on objects under
`bucket/key_prefix` logged? Any selector condition that could leave some of those events out
(an eventName list, a NotEndsWith, a filter on the caller) makes the answer "no", because a
wrong "yes" would let a minimizer remove a permission whose use was simply not logged. A bucket
pattern of a grant (`*`, `data-*`) stands for every bucket it can match: one bucket left out
(`NotStartsWith arn:aws:s3:::data-secret/`) is enough for "no".
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from rightsizer.errors import ConfigError, SourceError
from rightsizer.iam.containment import literal_prefix

Access = Literal["read", "write"]

S3_OBJECT_TYPE = "AWS::S3::Object"
S3_EVENT_SOURCE = "s3.amazonaws.com"
_READ_WRITE_TYPES = {"All": ("read", "write"), "ReadOnly": ("read",), "WriteOnly": ("write",)}
_OPERATORS = ("Equals", "NotEquals", "StartsWith", "NotStartsWith", "EndsWith", "NotEndsWith")


def _s3_path(arn_value: str) -> str | None:
    """`bucket/key...` of an S3 ARN (or ARN prefix); "" when it spans all of S3; None if not S3."""
    head, separator, rest = arn_value.partition(":::")
    if separator:
        fields = head.split(":")
        return rest if len(fields) == 3 and fields[0] == "arn" and fields[2] == "s3" else None
    # A value that is the start of some "arn:P:s3:::" (e.g. "arn:aws:s3") spans every object.
    fields = arn_value.split(":")
    expected = ("arn", None, "s3", "", "")
    if len(fields) > len(expected):
        return None
    for index, field in enumerate(fields):
        want = expected[index]
        is_last = index == len(fields) - 1
        if want is not None and not (want.startswith(field) if is_last else field == want):
            return None
    return ""


@dataclass(frozen=True, slots=True)
class BasicSelector:
    """One basic event selector, reduced to its S3 object data resources."""

    read_write_type: str
    values: tuple[str, ...]
    include_management: bool = True
    excluded_sources: tuple[str, ...] = ()

    def logs_management(self, access: Access) -> bool:
        """Whether every S3 management event of `access` (read or write) is logged."""
        return (
            self.include_management
            and access in _READ_WRITE_TYPES.get(self.read_write_type, ())
            and S3_EVENT_SOURCE not in self.excluded_sources
        )

    def covers(self, target: str, access: Access) -> bool:
        if access not in _READ_WRITE_TYPES.get(self.read_write_type, ()):
            return False
        target = literal_prefix(target)  # every object a bucket pattern can reach starts so
        for value in self.values:
            path = _s3_path(value)
            if path is None:
                continue
            if path and "/" not in path:
                path += "/"  # a bare bucket ARN is read as all of its objects
            if target.startswith(path):
                return True
        return False


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """One field condition of an advanced selector; operators within it all apply."""

    field: str
    equals: tuple[str, ...] = ()
    not_equals: tuple[str, ...] = ()
    starts_with: tuple[str, ...] = ()
    not_starts_with: tuple[str, ...] = ()
    ends_with: tuple[str, ...] = ()
    not_ends_with: tuple[str, ...] = ()

    def admits(self, value: str) -> bool:
        """Whether one known field value passes every operator."""
        return (
            (not self.equals or value in self.equals)
            and (not self.starts_with or value.startswith(self.starts_with))
            and (not self.ends_with or value.endswith(self.ends_with))
            and value not in self.not_equals
            and not (self.not_starts_with and value.startswith(self.not_starts_with))
            and not (self.not_ends_with and value.endswith(self.not_ends_with))
        )

    @property
    def restricts(self) -> bool:
        return any(
            (
                self.equals,
                self.not_equals,
                self.starts_with,
                self.not_starts_with,
                self.ends_with,
                self.not_ends_with,
            )
        )

    def admits_every_object_under(self, target: str) -> bool:
        """Whether every object ARN whose `bucket/key` starts with `target` passes (ARN field).

        `target` may hold the wildcards of a grant's bucket (`*`, `data-?ecret`): it is read as
        every `bucket/key` that starts with its text before the first wildcard, a superset of
        what the grant can reach, so a value that could exclude any of it answers "no".
        """
        if self.equals or self.ends_with or self.not_ends_with:
            return False  # each leaves out some keys under any prefix
        target = literal_prefix(target)
        if self.starts_with:
            paths = [_s3_path(value) for value in self.starts_with]
            if not any(path is not None and target.startswith(path) for path in paths):
                return False
        for value in self.not_equals:
            path = _s3_path(value)
            if path is not None and path.startswith(target):
                return False
        for value in self.not_starts_with:
            path = _s3_path(value)
            if path is not None and (path.startswith(target) or target.startswith(path)):
                return False
        return True


@dataclass(frozen=True, slots=True)
class AdvancedSelector:
    """One advanced event selector: an event is logged when every field condition passes."""

    name: str
    fields: tuple[FieldSelector, ...]

    def logs_management(self, access: Access) -> bool:
        """Whether every S3 management event of `access` passes every field condition."""
        known = {
            "eventCategory": "Management",
            "readOnly": "true" if access == "read" else "false",
            "eventSource": S3_EVENT_SOURCE,
        }
        for condition in self.fields:
            if condition.field in known:
                if not condition.admits(known[condition.field]):
                    return False
            elif condition.restricts:
                return False  # an eventName list, a caller... may drop some of them
        return any(condition.field == "eventCategory" for condition in self.fields)

    def covers(self, target: str, access: Access, event_name: str | None) -> bool:
        known = {
            "eventCategory": "Data",
            "resources.type": S3_OBJECT_TYPE,
            "readOnly": "true" if access == "read" else "false",
            "eventSource": S3_EVENT_SOURCE,
        }
        if event_name is not None:
            known["eventName"] = event_name
        for condition in self.fields:
            if condition.field in known:
                if not condition.admits(known[condition.field]):
                    return False
            elif condition.field == "resources.ARN":
                if not condition.admits_every_object_under(target):
                    return False
            elif condition.restricts:
                return False  # a filter on something else (caller, eventName...) may drop events
        return True


@dataclass(frozen=True, slots=True)
class TrailSelectors:
    """The selectors of one trail, as `get-event-selectors` returns them."""

    trail_arn: str | None
    basic: tuple[BasicSelector, ...] = ()
    advanced: tuple[AdvancedSelector, ...] = ()
    # The response as given: the selector fix keeps every selector, S3 or not.
    document: Mapping[str, Any] | None = dataclasses.field(default=None, compare=False)

    def covers(
        self, bucket: str, key_prefix: str, access: Access, event_name: str | None = None
    ) -> bool:
        target = f"{bucket}/{key_prefix}"
        return any(s.covers(target, access) for s in self.basic) or any(
            s.covers(target, access, event_name) for s in self.advanced
        )

    def logs_management(self, access: Access) -> bool:
        """Whether the trail logs every S3 management event of `access` (read or write)."""
        return any(s.logs_management(access) for s in self.basic) or any(
            s.logs_management(access) for s in self.advanced
        )


@dataclass(frozen=True, slots=True)
class EventSelectors:
    """The selectors of every trail whose logs were read; any trail logging an event suffices."""

    trails: tuple[TrailSelectors, ...]

    def covers(
        self, bucket: str, key_prefix: str, access: Access, event_name: str | None = None
    ) -> bool:
        """Whether every S3 `access` data event on objects under `bucket/key_prefix` is logged.

        `event_name` narrows the question to one eventName (for selectors that filter on it);
        bucket-level data events (ListObjects, HeadBucket) are asked about with key_prefix "".
        """
        return any(trail.covers(bucket, key_prefix, access, event_name) for trail in self.trails)

    def logs_management(self, access: Access) -> bool:
        """Whether every S3 management `access` event (GetBucketLocation, PutBucketTagging,
        ListBuckets...) is logged: basic selectors with IncludeManagementEvents and a matching
        ReadWriteType, or an advanced selector for eventCategory Management that keeps them."""
        return any(trail.logs_management(access) for trail in self.trails)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"event selectors: {where} must be a list of strings")
    return tuple(value)


def _basic(raw: Any) -> BasicSelector:
    if not isinstance(raw, dict):
        raise ConfigError("event selectors: each EventSelectors entry must be an object")
    read_write = raw.get("ReadWriteType", "All")
    if read_write not in _READ_WRITE_TYPES:
        raise ConfigError(
            f"event selectors: ReadWriteType {read_write!r} is not All, ReadOnly or WriteOnly"
        )
    values: list[str] = []
    for resource in raw.get("DataResources") or []:
        if isinstance(resource, dict) and resource.get("Type") == S3_OBJECT_TYPE:
            values.extend(_strings(resource.get("Values"), "DataResources Values"))
    include = raw.get("IncludeManagementEvents", True)
    if not isinstance(include, bool):
        raise ConfigError("event selectors: IncludeManagementEvents must be true or false")
    return BasicSelector(
        read_write_type=read_write,
        values=tuple(values),
        include_management=include,
        excluded_sources=_strings(
            raw.get("ExcludeManagementEventSources"), "ExcludeManagementEventSources"
        ),
    )


def _advanced(raw: Any) -> AdvancedSelector:
    if not isinstance(raw, dict) or not isinstance(raw.get("FieldSelectors"), list):
        raise ConfigError("event selectors: each AdvancedEventSelectors entry needs FieldSelectors")
    fields = []
    for item in raw["FieldSelectors"]:
        if not isinstance(item, dict) or not isinstance(item.get("Field"), str):
            raise ConfigError("event selectors: each FieldSelectors entry needs a Field name")
        operators = {op: _strings(item.get(op), f"{item['Field']} {op}") for op in _OPERATORS}
        fields.append(
            FieldSelector(
                field=item["Field"],
                equals=operators["Equals"],
                not_equals=operators["NotEquals"],
                starts_with=operators["StartsWith"],
                not_starts_with=operators["NotStartsWith"],
                ends_with=operators["EndsWith"],
                not_ends_with=operators["NotEndsWith"],
            )
        )
    return AdvancedSelector(name=str(raw.get("Name", "")), fields=tuple(fields))


def parse_trail_selectors(document: Mapping[str, Any]) -> TrailSelectors:
    """One `get-event-selectors` response (basic, advanced, or both)."""
    if not isinstance(document, Mapping):
        raise ConfigError("event selectors: expected the JSON object get-event-selectors prints")
    basic = document.get("EventSelectors")
    advanced = document.get("AdvancedEventSelectors")
    if basic is None and advanced is None:
        raise ConfigError(
            "event selectors: neither EventSelectors nor AdvancedEventSelectors found; "
            "save the output of `aws cloudtrail get-event-selectors --trail-name NAME`"
        )
    if not isinstance(basic or [], list) or not isinstance(advanced or [], list):
        raise ConfigError("event selectors: EventSelectors/AdvancedEventSelectors must be lists")
    trail_arn = document.get("TrailARN")
    return TrailSelectors(
        trail_arn=trail_arn if isinstance(trail_arn, str) else None,
        basic=tuple(_basic(raw) for raw in basic or []),
        advanced=tuple(_advanced(raw) for raw in advanced or []),
        document=document,
    )


def parse_event_selectors(document: Mapping[str, Any] | Sequence[Any]) -> EventSelectors:
    """A `get-event-selectors` response, or a list of them (one per trail)."""
    documents: Iterable[Any] = [document] if isinstance(document, Mapping) else document
    return EventSelectors(trails=tuple(parse_trail_selectors(doc) for doc in documents))


def load_event_selectors(path: str | Path) -> EventSelectors:
    """Read `--event-selectors FILE` (the JSON `aws cloudtrail get-event-selectors` prints)."""
    file = Path(path)
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--event-selectors file {file} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--event-selectors file {file} cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"--event-selectors file {file} is not JSON ({exc}); save the output of "
            "`aws cloudtrail get-event-selectors --trail-name NAME`"
        ) from None
    if not isinstance(document, dict | list):
        raise ConfigError(f"--event-selectors file {file} must hold a JSON object or list")
    try:
        return parse_event_selectors(document)
    except ConfigError as exc:
        raise ConfigError(f"--event-selectors file {file}: {exc}") from None


def fetch_event_selectors(client: Any, trail_names: Sequence[str] | None = None) -> EventSelectors:
    """Call `cloudtrail:GetEventSelectors` for the named trails (default: every trail visible).

    `client` is a boto3 CloudTrail client, best in the trails' home region.
    """
    try:
        if trail_names is None:
            trails = client.describe_trails(includeShadowTrails=True)["trailList"]
            trail_names = sorted({trail["TrailARN"] for trail in trails})
        responses = [client.get_event_selectors(TrailName=name) for name in trail_names]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise SourceError(
            f"cannot read the trail's event selectors ({error.get('Code')}: "
            f"{error.get('Message')}); grant cloudtrail:GetEventSelectors and "
            "cloudtrail:DescribeTrails, or pass --event-selectors FILE"
        ) from None
    except BotoCoreError as exc:
        raise SourceError(
            f"cannot reach CloudTrail for the event selectors ({exc}); "
            "check credentials and region, or pass --event-selectors FILE"
        ) from None
    return parse_event_selectors([dict(response) for response in responses])
