"""The DuckDB store: connection, versioned schema, and the single-writer rule.

DuckDB takes an exclusive file lock for a read-write connection, so two writers can never
share a database file. A second run waits a little for the lock and then says plainly that
another run holds it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import duckdb

from rightsizer.config import MEMORY_LIMIT
from rightsizer.errors import StoreError

SCHEMA_VERSION = 5

# The `events` columns are part of the ingest contract: rightsizer.records builds Arrow tables
# with these names and types (EVENT_SCHEMA), inserted by name; ingest adds `event_key` (v4).
_SCHEMA_V1 = """
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);

CREATE TABLE events (
    event_id            VARCHAR NOT NULL PRIMARY KEY,
    event_time          TIMESTAMP,
    event_version       VARCHAR,
    event_source        VARCHAR,
    event_name          VARCHAR,
    event_type          VARCHAR,
    event_category      VARCHAR,
    management_event    BOOLEAN,
    read_only           BOOLEAN,
    aws_region          VARCHAR,
    recipient_account   VARCHAR,
    principal_type      VARCHAR,
    principal_arn       VARCHAR,
    principal_account   VARCHAR,
    role_arn            VARCHAR,
    session_name        VARCHAR,
    invoked_by          VARCHAR,
    user_agent          VARCHAR,
    source_ip           VARCHAR,
    error_code          VARCHAR,
    error_message       VARCHAR,
    shared_event_id     VARCHAR,
    request_parameters  JSON,
    resources           STRUCT(arn VARCHAR, arn_prefix VARCHAR, account_id VARCHAR, type VARCHAR)[],
    source_file         VARCHAR
);

CREATE TABLE files (
    source_key     VARCHAR NOT NULL PRIMARY KEY,
    size_bytes     BIGINT,
    account        VARCHAR,
    region         VARCHAR,
    delivered_at   TIMESTAMP,
    records        INTEGER,
    events_added   INTEGER,
    duplicates     INTEGER,
    bad_records    INTEGER,
    ingested_at    TIMESTAMP
);

CREATE TABLE skipped_files (
    source_key   VARCHAR NOT NULL PRIMARY KEY,
    size_bytes   BIGINT,
    reason       VARCHAR NOT NULL,
    skipped_at   TIMESTAMP
);

CREATE TABLE ingest_runs (
    run_id        VARCHAR NOT NULL PRIMARY KEY,
    source        VARCHAR,
    window_start  TIMESTAMP,
    window_end    TIMESTAMP,
    started_at    TIMESTAMP,
    finished_at   TIMESTAMP,
    summary       JSON
);
"""

# DuckDB's hash() is not promised to stay the same across versions; the hash of this text is
# kept in `meta` (written by the migration to version 4), and when it changes every event_key
# is computed again (see `_rekey`).
EVENT_KEY_SINCE = 4
EVENT_KEY_PROBE = "rightsizer event key"
EVENT_KEY_PROBE_KEY = "event_key_probe"

# Each entry migrates a database from version (index + 1) to (index + 2).
MIGRATIONS: list[str] = [
    # 1 -> 2: figures of each report, for the "change since the previous report" section.
    """
    CREATE TABLE report_runs (
        report_id     VARCHAR NOT NULL PRIMARY KEY,
        created_at    TIMESTAMP,
        window_start  TIMESTAMP,
        window_end    TIMESTAMP,
        figures       JSON
    );
    """,
    # 2 -> 3: events without a primary-key index. Ingest dedupes event ids with an anti-join;
    # the index cost time on every insert and memory in proportion to the whole store.
    """
    CREATE TABLE events_v3 AS SELECT * FROM events LIMIT 0;
    ALTER TABLE events_v3 ALTER COLUMN event_id SET NOT NULL;
    INSERT INTO events_v3 SELECT * FROM events;
    DROP TABLE events;
    ALTER TABLE events_v3 RENAME TO events;
    """,
    # 3 -> 4: events.event_key, a hash of event_id: ingest finds stored duplicates by scanning
    # this one integer column rather than every stored event id (10x faster at 10M events).
    # A new table rather than ALTER + UPDATE: an update of every row is held in memory.
    """
    CREATE TABLE events_v4 AS SELECT *, hash(event_id) AS event_key FROM events;
    ALTER TABLE events_v4 ALTER COLUMN event_id SET NOT NULL;
    DROP TABLE events;
    ALTER TABLE events_v4 RENAME TO events;
    INSERT INTO meta VALUES ('event_key_probe', hash('rightsizer event key')::VARCHAR);
    """,
    # 4 -> 5: skipped_files.content_id, what the listing said of the file's content when it was
    # skipped (the S3 ETag, a local file's modification time): a file replaced by another of
    # the same size is read again. Rows from before have none, and their files are read again.
    """
    ALTER TABLE skipped_files ADD COLUMN content_id VARCHAR;
    """,
]

LOCK_WAIT_SECONDS = 5.0
# No vacuum at checkpoints. Vacuum merges small row groups into full ones by decompressing and
# recompressing them: after a bulk ingest that doubled the CPU cost of every row. rightsizer
# never deletes events, so all it would reclaim is the space of a few small row groups.
_ENGINE_CONFIG = {"max_vacuum_tasks": 0}


def is_lock_error(exc: duckdb.Error) -> bool:
    return "lock" in str(exc).lower()


def connect(
    path: str | Path,
    *,
    read_only: bool = False,
    memory_limit: str = MEMORY_LIMIT,
    wait_seconds: float = LOCK_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> duckdb.DuckDBPyConnection:
    """Open the store, creating and migrating it when writable.

    Raises StoreError when another run holds the database for longer than `wait_seconds`,
    or when the file is not a rightsizer database.
    """
    db_path = Path(path)
    if read_only and not db_path.exists():
        raise StoreError(f"database {db_path} does not exist; run `rightsizer ingest` first")
    if not read_only and not db_path.parent.exists():
        raise StoreError(f"folder {db_path.parent} for the database does not exist; create it")
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            conn = duckdb.connect(
                str(db_path),
                read_only=read_only,
                config={"memory_limit": memory_limit, **_ENGINE_CONFIG},
            )
            break
        except duckdb.IOException as exc:
            if not is_lock_error(exc):
                raise StoreError(
                    f"{db_path} is not a readable DuckDB database ({exc}); "
                    "point --db at a rightsizer database or a new file"
                ) from exc
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"database {db_path} is in use by another rightsizer run; "
                    "wait for it to finish or use another --db"
                ) from exc
            sleep(0.2)
        except duckdb.Error as exc:
            raise StoreError(
                f"{db_path} is not a readable DuckDB database ({exc}); "
                "point --db at a rightsizer database or a new file"
            ) from exc
    _quiet(conn)
    if not read_only:
        migrate(conn)
    check_version(conn, db_path)
    return conn


def cursor(conn: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor (another connection to the same database) with the store's session settings."""
    return _quiet(conn.cursor())


def _quiet(conn: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """No progress bar: DuckDB draws it on stdout, into the JSON a command prints there, when a
    query (a migration, a big window's staging) runs for over two seconds."""
    # In Jupyter without ipywidgets DuckDB refuses to touch the setting (and draws no bar).
    with suppress(duckdb.InvalidInputException):
        conn.execute("SET enable_progress_bar = false")
    return conn


def schema_version(conn: duckdb.DuckDBPyConnection) -> int:
    """The schema version of an open database; 0 for an empty one."""
    # fetchall, not fetchone: an unfinished result keeps the connection busy for conn.sql().
    ((tables,),) = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
    ).fetchall()
    if not tables:
        return 0
    rows = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    return int(rows[0][0]) if rows else 0


def migrate(conn: duckdb.DuckDBPyConnection) -> None:
    """Bring the schema to SCHEMA_VERSION, one transaction per step."""
    version = schema_version(conn)
    if version == 0:
        conn.execute("BEGIN")
        conn.execute(_SCHEMA_V1)
        conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        conn.execute("COMMIT")
        version = 1
    while version < SCHEMA_VERSION:
        conn.execute("BEGIN")
        conn.execute(MIGRATIONS[version - 1])
        version += 1
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(version)])
        conn.execute("COMMIT")
    if version >= EVENT_KEY_SINCE:
        _rekey(conn)


def _rekey(conn: duckdb.DuckDBPyConnection) -> None:
    """Compute every events.event_key again if this DuckDB hashes differently from the last."""
    ((current,),) = conn.execute("SELECT hash(?)::VARCHAR", [EVENT_KEY_PROBE]).fetchall()
    rows = conn.execute("SELECT value FROM meta WHERE key = ?", [EVENT_KEY_PROBE_KEY]).fetchall()
    if rows == [(current,)]:
        return
    conn.execute("BEGIN")
    conn.execute(
        "CREATE TABLE events_rekeyed AS SELECT * REPLACE (hash(event_id) AS event_key) FROM events"
    )
    conn.execute("ALTER TABLE events_rekeyed ALTER COLUMN event_id SET NOT NULL")
    conn.execute("DROP TABLE events")
    conn.execute("ALTER TABLE events_rekeyed RENAME TO events")
    conn.execute("DELETE FROM meta WHERE key = ?", [EVENT_KEY_PROBE_KEY])
    conn.execute("INSERT INTO meta VALUES (?, ?)", [EVENT_KEY_PROBE_KEY, current])
    conn.execute("COMMIT")


def check_version(conn: duckdb.DuckDBPyConnection, db_path: Path) -> None:
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"database {db_path} has schema version {version}, newer than this rightsizer "
            f"understands ({SCHEMA_VERSION}); upgrade rightsizer"
        )
    if version == 0:
        raise StoreError(f"database {db_path} holds no rightsizer data; run `rightsizer ingest`")
