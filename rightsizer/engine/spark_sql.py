"""What the query files need beyond sqlglot's DuckDB → Spark SQL transpiling.

sqlglot writes most of DuckDB's dialect as Spark SQL, but a few constructs come out wrong or
not at all; each rewrite below turns one of them into Spark SQL with the same result:

- `list(x ORDER BY ...)`, `list(DISTINCT x ORDER BY x)`: Spark's collect_list and collect_set
  keep no order, so the list is sorted after collecting. That is the same order only when the
  ORDER BY keys are the value itself (or the fields of a ROW value, in order): any other
  ordered list is refused here rather than silently reordered.
- `LEFT JOIN unnest(list) AS u(x) ON TRUE` keeps the rows whose list is empty: an OUTER
  lateral view (sqlglot writes an inner one).
- `ROW(a, b)` is `STRUCT(a, b)`; a CTE `AS MATERIALIZED` is a plain one (Spark has no hint);
  `url_decode` is `try_url_decode` (Spark fails the whole query on one malformed escape).

The queries' values never hold NULL where these rewrites collect (the files filter them out),
so Spark's collect functions skipping NULLs changes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp


def rewrite(tree: exp.Expression) -> exp.Expression:
    """`tree` (a query parsed as DuckDB) with the rewrites Spark SQL needs, in place."""
    for cte in tree.find_all(exp.CTE):
        cte.set("materialized", None)
    for node in list(tree.find_all(exp.ArrayAgg)):
        _sorted_collect(node)
    for join in list(tree.find_all(exp.Join)):
        _outer_lateral(join)
    return tree.transform(_function, copy=False)


def _function(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous) and node.name.lower() == "row":
        return exp.Struct(expressions=node.expressions)
    if isinstance(node, exp.Anonymous) and node.name.lower() == "url_decode":
        return exp.Anonymous(this="TRY_URL_DECODE", expressions=node.expressions)
    if type(node).__name__ == "URLDecode":  # sqlglot versions that know the function
        return exp.Anonymous(this="TRY_URL_DECODE", expressions=[node.this])
    return node


def _sorted_collect(node: exp.ArrayAgg) -> None:
    """`list(v ORDER BY keys)` → `SORT_ARRAY(COLLECT_LIST(v))` (COLLECT_SET with DISTINCT)."""
    order = node.this
    if not isinstance(order, exp.Order):
        return
    value = order.this
    distinct = isinstance(value, exp.Distinct)
    if distinct:
        (value,) = value.expressions
    keys = [ordered.this for ordered in order.expressions]
    if any(ordered.args.get("desc") for ordered in order.expressions) or not _sorts_by(value, keys):
        raise ValueError(
            f"cannot write `{node.sql('duckdb')}` for Spark: an ordered list() must be "
            "ordered by its value (or its ROW's fields, in order)"
        )
    collect = exp.Anonymous(
        this="COLLECT_SET" if distinct else "COLLECT_LIST", expressions=[value.copy()]
    )
    # A FILTER clause belongs to the aggregate, inside the sort.
    parent = node.parent
    if isinstance(parent, exp.Filter):
        node.replace(collect)
        parent.replace(exp.Anonymous(this="SORT_ARRAY", expressions=[parent.copy()]))
    else:
        node.replace(exp.Anonymous(this="SORT_ARRAY", expressions=[collect]))


def _sorts_by(value: exp.Expression, keys: list[exp.Expression]) -> bool:
    """Whether sorting the values themselves gives the order of `keys`."""
    fields: list[Any] = [value]
    inner = value.this if isinstance(value, exp.Cast) else value
    if isinstance(inner, exp.Anonymous) and inner.name.lower() == "row":
        fields = list(inner.expressions)
    return [f.sql("duckdb") for f in fields] == [k.sql("duckdb") for k in keys]


def _outer_lateral(join: exp.Join) -> None:
    """`LEFT JOIN unnest(list) AS u(x) ON TRUE` → `LATERAL VIEW OUTER EXPLODE(list) u AS x`."""
    unnest = join.this
    if not (isinstance(unnest, exp.Unnest) and join.side == "LEFT"):
        return
    select = join.parent
    (items,) = unnest.expressions
    alias = unnest.args.get("alias")
    lateral = exp.Lateral(
        this=exp.Explode(this=items.copy()),
        view=True,
        outer=True,
        alias=alias.copy() if alias is not None else None,
    )
    join.pop()
    if isinstance(select, exp.Select):
        select.append("laterals", lateral)
