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
