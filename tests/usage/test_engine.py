"""The engine interface: named queries run, bound, streamed and materialized the same way on any
engine, with parameters rewritten per dialect.

A new engine joins the `engine` fixture (one more entry in ENGINES: a function that puts the
records into that engine's `events` and returns an Engine on it); every contract test below
then runs on it too.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
from athena_tables import load_raw, records_document
from trail_logs import log_key, write_log
from usage_events import (
    ACCOUNT,
    FUNCTION,
    ROLE,
    WINDOW,
    kms_event,
    object_resources,
    s3_event,
)

from rightsizer.engine import DuckDBEngine, Engine, columns_table, prepare
from rightsizer.engine import duckdb as duckdb_engine
from rightsizer.engine.base import _transpiled
from rightsizer.errors import ConfigError
from rightsizer.ingest import load_records
from rightsizer.mapping import load_mapping_tables
from rightsizer.store import connect
from rightsizer.usage import compute_usage, stage_s3_calls, window_params

PARAMS = window_params(WINDOW)
MakeEngine = Callable[[Path, list[dict[str, Any]]], Engine]


def _store(path: Path, records: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    conn = connect(path)
    load_records(conn, records)
    return conn


def _duckdb(tmp_path: Path, records: list[dict[str, Any]]) -> Engine:
    return DuckDBEngine(_store(tmp_path / "t.duckdb", records), owned=True)


def _duckdb_over_athena_table(tmp_path: Path, records: list[dict[str, Any]]) -> Engine:
    """The store's events made from the records as Athena's CloudTrail table holds them."""
    conn = connect(tmp_path / "t.duckdb")
    day = "2026/10/10"
    load_raw(
        conn,
        [(f"AWSLogs/{ACCOUNT}/CloudTrail/eu-west-1/{day}/f.json.gz", records_document(records))],
    )
    DuckDBEngine(conn).materialize("cloudtrail_events", {"first_day": day, "last_day": day})
    conn.execute(
        "INSERT INTO events BY NAME SELECT *, hash(event_id) AS event_key FROM cloudtrail_events"
    )
    return DuckDBEngine(conn, owned=True)


def _spark(tmp_path: Path, records: list[dict[str, Any]]) -> Engine:
    """The records in a log file of a local tree, read by Spark in the tests' session."""
    from pyspark.sql import SparkSession

    from rightsizer.engine.spark import read_logs
    from rightsizer.sources import open_source

    tree = tmp_path / "trail"
    write_log(tree, log_key(dt.datetime(2026, 10, 10, 12), region="eu-west-1"), records)
    source = open_source(str(tree))
    listing = source.list_files(WINDOW)
    source.close()
    spark = SparkSession.getActiveSession()
    assert spark is not None, "the spark fixture starts it"
    return read_logs(spark, str(tree), WINDOW, listing)


ENGINES: dict[str, MakeEngine] = {
    "duckdb": _duckdb,
    # Its sessions stage in a scratch database, as on a store of millions of events.
    "duckdb-scratch": _duckdb,
    "duckdb-athena-table": _duckdb_over_athena_table,
    "spark": _spark,
}


@pytest.fixture(params=sorted(ENGINES))
def make_engine(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MakeEngine]:
    made: list[Engine] = []
    if request.param == "spark":
        request.getfixturevalue("spark")  # one local session for the run; skipped without it
    if request.param == "duckdb-scratch":
        monkeypatch.setattr(duckdb_engine, "SCRATCH_FROM", 0)

    def make(records: list[dict[str, Any]]) -> Engine:
        engine = ENGINES[request.param](tmp_path, records)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()


def _put(key: str, when: str = "2026-10-10T12:00:00Z", **kwargs: Any) -> dict[str, Any]:
    return s3_event(
        "PutObject",
        {"bucketName": "photos", "key": key},
        resources=object_resources("photos", key),
        read_only=False,
        when=when,
        **kwargs,
    )


def _records() -> list[dict[str, Any]]:
    return [
        _put("in/a.jpg"),
        _put("in/b.jpg", when="2026-10-31T23:59:59Z"),
        _put("in/early.jpg", when="2026-09-30T23:59:59Z"),  # before the window
        _put("in/late.jpg", when="2026-11-01T00:00:00Z"),  # the window is half-open
        _put("in/denied.jpg", error_code="AccessDenied", error_message="not authorized"),
        kms_event("GenerateDataKey", "arn:aws:s3:::photos/in/a.jpg"),
    ]


# --- the contract, on every engine ----------------------------------------------------------


def test_rows_bind_the_window_parameters(make_engine: MakeEngine) -> None:
    engine = make_engine(_records())
    assert engine.rows("coverage", PARAMS) == [(ACCOUNT, "eu-west-1", 0, 3)]
    # Parameters the query does not use are left out, not refused by the engine.
    assert engine.rows("coverage", {**PARAMS, "unused": 1}) == [(ACCOUNT, "eu-west-1", 0, 3)]
    with pytest.raises(ValueError, match=r"needs parameters \['window_end'\]"):
        engine.rows("coverage", {"window_start": WINDOW.start})


def test_materialize_stages_a_table_the_session_alone_sees(make_engine: MakeEngine) -> None:
    engine = make_engine(_records())
    with engine.session() as session:
        stage_s3_calls(session, WINDOW, [ROLE])
        keys = {row[2] for row in session.rows("usage")}
        assert keys == {"arn:aws:s3:::photos/in/a.jpg", "arn:aws:s3:::photos/in/b.jpg"}
        with pytest.raises(Exception, match=r"queries/usage\.sql"):
            engine.rows("usage")  # staged in the session, not on the engine


def test_batches_stream_a_result_in_bounded_pieces(make_engine: MakeEngine) -> None:
    records = [_put(f"in/{i:04d}.jpg") for i in range(2_500)]
    engine = make_engine(records)
    with engine.session() as session:
        stage_s3_calls(session, WINDOW, [ROLE])
        reader = session.batches("usage", rows_per_batch=1_000)
        sizes = [batch.num_rows for batch in reader]
    assert sum(sizes) == 2_500
    assert len(sizes) >= 3 and max(sizes) <= 1_000
    assert reader.schema.names[:3] == ["role_arn", "action", "resource_arn"]


def test_arrow_returns_the_same_rows_as_rows(make_engine: MakeEngine) -> None:
    engine = make_engine(_records())
    table = engine.arrow("lambda_sessions", PARAMS)
    assert table.column_names[:2] == ["role_arn", "function_name"]
    assert [tuple(row.values()) for row in table.to_pylist()] == engine.rows(
        "lambda_sessions", PARAMS
    )
    assert table.column("function_name").to_pylist() == [FUNCTION]


def test_load_table_feeds_the_queries_and_replaces_what_was_there(make_engine: MakeEngine) -> None:
    engine = make_engine(_records())
    other = f"arn:aws:iam::{ACCOUNT}:role/it's-a-role"  # a quote travels as a value
    scope = {**PARAMS, "all_principals": False}
    with engine.session() as session:
        load_mapping_tables(session)
        session.load_table("scope_roles", columns_table({"role_arn": [other, ROLE]}))
        session.materialize("s3_calls", scope)
        assert {row[0] for row in session.rows("usage")} == {ROLE}
        session.load_table("scope_roles", columns_table({"role_arn": [other]}))
        session.materialize("s3_calls", scope)
        assert session.rows("usage") == []
    with pytest.raises(ValueError, match="lower_snake_case"):
        engine.load_table("scope_roles; DROP TABLE events", columns_table({"a": []}))


def test_a_failing_query_names_its_file(make_engine: MakeEngine) -> None:
    engine = make_engine(_records())
    # s3_calls is not staged: the query cannot run.
    with pytest.raises(Exception, match=r"^queries/usage\.sql: ") as raised:
        engine.rows("usage")
    with pytest.raises(Exception, match=r"^queries/calls\.sql: "):
        engine.batches("calls")
    with pytest.raises(Exception, match=r"^queries/kms_keys\.sql: "):
        engine.materialize("kms_keys", PARAMS)
    assert type(raised.value) is type(raised.value.__cause__), "the engine's error type is kept"


def test_times_come_back_in_utc_without_a_zone_as_duckdb_gives_them(
    make_engine: MakeEngine,
) -> None:
    # Spark types date_trunc('hour', ...) with the session's zone; Python cannot compare a
    # zoned time with the window's naive ones (the denied-burst check did, and failed).
    engine = make_engine(_records())
    engine.load_table("scope_roles", columns_table({"role_arn": [ROLE]}))
    engine.load_table("auth_error_codes", columns_table({"error_code": ["AccessDenied"]}))
    rows = engine.rows("watch_denied_hours", {"window_end": WINDOW.end})
    assert rows, "the records hold a denied call"
    times = [value for row in rows for value in row if isinstance(value, dt.datetime)]
    assert len(times) == 3 * len(rows)  # hour, first_seen, last_seen
    assert all(t.tzinfo is None and WINDOW.start <= t < WINDOW.end for t in times)


def test_compute_usage_takes_an_engine_or_a_connection(make_engine: MakeEngine) -> None:
    engine = make_engine(_records())
    through_engine = compute_usage(engine, WINDOW, lambda_roles={ROLE: [FUNCTION]})
    assert [p.resource for p in through_engine.roles[ROLE].used] == [
        "arn:aws:s3:::photos/in/a.jpg",
        "arn:aws:s3:::photos/in/b.jpg",
    ]
    if isinstance(engine, DuckDBEngine):
        through_conn = compute_usage(engine.conn, WINDOW, lambda_roles={ROLE: [FUNCTION]})
        assert through_conn == through_engine


# --- parameters per dialect -----------------------------------------------------------------


def test_duckdb_keeps_the_file_and_binds_by_name() -> None:
    prepared = prepare("coverage", {**PARAMS, "unused": 1}, "duckdb")
    assert "$window_start" in prepared.text and "$window_end" in prepared.text
    assert prepared.args == PARAMS


def test_spark_binds_by_name_with_colon_markers() -> None:
    prepared = prepare("lambda_sessions", PARAMS, "spark")
    assert ":window_start" in prepared.text and "$" not in prepared.text.replace("'$", "")
    assert prepared.args == PARAMS
    assert len(sqlglot.parse(prepared.text, read="spark")) == 1


def test_trino_binds_by_position_in_the_order_the_markers_appear() -> None:
    params = {**PARAMS, "all_principals": True}
    prepared = prepare("s3_calls", params, "trino")
    assert ":window" not in prepared.text and "$window" not in prepared.text
    # Five markers: the window twice (the calls, and the sessions that made them) and the flag.
    assert prepared.args == [WINDOW.start, WINDOW.end, WINDOW.start, WINDOW.end, True]
    assert len(sqlglot.parse(prepared.text, read="trino")) == 1


def test_trino_text_keeps_duckdb_meaning_of_subscripts_unnest_and_hints() -> None:
    """What Trino reads differently is rewritten: a subscript past the end (NULL in DuckDB, an
    error in Trino), UNNEST of a list of structs (one column in DuckDB, one per field in Trino)
    and the MATERIALIZED hint (not Trino SQL)."""
    staging = prepare("s3_calls", {**PARAMS, "all_principals": True}, "athena").text
    assert "MATERIALIZED" not in staging
    assert "ELEMENT_AT(FILTER(e.resources" in staging
    assert not re.search(r"\)\[\d+\]", staging), "a list subscript is left"
    usage = prepare("usage", {}, "athena").text
    wrapped = "UNNEST(TRANSFORM(c.needs, rightsizer_element -> ROW(rightsizer_element))) AS u(need)"
    assert wrapped in usage
    assert len(sqlglot.parse(usage, read="athena")) == 1


def test_trino_statements_return_the_native_rows_with_positional_values(
    tmp_path: Path,
) -> None:
    """The Trino text, read back into DuckDB and run with its `?` values, agrees with the file:
    each value went to the marker that stood where its parameter stood."""
    conn = _store(tmp_path / "t.duckdb", _records())
    engine = DuckDBEngine(conn)
    stage_s3_calls(engine, WINDOW, [ROLE])
    native = {name: engine.rows(name) for name in ("calls", "denied")}
    # The window keeps two puts and the denied one; the early and the late put fall outside.
    assert (len(native["calls"]), len(native["denied"])) == (2, 1)
    for name in ("coverage", "lambda_sessions", "kms_keys"):
        prepared = prepare(name, PARAMS, "trino")
        back = sqlglot.transpile(prepared.text, read="trino", write="duckdb")[0]
        rows = conn.execute(back, prepared.args).fetchall()
        assert rows and rows == engine.rows(name, PARAMS), name
    prepared = prepare("s3_calls", {**PARAMS, "all_principals": False}, "trino")
    back = sqlglot.transpile(prepared.text, read="trino", write="duckdb")[0]
    conn.execute(f"CREATE OR REPLACE TEMP TABLE s3_calls AS {back}", prepared.args)
    assert {name: engine.rows(name) for name in native} == native
    conn.close()


@pytest.mark.parametrize("dialect", ["spark", "trino"])
def test_list_slice_and_list_extract_become_functions_the_dialect_has(dialect: str) -> None:
    text, _ = _transpiled("SELECT list_slice(a, 2, n), list_extract(a, n + 1) FROM t", dialect)
    assert "LIST_" not in text.upper()
    assert "SLICE(a, 2, (n) - (2) + 1)" in text
    assert "ELEMENT_AT(a, n + 1)" in text


def test_an_unknown_dialect_is_refused() -> None:
    with pytest.raises(ConfigError, match="'oracle' has no parameter style"):
        prepare("coverage", PARAMS, "oracle")


def test_other_dialects_without_sqlglot_say_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sqlglot", None)  # as if it were not installed
    _transpiled.cache_clear()  # another test in this process may have transpiled log_days
    assert prepare("coverage", PARAMS, "duckdb").args == PARAMS  # DuckDB does not need it
    with pytest.raises(ConfigError, match="needs sqlglot; `pip install sqlglot`"):
        prepare("log_days", PARAMS, "athena")


def test_the_engine_keeps_a_connection_it_was_given_open(tmp_path: Path) -> None:
    conn = connect(tmp_path / "t.duckdb")
    with DuckDBEngine(conn) as engine, engine.session() as session:
        session.load_table("scope_roles", columns_table({"role_arn": [ROLE]}))
    assert conn.execute("SELECT 1").fetchall() == [(1,)]
    with pytest.raises(duckdb.ConnectionException):
        session.rows("coverage", PARAMS)  # a session's cursor is closed with it
    # Nothing a session loaded is left on the connection.
    with pytest.raises(duckdb.CatalogException):
        conn.execute("SELECT * FROM scope_roles")
    conn.close()


def _staged_in(session: Engine, table: str) -> str:
    assert isinstance(session, DuckDBEngine)
    [(database,)] = session.conn.execute(
        "SELECT database_name FROM duckdb_tables() WHERE table_name = ?", [table]
    ).fetchall()
    return str(database)


def _scratch_folders(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{duckdb_engine.SCRATCH_PREFIX}*"))


def test_a_big_store_stages_in_a_scratch_database_beside_it_that_goes_with_the_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    _store(store_dir / "t.duckdb", _records()).close()
    monkeypatch.setattr(duckdb_engine, "SCRATCH_FROM", len(_records()) - 1)
    conn = connect(store_dir / "t.duckdb", read_only=True)  # as `analyze` opens it
    with DuckDBEngine(conn).session() as session:
        stage_s3_calls(session, WINDOW, [ROLE])
        session.materialize("role_perms")
        [scratch] = _scratch_folders(store_dir)  # beside the store, where DuckDB spills
        assert (scratch / "stage.duckdb").is_file()
        assert _staged_in(session, "role_perms").startswith("stage_")
        assert _staged_in(session, "scope_roles") == "temp"  # loaded tables stay temp tables
        keys = {row[2] for row in session.rows("usage")}
        assert keys == {"arn:aws:s3:::photos/in/a.jpg", "arn:aws:s3:::photos/in/b.jpg"}
    assert _scratch_folders(store_dir) == []
    databases = conn.execute("SELECT database_name FROM duckdb_databases()").fetchall()
    assert sorted(databases) == [("system",), ("t",), ("temp",)]
    conn.close()


def test_a_store_below_the_threshold_stages_in_temp_tables(tmp_path: Path) -> None:
    conn = _store(tmp_path / "t.duckdb", _records())
    with DuckDBEngine(conn).session() as session:
        stage_s3_calls(session, WINDOW, [ROLE])
        assert _staged_in(session, "s3_calls") == "temp"
    assert _scratch_folders(tmp_path) == []
    conn.close()


def test_without_a_folder_to_write_the_session_stages_in_temp_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = _store(tmp_path / "t.duckdb", _records())
    monkeypatch.setattr(duckdb_engine, "SCRATCH_FROM", 0)

    def refused(**_: Any) -> str:
        raise PermissionError(13, "Permission denied")  # a store on a read-only share

    monkeypatch.setattr(duckdb_engine.tempfile, "mkdtemp", refused)
    with DuckDBEngine(conn).session() as session:
        stage_s3_calls(session, WINDOW, [ROLE])
        assert _staged_in(session, "s3_calls") == "temp"
        assert len(session.rows("usage")) == 2
    conn.close()


def _left_scratch(parent: Path, name: str, *, database: bytes | None = None) -> Path:
    """A scratch folder as a run leaves it, untouched for two hours and held by nobody: its
    database written, else `database` in its place (b"": no database yet)."""
    folder = parent / f"{duckdb_engine.SCRATCH_PREFIX}{name}"
    folder.mkdir()
    if database is None:
        left = duckdb.connect(str(folder / "stage.duckdb"))
        left.execute("CREATE TABLE s3_calls AS SELECT 1 AS event_id")
        left.close()
    elif database:
        (folder / "stage.duckdb").write_bytes(database)
    _untouched_for_two_hours(folder)
    return folder


def _untouched_for_two_hours(folder: Path) -> None:
    hours_ago = time.time() - 2 * 3600
    os.utime(folder, (hours_ago, hours_ago))


def test_a_session_removes_the_scratch_folders_killed_runs_left_and_no_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = _store(tmp_path / "t.duckdb", _records())
    monkeypatch.setattr(duckdb_engine, "SCRATCH_FROM", 0)
    killed = _left_scratch(tmp_path, "killed")
    torn = _left_scratch(tmp_path, "torn", database=b"DUCK" * 1000)  # killed mid-write
    empty = _left_scratch(tmp_path, "empty", database=b"")  # killed before its database
    held = _left_scratch(tmp_path, "held")  # a run still going has it open
    being_made = tmp_path / f"{duckdb_engine.SCRATCH_PREFIX}new"  # by a run starting now
    being_made.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(held / "stage.duckdb")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        others = {killed, torn, empty, held, being_made}
        with DuckDBEngine(conn).session() as first:
            [mine] = set(_scratch_folders(tmp_path)) - others
            _untouched_for_two_hours(mine)
            with DuckDBEngine(conn).session() as second:  # this process's own is left too
                stage_s3_calls(second, WINDOW, [ROLE])
                left = set(_scratch_folders(tmp_path))
            stage_s3_calls(first, WINDOW, [ROLE])
            assert len(first.rows("usage")) == 2
    finally:
        holder.kill()
        holder.wait()
    assert left & {killed, torn, empty} == set()
    assert {held, being_made, mine} <= left
    conn.close()


# Opens a database (taking its file lock), says so, and keeps it open until killed.
HOLD = (
    "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
    "print('holding', flush=True); time.sleep(60)"
)
