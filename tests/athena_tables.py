"""Athena's CloudTrail table, emulated in DuckDB: the same columns, filled the way Athena reads.

`load_raw` turns CloudTrail log documents into rows of `cloudtrail_raw`, shaped as
rightsizer.engine.cloudtrail_table documents it, reading each field as Athena's JSON SerDe
does: keys matched case-insensitively, a text column gets a JSON string's value, `true` /
`false` and numbers as written, and an object or array as its JSON text, exactly as the file
has it; absent fields and JSON null are NULL. Also the partition column `timestamp` (the
key's day folder) and Athena's hidden `"$path"`. Shared by the query and engine tests; not a
test module itself.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import duckdb
import msgspec
import pyarrow as pa

from rightsizer.engine.cloudtrail_table import COLUMNS, DAY_PARTITION

TABLE = "cloudtrail_raw"
BUCKET = "trail-bucket"
_DAY_RE = re.compile(r"(\d{4}/\d{2}/\d{2})/[^/]*$")
_TOKEN_RE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|[<>,:])")
_RAW_DOCUMENT = msgspec.json.Decoder(dict[str, list[dict[str, msgspec.Raw]]])


@dataclass(frozen=True)
class HiveType:
    """A parsed Hive type: `kind` is string, struct, array or map."""

    kind: str
    fields: tuple[tuple[str, HiveType], ...] = ()  # struct fields; (key, value) of a map

    def duckdb(self) -> str:
        """The same type in DuckDB's spelling."""
        if self.kind == "string":
            return "VARCHAR"
        if self.kind == "array":
            return f"{self.fields[0][1].duckdb()}[]"
        if self.kind == "map":
            return f"MAP({self.fields[0][1].duckdb()}, {self.fields[1][1].duckdb()})"
        return "STRUCT(" + ", ".join(f'"{n}" {t.duckdb()}' for n, t in self.fields) + ")"

    def read(self, value: Any) -> Any:
        """`value` (decoded JSON) as Athena's JSON SerDe gives it for this type."""
        if value is None:
            return None
        if self.kind == "string":
            return value if isinstance(value, str) else json.dumps(value)
        if self.kind == "array":
            item = self.fields[0][1]
            return [item.read(v) for v in value] if isinstance(value, list) else None
        if not isinstance(value, dict):
            return None
        if self.kind == "map":
            return [(str(k), self.fields[1][1].read(v)) for k, v in value.items()]
        lower = {key.lower(): item for key, item in value.items()}
        return {name: kind.read(lower.get(name)) for name, kind in self.fields}


def parse_hive_type(text: str) -> HiveType:
    """Parse a Hive type such as `ARRAY<STRUCT<arn:STRING>>`."""
    tokens = _TOKEN_RE.findall(text)
    kind, rest = _parse(tokens)
    assert not rest, f"trailing tokens in {text!r}: {rest}"
    return kind


def _parse(tokens: list[str]) -> tuple[HiveType, list[str]]:
    head, rest = tokens[0].lower(), tokens[1:]
    if head == "string":
        return HiveType("string"), rest
    assert rest[0] == "<", f"{head} needs <...>"
    rest = rest[1:]
    fields: list[tuple[str, HiveType]] = []
    while True:
        if head == "struct":
            name, colon, *rest = rest
            assert colon == ":"
        else:
            name = str(len(fields))
        kind, rest = _parse(rest)
        fields.append((name, kind))
        separator, *rest = rest
        if separator == ">":
            return HiveType(head, tuple(fields)), rest
        assert separator == ","


TYPES = {name: parse_hive_type(hive) for name, hive in COLUMNS}


def create_raw(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the empty table `cloudtrail_raw` (Athena's columns, partition and `$path`)."""
    columns = [f"{name} {kind.duckdb()}" for name, kind in TYPES.items()]
    columns += [f'"{DAY_PARTITION}" VARCHAR', '"$path" VARCHAR']
    conn.execute(f"CREATE OR REPLACE TABLE {TABLE} ({', '.join(columns)})")


def raw_rows(key: str, document: bytes, bucket: str = BUCKET) -> list[dict[str, Any]]:
    """The rows Athena reads from one log file (`document`, gzipped or not) at `key`."""
    if document[:2] == b"\x1f\x8b":
        document = gzip.decompress(document)
    day = _DAY_RE.search(key)
    rows = []
    for record in _RAW_DOCUMENT.decode(document)["Records"]:
        fields = {name.lower(): raw for name, raw in record.items()}
        row = {name: _column(kind, fields.get(name)) for name, kind in TYPES.items()}
        row[DAY_PARTITION] = day.group(1) if day else None
        row["$path"] = f"s3://{bucket}/{key}"
        rows.append(row)
    return rows


def _column(kind: HiveType, raw: msgspec.Raw | None) -> Any:
    if raw is None:
        return None
    text = bytes(raw)
    if kind.kind == "string" and text[:1] in (b"{", b"["):
        return text.decode()  # the document's own JSON text, as in the file
    return kind.read(msgspec.json.decode(text))


def load_raw(
    conn: duckdb.DuckDBPyConnection, files: Iterable[tuple[str, bytes]], bucket: str = BUCKET
) -> int:
    """Fill a new `cloudtrail_raw` with the records of `(key, document)` files; rows added."""
    create_raw(conn)
    rows = [row for key, data in files for row in raw_rows(key, data, bucket)]
    schema = conn.sql(f"SELECT * FROM {TABLE}").arrow().schema
    table = pa.Table.from_pylist(rows, schema=schema)
    conn.register("_raw_rows", table)
    conn.execute(f"INSERT INTO {TABLE} SELECT * FROM _raw_rows")
    conn.unregister("_raw_rows")
    return len(rows)


def records_document(records: list[dict[str, Any]]) -> bytes:
    """A log document of `records`, encoded as ingest's `load_records` encodes them."""
    return msgspec.json.encode({"Records": records})
