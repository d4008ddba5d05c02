"""The S3 eventName → IAM action table (rightsizer/data/s3_event_actions.csv).

The table is data, not code: one row per eventName × action, with the resource the action
applies to and the condition under which the call needs it. `load_mapping_tables` puts it,
and the list of authorization-failure error codes, into temp tables of an engine that the
queries in `queries/` join on.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

import pyarrow as pa

from rightsizer.engine import Engine, columns_table
from rightsizer.errors import ConfigError

MAPPING_FILE = "s3_event_actions.csv"
AUTH_ERRORS_FILE = "auth_error_codes.csv"

# Where an action applies: the request's object, the copy source object, every object of the
# bucket (`arn:P:s3:::B/*`), the bucket, or no resource at all (`*`).
RESOURCE_KINDS = frozenset({"object", "copy_source", "bucket_objects", "bucket", "account"})

# The IAM resource type each kind stands for, as the SAR names it ("" = no resource type).
RESOURCE_TYPE_OF_KIND = {
    "object": "object",
    "copy_source": "object",
    "bucket_objects": "object",
    "bucket": "bucket",
    "account": "",
}

# Conditions the staging query knows how to evaluate (queries/s3_calls.sql).
CONDITIONS = frozenset(
    {
        "always",  # every call
        "no_version",  # no versionId in the request
        "version",  # a versionId in the request
        "acl_header",  # x-amz-acl or an x-amz-grant-* header
        "tagging_header",  # x-amz-tagging
        "retention_header",  # x-amz-object-lock-mode / -retain-until-date
        "legal_hold_header",  # x-amz-object-lock-legal-hold
        "bypass_header",  # x-amz-bypass-governance-retention: true
        "source_no_version",  # x-amz-copy-source without ?versionId=
        "source_version",  # x-amz-copy-source with ?versionId=
        "no_versions_key",  # ListObjects without a `versions` parameter
        "versions_key",  # ListObjects with a `versions` parameter (ListObjectVersions)
        "bucket_acl_header",  # CreateBucket with a non-private ACL
        "bucket_lock_header",  # CreateBucket with x-amz-bucket-object-lock-enabled: true
        "ownership_header",  # CreateBucket with x-amz-object-ownership
        "delete_versions",  # DeleteObjects whose logged entries carry a versionId
        "not_found",  # the call failed with NoSuchKey (proves s3:ListBucket was used)
        "companion",  # not needed by the call; keep it when the role holds it today
    }
)

_MAPPING_COLUMNS = ("event_name", "action", "resource", "condition", "source")
_AUTH_COLUMNS = ("error_code", "source")


@dataclass(frozen=True, slots=True)
class MappingRow:
    """One eventName × action row of the mapping table."""

    event_name: str
    action: str
    resource: str
    condition: str
    source: str

    @property
    def resource_type(self) -> str:
        """The SAR resource type of the action here: "object", "bucket" or "" (none)."""
        return RESOURCE_TYPE_OF_KIND[self.resource]


def _data_text(name: str) -> str:
    return resources.files("rightsizer").joinpath("data", name).read_text(encoding="utf-8")


def _read_csv(name: str, columns: tuple[str, ...], text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(text.splitlines())
    if tuple(reader.fieldnames or ()) != columns:
        raise ConfigError(
            f"rightsizer/data/{name} has columns {reader.fieldnames}, expected {list(columns)}; "
            "reinstall rightsizer"
        )
    return list(reader)


def read_mapping(text: str | None = None) -> tuple[MappingRow, ...]:
    """Read and validate the mapping table (the packaged CSV unless `text` is given).

    Raises ConfigError naming the first bad row.
    """
    if text is None:
        text = _data_text(MAPPING_FILE)
    rows: list[MappingRow] = []
    seen: set[tuple[str, str, str, str]] = set()
    for number, raw in enumerate(_read_csv(MAPPING_FILE, _MAPPING_COLUMNS, text), start=2):
        row = MappingRow(**{column: (raw[column] or "").strip() for column in _MAPPING_COLUMNS})
        problem = _row_problem(row)
        key = (row.event_name, row.action, row.resource, row.condition)
        if problem is None and key in seen:
            problem = "duplicate row"
        if problem is not None:
            raise ConfigError(f"rightsizer/data/{MAPPING_FILE} line {number}: {problem}")
        seen.add(key)
        rows.append(row)
    return tuple(rows)


def _row_problem(row: MappingRow) -> str | None:
    if not row.event_name or not row.action or not row.source:
        return "event_name, action and source must not be empty"
    if not row.action.startswith("s3:"):
        return f"action {row.action!r} is not an s3: action"
    if row.resource not in RESOURCE_KINDS:
        return f"resource {row.resource!r} is not one of {sorted(RESOURCE_KINDS)}"
    if row.condition not in CONDITIONS:
        return f"condition {row.condition!r} is not one of {sorted(CONDITIONS)}"
    return None


def read_auth_error_codes() -> tuple[str, ...]:
    """Error codes that mean the call was not authorized (docs/s3-event-actions.md)."""
    rows = _read_csv(AUTH_ERRORS_FILE, _AUTH_COLUMNS, _data_text(AUTH_ERRORS_FILE))
    return tuple(row["error_code"].strip() for row in rows)


def mapping_tables() -> dict[str, pa.Table]:
    """The tables the queries join on, by name: `s3_event_actions` and `auth_error_codes`."""
    rows = read_mapping()
    return {
        "s3_event_actions": columns_table(
            {column: [getattr(row, column) for row in rows] for column in _MAPPING_COLUMNS}
        ),
        "auth_error_codes": columns_table({"error_code": read_auth_error_codes()}),
    }


def load_mapping_tables(engine: Engine) -> None:
    """Create the temp tables `s3_event_actions` and `auth_error_codes` in the engine.

    Temp tables live with the engine's session, so read-only stores can use them too.
    """
    for name, table in mapping_tables().items():
        engine.load_table(name, table)
