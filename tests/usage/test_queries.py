"""The named SQL files: one statement each, documented, bound parameters, portable to Trino."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import sqlglot

from rightsizer import sql
from rightsizer.engine import as_engine, prepare
from rightsizer.errors import ConfigError
from rightsizer.store import connect

EXPECTED = {
    "calls",
    "cloudtrail_events",
    "companions",
    "coverage",
    "denied",
    "kms_keys",
    "lambda_sessions",
    "s3_calls",
    "unmapped",
    "usage",
}


def _header(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line)
    return "\n".join(lines)


def test_the_query_folder_holds_the_usage_queries() -> None:
    assert set(sql.query_names()) >= EXPECTED


@pytest.mark.parametrize("name", sql.query_names())
def test_each_query_is_one_documented_statement_that_transpiles_to_trino(name: str) -> None:
    text = sql.load_query(name)
    header = _header(text)
    assert header.startswith(f"-- {name}: "), "header names the query and its purpose"
    assert "Parameters:" in header
    for parameter in sql.parameters(text):
        assert f"${parameter}" in header, f"${parameter} is not documented in the header"
    assert len(sqlglot.parse(text, read="duckdb")) == 1
    trino = sqlglot.transpile(text, read="duckdb", write="trino", comments=False)
    assert len(trino) == 1 and trino[0].startswith(("SELECT", "WITH"))
    # Outside string literals and quoted identifiers (Athena's "$path"), no `$` is left.
    unquoted = re.sub(r"'[^']*'|\"[^\"]*\"", "", trino[0])
    assert "$" not in unquoted, "parameters became Trino placeholders"


@pytest.mark.parametrize("dialect", ["trino", "athena"])
@pytest.mark.parametrize("name", sql.query_names())
def test_each_query_as_prepared_for_trino_parses_as_trino(name: str, dialect: str) -> None:
    """The text an Athena or Trino engine sends (transpiled, rewritten, `?` markers) is one
    statement of that dialect with one value per marker."""
    text = sql.load_query(name)
    params = dict.fromkeys(sql.parameters(text), "x")
    prepared = prepare(name, params, dialect)
    (statement,) = sqlglot.parse(prepared.text, read=dialect)
    assert statement is not None
    markers = list(statement.find_all(sqlglot.exp.Placeholder))
    assert len(markers) == len(prepared.args) >= len(params)


def test_parameters_ignore_comments_json_paths_and_quoted_names() -> None:
    text = (
        "-- $not_this\nSELECT rp ->> '$.key', '$text', r.\"$path\" FROM t"
        " WHERE a >= $start AND b < $end"
    )
    assert sql.parameters(text) == {"start", "end"}


def test_queries_are_found_next_to_the_package_in_a_checkout() -> None:
    package = Path(sql.__file__).resolve().parent
    assert package.parent / "queries" in sql.query_dirs()
    assert sql.queries_dir() in sql.query_dirs()


def test_a_missing_query_folder_says_where_it_looked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sql, "query_dirs", lambda: [tmp_path / "a", tmp_path / "b"])
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path / "a"))):
        sql.load_query("usage")


def test_unknown_or_odd_names_are_refused() -> None:
    with pytest.raises(ValueError, match="no query named"):
        sql.load_query("nothing_here")
    with pytest.raises(ValueError, match="lower_snake_case"):
        sql.load_query("../secrets")


def test_parameters_are_bound_and_missing_ones_named(tmp_path: Path) -> None:
    conn = connect(tmp_path / "t.duckdb")
    params = {"window_start": dt.datetime(2026, 1, 1), "window_end": dt.datetime(2026, 2, 1)}
    assert as_engine(conn).rows("coverage", params) == []
    # Extra parameters are not passed on: DuckDB would refuse them.
    assert as_engine(conn).rows("coverage", {**params, "unused": 1}) == []
    assert as_engine(conn).arrow("coverage", params).column_names == [
        "account",
        "region",
        "read_events",
        "write_events",
    ]
    with pytest.raises(ValueError, match=r"needs parameters \['window_end'\]"):
        as_engine(conn).rows("coverage", {"window_start": params["window_start"]})


def _per_object_aggregates(name: str) -> list[str]:
    """The DISTINCT or ORDER BY aggregates of the query's SELECTs grouped by a resource ARN."""
    found = []
    for select in sqlglot.parse_one(sql.load_query(name), read="duckdb").find_all(
        sqlglot.exp.Select
    ):
        group = select.args.get("group")
        keys = {column.name for column in group.find_all(sqlglot.exp.Column)} if group else set()
        if not keys & {"resource_arn", "resource"}:
            continue
        for aggregate in select.find_all(sqlglot.exp.AggFunc):
            if aggregate.find(sqlglot.exp.Distinct, sqlglot.exp.Order):
                found.append(aggregate.sql("duckdb"))
    return found


@pytest.mark.parametrize("name", sql.query_names())
def test_no_query_grouping_per_object_holds_an_aggregate_duckdb_cannot_spill(name: str) -> None:
    """A DISTINCT or ORDER BY aggregate stays in memory: one per object key ran a store of a
    million distinct keys out of DuckDB's memory limit (bench/analyze.py --distinct-keys)."""
    assert _per_object_aggregates(name) == []


def test_the_spill_check_sees_a_distinct_ordered_aggregate_per_object() -> None:
    text = sql.load_query("usage").replace(
        "list_sort(list_distinct(list(c.function_name)",
        "list_sort(list_distinct(list(DISTINCT c.function_name ORDER BY c.function_name)",
    )
    assert text != sql.load_query("usage")
    tree = sqlglot.parse_one(text, read="duckdb")
    aggregates = [
        a for s in tree.find_all(sqlglot.exp.Select) for a in s.find_all(sqlglot.exp.AggFunc)
    ]
    assert any(a.find(sqlglot.exp.Distinct, sqlglot.exp.Order) for a in aggregates)


@pytest.mark.parametrize("name", sql.query_names())
def test_no_query_gathers_a_list_per_key_into_one_group(name: str) -> None:
    """`flatten(list(per_key_list))` holds every key's list in its group's state, in memory
    DuckDB cannot spill: placement_groups ran out of memory at 10M distinct keys. A group's list
    is built from its distinct values instead."""
    tree = sqlglot.parse_one(sql.load_query(name), read="duckdb")
    gathered = [
        f.sql("duckdb") for f in tree.find_all(sqlglot.exp.Flatten) if f.find(sqlglot.exp.AggFunc)
    ]
    assert gathered == []


def _columns_read(table: str) -> set[str]:
    """The columns of `table` that the other queries (and their CTEs) read, by its alias
    (`*` when one reads them all)."""
    read: set[str] = set()
    for name in sql.query_names():
        if name == table:
            continue
        tree = sqlglot.parse_one(sql.load_query(name), read="duckdb")
        aliases = {t.alias_or_name for t in tree.find_all(sqlglot.exp.Table) if t.name == table}
        for column in tree.find_all(sqlglot.exp.Column):
            if column.table in aliases:
                read.add(column.name)
    return read


@pytest.mark.parametrize("table", ["s3_calls", "role_perms"])
def test_a_staging_table_per_call_or_key_holds_only_columns_a_query_reads(table: str) -> None:
    """Such a table holds a row per call (or per key) for the whole analysis, spilled to disk
    on a big store: a column nobody reads costs time on every row (s3_calls carried nine)."""
    given = sqlglot.parse_one(sql.load_query(table), read="duckdb").named_selects
    read = _columns_read(table)
    assert "*" not in read, "a query reading every column keeps them all: name them"
    assert set(given) - read == set()
