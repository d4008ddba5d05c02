"""The rewrites Spark SQL needs beyond sqlglot's transpiling (rightsizer.engine.spark_sql).

Their meaning on Spark is tested by the engine contract (test_engine.py) and the demo's
analysis (tests/cli/test_spark_cli.py); these check the text, without a JVM.
"""

from __future__ import annotations

import pytest
import sqlglot

from rightsizer.engine import prepare
from rightsizer.engine.spark_sql import rewrite
from rightsizer.sql import query_names

PARAMS = {
    "window_start": 1,
    "window_end": 2,
    "all_principals": True,
    "first_day": "a",
    "granularity": "prefix",
    "role_arn": "r",
    "kind": "used",
}


def _spark(sql: str) -> str:
    return rewrite(sqlglot.parse_one(sql, read="duckdb")).sql("spark")


@pytest.mark.parametrize("name", query_names())
def test_every_query_is_one_spark_statement_without_duckdb_only_syntax(name: str) -> None:
    params = {**PARAMS, "last_day": "b", "recent_start": 1, "change_start": 1, "every_source": True}
    text = prepare(name, params, "spark").text
    assert len(sqlglot.parse(text, read="spark")) == 1
    for duckdb_only in ("MATERIALIZED", "ROW(", "TRY_STRPTIME", " URL_DECODE("):
        assert duckdb_only not in text.upper(), (name, duckdb_only)


def test_an_ordered_list_is_sorted_after_collecting() -> None:
    assert _spark("SELECT list(DISTINCT x ORDER BY x) FILTER (WHERE x > 1) FROM t") == (
        "SELECT SORT_ARRAY(COLLECT_SET(x) FILTER(WHERE x > 1)) FROM t"
    )
    assert _spark("SELECT list(ROW(a, b) ORDER BY a, b) FROM t") == (
        "SELECT SORT_ARRAY(COLLECT_LIST(STRUCT(a, b))) FROM t"
    )


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT list(x ORDER BY y) FROM t",  # by another column
        "SELECT list(ROW(a, b) ORDER BY b, a) FROM t",  # not the fields' order
        "SELECT list(x ORDER BY x DESC) FROM t",
    ],
)
def test_an_order_that_sorting_the_values_would_not_give_is_refused(sql: str) -> None:
    with pytest.raises(ValueError, match="ordered by its value"):
        _spark(sql)


def test_a_left_join_on_unnest_keeps_the_rows_with_an_empty_list() -> None:
    assert _spark("SELECT u.x FROM c LEFT JOIN unnest(c.l) AS u(x) ON TRUE") == (
        "SELECT u.x FROM c LATERAL VIEW OUTER EXPLODE(c.l) u AS x"
    )
