"""Values across Athena's SQL text: tables of values and parameters written in, results
read back typed.

Athena takes a statement's values as SQL literal text (ExecutionParameters), and gives every
result value back as text (GetQueryResults), a list or struct as Trino writes it. So a table
of values goes into the statement as VALUES of typed literals, a parameter becomes a literal,
and a nested result column is asked for as JSON, then read back with the Arrow type the same
query has on DuckDB.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import pyarrow as pa


def values_table(name: str, table: pa.Table, alias: str) -> Any:
    """`(VALUES (...), ...) AS alias(columns)`: the table's rows written into the statement."""
    from sqlglot import exp

    named = exp.to_identifier(alias or name)
    kinds = [athena_type(f.type) for f in table.schema]
    rows = [
        exp.Tuple(
            expressions=[_value(row[f.name], k) for f, k in zip(table.schema, kinds, strict=True)]
        )
        for row in table.to_pylist()
    ]
    if not rows:  # VALUES needs a row: a SELECT of typed NULLs that keeps none
        empty = exp.select(
            *[exp.alias_(_value(None, k), f.name) for f, k in zip(table.schema, kinds, strict=True)]
        ).where("FALSE")
        return exp.Subquery(this=empty, alias=exp.TableAlias(this=named))
    columns = [exp.to_identifier(c) for c in table.column_names]
    return exp.Values(expressions=rows, alias=exp.TableAlias(this=named, columns=columns))


def _value(value: Any, kind: str) -> Any:
    from sqlglot import exp

    literal = exp.null() if value is None else exp.Literal.string(str(value))
    return exp.cast(literal, exp.DataType.build(kind, dialect="athena"))


def athena_type(kind: pa.DataType) -> str:
    """The Athena type of an Arrow column of a table of values."""
    if pa.types.is_timestamp(kind):
        return "TIMESTAMP"
    if pa.types.is_date(kind):
        return "DATE"
    return text_leaves(kind)


def literal(value: Any) -> str:
    """A parameter value as Athena's ExecutionParameters take it: SQL literal text."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value:%Y-%m-%d %H:%M:%S.%f}'"
    if isinstance(value, dt.date):
        return f"DATE '{value:%Y-%m-%d}'"
    text = str(value).replace("'", "''")
    return f"'{text}'"


def nested(kind: pa.DataType) -> bool:
    """True for a list, struct or map: a column Athena gives back as JSON text."""
    return pa.types.is_list(kind) or pa.types.is_struct(kind) or pa.types.is_map(kind)


def text_leaves(kind: pa.DataType) -> str:
    """The Athena type of a nested column with its times as text (JSON has no time type)."""
    if pa.types.is_list(kind):
        return f"ARRAY({text_leaves(kind.value_type)})"
    if pa.types.is_struct(kind):
        fields = ", ".join(f"{f.name} {text_leaves(f.type)}" for f in kind)
        return f"ROW({fields})"
    if pa.types.is_boolean(kind):
        return "BOOLEAN"
    if pa.types.is_integer(kind):
        return "BIGINT"
    if pa.types.is_floating(kind):
        return "DOUBLE"
    return "VARCHAR"


def cells(row: Mapping[str, Any]) -> list[str | None]:
    """The texts of one GetQueryResults row; None for NULL."""
    return [cell.get("VarCharValue") for cell in row["Data"]]


def converter(kind: pa.DataType) -> Callable[[str | None], Any]:
    """Text from GetQueryResults to the Python value of an Arrow type."""
    if nested(kind):
        inner = _from_json(kind)
        return lambda text: None if text is None else inner(json.loads(text))
    scalar = _scalar(kind)
    return lambda text: None if text is None else scalar(text)


def _scalar(kind: pa.DataType) -> Callable[[Any], Any]:
    if pa.types.is_boolean(kind):
        return lambda v: v if isinstance(v, bool) else str(v).lower() == "true"
    if pa.types.is_integer(kind):
        return int
    if pa.types.is_floating(kind):
        return float
    if pa.types.is_decimal(kind):
        return lambda v: Decimal(str(v))
    if pa.types.is_timestamp(kind):
        return lambda v: dt.datetime.fromisoformat(str(v))
    if pa.types.is_date(kind):
        return lambda v: dt.date.fromisoformat(str(v)[:10])
    return str


def _from_json(kind: pa.DataType) -> Callable[[Any], Any]:
    """A decoded JSON value to the Python value of a (nested) Arrow type."""
    if pa.types.is_list(kind):
        item = _from_json(kind.value_type)
        return lambda v: None if v is None else [item(x) for x in v]
    if pa.types.is_struct(kind):
        names = [f.name for f in kind]
        parts = [_from_json(f.type) for f in kind]

        def struct(v: Any) -> Any:
            if v is None:
                return None
            # Athena writes a ROW as a JSON array of its fields, or as an object by name.
            values = [v.get(n) for n in names] if isinstance(v, dict) else v
            return {n: f(x) for n, f, x in zip(names, parts, values, strict=True)}

        return struct
    scalar = _scalar(kind)
    return lambda v: None if v is None else scalar(v)
