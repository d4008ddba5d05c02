"""Decode CloudTrail log files and normalize their records to the `events` columns.

Only the stored fields are decoded, with a typed msgspec decoder: that is most of the ingest
cost, so nothing else is looked at. Decoding is lenient per record: a field of the wrong type
becomes NULL, a record without an eventID or without an eventTime that parses is counted as
bad, and neither costs the file's other records. Faults of the whole file (not gzip,
truncated, invalid JSON, wrong shape, empty) raise `FileFault` with a one-line reason.

Longer than most modules on purpose: the typed record schema, the lenient fallback and the
Arrow column builders share one list of fields and change together.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from itertools import accumulate, chain
from operator import attrgetter
from typing import Any, cast

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

try:  # ISA-L inflates about three times faster than zlib
    from isal import igzip as _gzip
    from isal.igzip_lib import IsalError

    # The isal stubs declare IsalError as an instance; it is an exception class.
    _INFLATE_ERRORS: tuple[type[Exception], ...] = (
        EOFError,
        OSError,
        ValueError,
        cast(type[Exception], IsalError),
    )
except ImportError:  # pragma: no cover - isal is a declared dependency
    import gzip as _gzip  # type: ignore[no-redef]
    import zlib

    _INFLATE_ERRORS = (EOFError, OSError, ValueError, zlib.error)

INSIGHT_EVENT_TYPE = "AwsCloudTrailInsight"
_GZIP_MAGIC = b"\x1f\x8b"
# How many wrong-typed fields one record may have before it is given up as bad.
_MAX_FIELD_FIXES = 20


class FileFault(Exception):
    """The whole file cannot be read as a CloudTrail log; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SessionIssuer(msgspec.Struct, gc=False):
    type: str | None = None
    arn: str | None = None


class SessionContext(msgspec.Struct, gc=False):
    sessionIssuer: SessionIssuer | None = None


class UserIdentity(msgspec.Struct, gc=False):
    type: str | None = None
    principalId: str | None = None
    arn: str | None = None
    accountId: str | None = None
    invokedBy: str | None = None
    sessionContext: SessionContext | None = None


class Resource(msgspec.Struct, gc=False):
    ARN: str | None = None
    ARNPrefix: str | None = None
    accountId: str | None = None
    type: str | None = None
    # Lower-case spellings seen in published samples (not in trail files); read as the above.
    arn: str | None = None
    accountid: str | None = None


class Record(msgspec.Struct, gc=False):
    """The stored fields of one CloudTrail record, as they appear in the log file."""

    eventID: str | None = None
    eventTime: str | None = None
    eventVersion: str | None = None
    eventSource: str | None = None
    eventName: str | None = None
    eventType: str | None = None
    eventCategory: str | None = None
    # Some captures write these booleans as the strings "true"/"false".
    managementEvent: bool | str | None = None
    readOnly: bool | str | None = None
    awsRegion: str | None = None
    recipientAccountId: str | None = None
    userIdentity: UserIdentity | None = None
    userAgent: str | None = None
    sourceIPAddress: str | None = None
    errorCode: str | None = None
    errorMessage: str | None = None
    sharedEventID: str | None = None
    # Kept as the original JSON text: stored as is, never re-encoded.
    requestParameters: msgspec.Raw = msgspec.Raw()
    resources: list[Resource] | None = None


class _LogBody(msgspec.Struct, gc=False):
    Records: list[Record]


class _RawBody(msgspec.Struct, gc=False):
    Records: list[msgspec.Raw]


_FILE_DECODER = msgspec.json.Decoder(_LogBody)
_SHAPE_DECODER = msgspec.json.Decoder(_RawBody)
_RECORD_DECODER = msgspec.json.Decoder(Record)
_ANY_DECODER = msgspec.json.Decoder()

RESOURCE_TYPE = pa.struct(
    [
        ("arn", pa.string()),
        ("arn_prefix", pa.string()),
        ("account_id", pa.string()),
        ("type", pa.string()),
    ]
)

# Name and type of every `events` column, in table order (see rightsizer.store).
EVENT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("event_time", pa.timestamp("us")),
        ("event_version", pa.string()),
        ("event_source", pa.string()),
        ("event_name", pa.string()),
        ("event_type", pa.string()),
        ("event_category", pa.string()),
        ("management_event", pa.bool_()),
        ("read_only", pa.bool_()),
        ("aws_region", pa.string()),
        ("recipient_account", pa.string()),
        ("principal_type", pa.string()),
        ("principal_arn", pa.string()),
        ("principal_account", pa.string()),
        ("role_arn", pa.string()),
        ("session_name", pa.string()),
        ("invoked_by", pa.string()),
        ("user_agent", pa.string()),
        ("source_ip", pa.string()),
        ("error_code", pa.string()),
        ("error_message", pa.string()),
        ("shared_event_id", pa.string()),
        ("request_parameters", pa.string()),
        ("resources", pa.list_(RESOURCE_TYPE)),
        ("source_file", pa.string()),
    ]
)


@dataclass
class DecodedFile:
    """The usable records of one file and what was left out."""

    records: list[Record]
    bad_records: int = 0
    insight_records: int = 0


def inflate(data: bytes) -> bytes:
    """Gunzip a log file; FileFault when it is empty, not gzip, or truncated."""
    if not data:
        raise FileFault("empty file")
    if data[:2] != _GZIP_MAGIC:
        raise FileFault("not a gzip file")
    try:
        return _gzip.decompress(data)
    except _INFLATE_ERRORS as exc:
        raise FileFault(f"truncated or corrupt gzip ({exc})") from None


def decode_log(text: bytes) -> DecodedFile:
    """Decode an uncompressed CloudTrail log document `{"Records": [...]}`."""
    if not text.strip():
        raise FileFault("empty file")
    try:
        records = _FILE_DECODER.decode(text).Records
        bad = 0
    except UnicodeDecodeError as exc:  # msgspec lets invalid UTF-8 in a string through as this
        raise FileFault(f"invalid JSON (not UTF-8: {exc.reason} at byte {exc.start})") from None
    except msgspec.DecodeError as exc:
        if not isinstance(exc, msgspec.ValidationError):
            raise FileFault(f"invalid JSON ({_bom_reason(text) or exc})") from None
        records, bad = _decode_each(text)
    usable: list[Record] = []
    insights = 0
    for record in records:
        if not record.eventID or not isinstance(record.eventID, str):
            bad += 1
        elif record.eventType == INSIGHT_EVENT_TYPE:
            insights += 1
        else:
            usable.append(record)
    return DecodedFile(records=usable, bad_records=bad, insight_records=insights)


# Byte order marks a tool may have put before the JSON; JSON text has none (RFC 8259, 8.1).
_BOMS = {
    b"\xef\xbb\xbf": "UTF-8",
    b"\xff\xfe": "UTF-16LE",
    b"\xfe\xff": "UTF-16BE",
}


def _bom_reason(text: bytes) -> str | None:
    """What is wrong with a document that starts with a byte order mark; None without one."""
    for bom, encoding in _BOMS.items():
        if text.startswith(bom):
            return (
                f"starts with a {encoding} byte order mark, which JSON does not have; "
                "put a copy without it in its place"
            )
    return None


def _decode_each(text: bytes) -> tuple[list[Record], int]:
    """Slow path for a file with a malformed record: decode records one at a time."""
    try:
        raw_records = _SHAPE_DECODER.decode(text).Records
    except msgspec.ValidationError as exc:
        raise FileFault(_shape_reason(str(exc))) from None
    except msgspec.DecodeError as exc:
        raise FileFault(f"invalid JSON ({exc})") from None
    records: list[Record] = []
    bad = 0
    for raw in raw_records:
        record = _lenient_record(raw)
        if record is None:
            bad += 1
        else:
            records.append(record)
    return records, bad


def _shape_reason(message: str) -> str:
    if "$.Records" in message:
        return "Records is not a list"
    if "missing required field" in message:
        return "no Records list at the top level"
    return "top level is not a JSON object"


# What decoding a record the file's JSON already accepted raises when a string in it is not
# UTF-8: UnicodeDecodeError before msgspec 0.23, DecodeError("Invalid UTF-8 ...") since.
_UNREADABLE = (UnicodeDecodeError, msgspec.DecodeError)


def _lenient_record(raw: msgspec.Raw) -> Record | None:
    """Decode one record, turning each wrong-typed field into NULL; None if hopeless."""
    try:
        return _RECORD_DECODER.decode(raw)
    except msgspec.ValidationError as exc:
        error = exc
    except _UNREADABLE:
        return None  # a string that is not UTF-8: the record cannot be read
    try:
        document: Any = _ANY_DECODER.decode(raw)
    except _UNREADABLE:
        return None
    for _ in range(_MAX_FIELD_FIXES):
        path = _error_path(str(error))
        if not path or not _drop(document, path):
            return None
        try:
            return _RECORD_DECODER.decode(msgspec.json.encode(document))
        except msgspec.ValidationError as exc:
            error = exc
    return None


_PATH_RE = re.compile(r" - at `\$(.*)`$")
_STEP_RE = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _error_path(message: str) -> list[str | int]:
    """The location named by a msgspec validation error, e.g. `$.resources[0].ARN`."""
    match = _PATH_RE.search(message)
    if not match:
        return []
    return [int(i) if i else name for name, i in _STEP_RE.findall(match.group(1))]


def _drop(document: Any, path: list[str | int]) -> bool:
    """Remove the value at `path` from a decoded JSON document; False if not there."""
    parent = document
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return False
    last = path[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
        return True
    if isinstance(parent, list) and isinstance(last, int) and last < len(parent):
        del parent[last]
        return True
    return False


def read_log_file(data: bytes) -> DecodedFile:
    """Inflate and decode one `.json.gz` log file."""
    return decode_log(inflate(data))


_TIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_event_time(text: str | None) -> dt.datetime | None:
    """Parse an eventTime leniently to a naive UTC datetime; None when it is no time at all."""
    if not text:
        return None
    match = _TIME_RE.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        value = dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros
        )
    except ValueError:
        return None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        value -= sign * offset
    return value


def _event_times(texts: list[str | None]) -> pa.Array:
    strings = pa.array(texts, type=pa.string())
    # Vectorized parse of the usual form; anything else goes through the lenient parser.
    parsed = pc.strptime(strings, format="%Y-%m-%dT%H:%M:%SZ", unit="us", error_is_null=True)
    if parsed.null_count == strings.null_count:
        return parsed
    return pa.array([parse_event_time(text) for text in texts], type=pa.timestamp("us"))


def _flag(value: bool | str | None) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = value.strip().lower()
    return True if text == "true" else False if text == "false" else None


def _flags(values: list[bool | str | None]) -> pa.Array:
    try:
        return pa.array(values, pa.bool_())
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # some captures write "true"/"false"
        return pa.array([_flag(value) for value in values], pa.bool_())


def _request_parameters(raws: list[msgspec.Raw]) -> pa.Array:
    """The raw JSON texts as strings; NULL where the field is absent or JSON null."""
    texts = pa.array(list(map(bytes, raws)), pa.binary())
    absent = pc.or_(pc.equal(pc.binary_length(texts), 0), pc.equal(texts, b"null"))
    return pc.if_else(absent, pa.scalar(None, pa.binary()), texts).cast(pa.string())


def _session_name(arn: str | None, principal_id: str | None) -> str | None:
    if arn and ":assumed-role/" in arn:
        return arn.rsplit("/", 1)[1]
    if principal_id and ":" in principal_id:
        return principal_id.split(":", 1)[1]
    return None


_NO_ISSUER = SessionIssuer()
_NO_CONTEXT = SessionContext(sessionIssuer=_NO_ISSUER)
_NO_IDENTITY = UserIdentity(sessionContext=_NO_CONTEXT)


def _strings(items: list[Any], name: str) -> pa.Array:
    return pa.array(list(map(attrgetter(name), items)), pa.string())


def _resources(records: list[Record]) -> pa.Array:
    lists = list(map(attrgetter("resources"), records))
    offsets = list(accumulate(map(len, (x or () for x in lists)), initial=0))
    flat = list(chain.from_iterable(x for x in lists if x))
    columns = [
        _either(flat, "ARN", "arn"),
        _strings(flat, "ARNPrefix"),
        _either(flat, "accountId", "accountid"),
        _strings(flat, "type"),
    ]
    children = pa.StructArray.from_arrays(columns, fields=list(RESOURCE_TYPE))
    mask = pa.array([x is None for x in lists], pa.bool_()) if None in lists else None
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), children, mask=mask)


def _either(items: list[Any], name: str, other: str) -> pa.Array:
    """Field `name`, or `other` where `name` is absent (the rare lower-case spellings)."""
    values = _strings(items, name)
    if values.null_count == 0:
        return values
    return pc.coalesce(values, _strings(items, other))


def to_table(records: list[Record], source_file: str | list[str]) -> pa.Table:
    """Normalize records to an Arrow table with the `events` columns (EVENT_SCHEMA).

    `source_file` is the file of every record, or a list with one file per record.
    """
    # Stand-ins for absent objects let every column be one C-level map over the records.
    who = [r.userIdentity or _NO_IDENTITY for r in records]
    issuers = [(w.sessionContext or _NO_CONTEXT).sessionIssuer or _NO_ISSUER for w in who]
    issued_by_role = pc.equal(_strings(issuers, "type"), "Role")
    role_arn = pc.if_else(pc.fill_null(issued_by_role, False), _strings(issuers, "arn"), None)
    sessions = [_session_name(w.arn, w.principalId) for w in who]
    columns = [
        _strings(records, "eventID"),
        _event_times(list(map(attrgetter("eventTime"), records))),
        _strings(records, "eventVersion"),
        _strings(records, "eventSource"),
        _strings(records, "eventName"),
        _strings(records, "eventType"),
        _strings(records, "eventCategory"),
        _flags(list(map(attrgetter("managementEvent"), records))),
        _flags(list(map(attrgetter("readOnly"), records))),
        _strings(records, "awsRegion"),
        _strings(records, "recipientAccountId"),
        _strings(who, "type"),
        _strings(who, "arn"),
        _strings(who, "accountId"),
        role_arn,
        pa.array(sessions, pa.string()),
        _strings(who, "invokedBy"),
        _strings(records, "userAgent"),
        _strings(records, "sourceIPAddress"),
        _strings(records, "errorCode"),
        _strings(records, "errorMessage"),
        _strings(records, "sharedEventID"),
        _request_parameters(list(map(attrgetter("requestParameters"), records))),
        _resources(records),
        pa.array(
            [source_file] * len(records) if isinstance(source_file, str) else source_file,
            pa.string(),
        ),
    ]
    return pa.Table.from_arrays(columns, schema=EVENT_SCHEMA)


def timed_rows(table: pa.Table) -> tuple[pa.Table, Counter[str]]:
    """The rows of a `to_table` table whose eventTime parsed, and how many each file lost.

    A record without a time is bad: no window holds it, so it would be stored and never used.
    Found here, where times are parsed a thousand records at a time, not record by record.
    """
    times = table.column("event_time")
    if times.null_count == 0:
        return table, Counter()
    timeless = pc.is_null(times)
    lost = pc.value_counts(pc.filter(table.column("source_file"), timeless)).to_pylist()
    return table.filter(pc.invert(timeless)), Counter({i["values"]: i["counts"] for i in lost})


@dataclass
class FileResult:
    """The outcome of decoding one log file: its counts, or the reason it was skipped."""

    key: str
    rows: int = 0  # records kept, in the chunk's table
    records: int = 0  # every entry of the file's Records list
    bad_records: int = 0
    insight_records: int = 0
    fault: str | None = None


@dataclass
class ChunkResult:
    """Decoded files of one worker task; `table` names an Arrow IPC file of their rows."""

    files: list[FileResult]
    table: str | None


# Records are turned into Arrow columns about this many at a time, while they are still in the
# CPU cache from decoding (16,000 at a time cost 70% more); fewer would repeat the fixed cost of
# building a column too often.
TABLE_ROWS = 1_000


def decode_files(items: list[tuple[str, bytes]], spool: str) -> ChunkResult:
    """Decode `(key, gzip bytes)` pairs into one table; runs in ingest worker processes.

    The table is written to a new file in the folder `spool`, which the ingest process maps
    into memory: no copy through a pipe.
    """
    results: list[FileResult] = []
    tables: list[pa.Table] = []
    records: list[Record] = []
    sources: list[str] = []
    lost: Counter[str] = Counter()  # records of each file without a time
    for key, data in items:
        try:
            decoded = read_log_file(data)
        except FileFault as fault:
            results.append(FileResult(key, fault=fault.reason))
            continue
        kept = len(decoded.records)
        records += decoded.records
        sources += [key] * kept
        results.append(
            FileResult(
                key,
                rows=kept,
                records=kept + decoded.bad_records + decoded.insight_records,
                bad_records=decoded.bad_records,
                insight_records=decoded.insight_records,
            )
        )
        if len(records) >= TABLE_ROWS:
            tables.append(_timed_table(records, sources, lost))
            records, sources = [], []
    if records:
        tables.append(_timed_table(records, sources, lost))
    for result in results:
        if result.key in lost:
            result.rows -= lost[result.key]
            result.bad_records += lost[result.key]
    if not any(table.num_rows for table in tables):
        return ChunkResult(results, None)
    path = os.path.join(spool, f"{uuid.uuid4().hex}.arrow")
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, EVENT_SCHEMA) as writer:
        for table in tables:
            writer.write_table(table)
    return ChunkResult(results, path)


def _timed_table(records: list[Record], sources: list[str], lost: Counter[str]) -> pa.Table:
    table, timeless = timed_rows(to_table(records, sources))
    lost.update(timeless)
    return table


def read_table(path: str) -> pa.Table:
    """The table of a ChunkResult, mapped into memory rather than read."""
    return pa.ipc.open_file(pa.memory_map(path)).read_all()
