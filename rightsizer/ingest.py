"""Append CloudTrail log files to the store: decode in worker processes, write in transactions.

A file's events and its manifest row always commit together, so a run killed at any moment
leaves a consistent database and the next run picks up where it stopped. The same eventID never
yields two rows: a batch keeps the first occurrence and the table's primary key ignores the rest.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import duckdb
import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from rightsizer.records import decode_log, to_table


def _first_occurrences(table: pa.Table) -> pa.Table:
    """Drop rows whose event_id already occurred earlier in the same table."""
    ids = table.column("event_id")
    if pc.count_distinct(ids).as_py() == table.num_rows:
        return table
    numbered = table.append_column("_row", pa.array(range(table.num_rows), pa.int64()))
    first = numbered.group_by("event_id", use_threads=False).aggregate([("_row", "min")])
    keep = pc.sort_indices(first.column("_row_min"))
    return table.take(pc.take(first.column("_row_min"), keep))


def insert_events(conn: duckdb.DuckDBPyConnection, table: pa.Table) -> Counter[str]:
    """Insert the rows whose event_id is new, in the caller's transaction.

    Returns how many rows each source file added; the rest were duplicates.
    """
    if table.num_rows == 0:
        return Counter()
    conn.register("_new_events", _first_occurrences(table))
    try:
        added = conn.execute(
            "INSERT OR IGNORE INTO events BY NAME SELECT * FROM _new_events RETURNING source_file"
        ).fetchall()
    finally:
        conn.unregister("_new_events")
    return Counter(row[0] for row in added)


def load_records(
    conn: duckdb.DuckDBPyConnection, records: list[dict[str, Any]], source_key: str = "test"
) -> int:
    """Insert CloudTrail records given as dicts (as in a log file); returns rows added.

    Records go through the same decoding as log files (bad records and Insight records are
    left out, duplicates of stored eventIDs ignored). No manifest row is written.
    """
    decoded = decode_log(msgspec.json.encode({"Records": records}))
    table = to_table(decoded.records, source_key)
    conn.execute("BEGIN TRANSACTION")
    try:
        added = insert_events(conn, table)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return sum(added.values())
