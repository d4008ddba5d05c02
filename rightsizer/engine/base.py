"""The engine interface: run the named queries of `queries/` on some SQL engine.

An `Engine` knows five things: load a table of values, materialize a query into a table, run a
query to rows or to an Arrow table, and stream a query's rows as Arrow record batches. Queries
are named by their file (`queries/NAME.sql`) and take named parameters (`$window_start`), always
bound, never formatted into the text. The files are written in DuckDB's dialect; an engine with
another dialect gets them transpiled by sqlglot (imported only then) with the parameters
rewritten to that engine's markers (`prepare`). A query that fails names its file.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType
from typing import Any, ClassVar, Literal

import pyarrow as pa

from rightsizer.errors import ConfigError
from rightsizer.sql import bind, load_query

ParamStyle = Literal["named", "positional"]

# How each dialect (sqlglot's names) takes parameters: by name (`$name` in DuckDB, `:name` in
# Spark SQL) or by position (`?` in Trino and Athena, values in order of appearance).
PARAM_STYLES: dict[str, ParamStyle] = {
    "duckdb": "named",
    "spark": "named",
    "databricks": "named",
    "trino": "positional",
    "athena": "positional",
    "presto": "positional",
}
ROWS_PER_BATCH = 100_000
_IDENTIFIER_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# A name no query uses; each placeholder carries it while sqlglot writes the target dialect.
_MARK = "rightsizer_param_"


@dataclass(frozen=True, slots=True)
class Prepared:
    """A query file in an engine's dialect with its parameter values in that engine's form."""

    name: str
    text: str
    args: dict[str, Any] | list[Any]


def identifier(name: str) -> str:
    """`name` if it is a plain lower_snake_case identifier (safe to put into DDL), else raise."""
    if not _IDENTIFIER_RE.match(name):
        raise ValueError(f"table name {name!r} must be lower_snake_case")
    return name


def prepare(name: str, params: Mapping[str, Any], dialect: str) -> Prepared:
    """queries/NAME.sql in `dialect` (sqlglot's name) with `params` bound the dialect's way."""
    text = load_query(name)
    values = bind(name, text, params)
    if dialect == "duckdb":
        return Prepared(name, text, values)
    target, order = _transpiled(text, dialect)
    if PARAM_STYLES[dialect] == "named":
        return Prepared(name, target, values)
    return Prepared(name, target, [values[key] for key in order])


@lru_cache(maxsize=64)
def _transpiled(text: str, dialect: str) -> tuple[str, tuple[str, ...]]:
    """The statement in `dialect`, and for positional dialects the parameter of each `?`."""
    if dialect not in PARAM_STYLES:
        raise ConfigError(
            f"SQL dialect {dialect!r} has no parameter style; one of {sorted(PARAM_STYLES)}"
        )
    try:
        import sqlglot  # only engines other than DuckDB need it
        from sqlglot import exp
    except ImportError:
        raise ConfigError(
            f"running the queries in {dialect} needs sqlglot; `pip install sqlglot`"
        ) from None
    tree = sqlglot.parse_one(text, read="duckdb").transform(_json_as_text, copy=False)
    tree = tree.transform(_list_functions, copy=False)
    if PARAM_STYLES[dialect] == "positional":
        tree = tree.transform(_trino_semantics, copy=False)
    if dialect in ("spark", "databricks"):
        from rightsizer.engine.spark_sql import rewrite

        tree = rewrite(tree)
    if PARAM_STYLES[dialect] == "named":
        return tree.sql(dialect=dialect, comments=False), ()
    for node in tree.find_all(exp.Placeholder):
        node.set("this", _MARK + node.name)
    marked = tree.sql(dialect=dialect, comments=False)
    # The order of `?` is that of the written text, whatever order the tree was walked in.
    order = tuple(re.findall(rf"[:$@]{_MARK}(\w+)", marked))
    return re.sub(rf"[:$@]{_MARK}\w+", "?", marked), order


def _json_as_text(node: Any) -> Any:
    """`x` for `CAST(x AS JSON)`: JSON stays text where it is not DuckDB's JSON type.

    Trino's and Spark's JSON functions read text, and their casts would turn the text into one
    JSON string (Trino) or fail (Spark's TO_JSON of a string).
    """
    from sqlglot import exp

    if isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.JSON):
        return node.this
    return node


def _list_functions(node: Any) -> Any:
    """DuckDB's list_slice and list_extract in the forms Trino and Spark both have.

    `list_slice(l, begin, end)` (1-based, end included) is `slice(l, begin, end - begin + 1)`;
    `list_extract(l, i)` is `element_at(l, i)`, NULL past the end as in DuckDB (Trino; Spark
    with ANSI mode off, as its engine runs). sqlglot passes both through unchanged otherwise,
    and neither engine knows them.
    """
    from sqlglot import exp

    if not isinstance(node, exp.Anonymous) or len(node.expressions) not in (2, 3):
        return node
    name = node.name.lower()
    if name == "list_slice" and len(node.expressions) == 3:
        items, begin, end = node.expressions
        length = exp.Add(
            this=exp.Sub(this=exp.paren(end.copy()), expression=exp.paren(begin.copy())),
            expression=exp.Literal.number(1),
        )
        return exp.Anonymous(this="SLICE", expressions=[items, begin, length])
    if name == "list_extract" and len(node.expressions) == 2:
        return exp.Anonymous(this="ELEMENT_AT", expressions=list(node.expressions))
    return node


def _trino_semantics(node: Any) -> Any:
    """A DuckDB construct rewritten to mean the same in Trino (and so Athena).

    `list[i]` becomes element_at: past the end DuckDB gives NULL where Trino's subscript fails.
    `AS MATERIALIZED` goes: Trino has no such hint. `UNNEST(list) AS u(x)` wraps each element
    in a one-field ROW: Trino spreads an element that is a ROW over several columns, DuckDB
    keeps it as one struct column `x`.
    """
    from sqlglot import exp

    if isinstance(node, exp.Bracket):
        node.set("safe", True)
    elif isinstance(node, exp.CTE):
        node.set("materialized", None)
    elif isinstance(node, exp.Unnest) and len(node.expressions) == 1:
        alias = node.args.get("alias")
        if alias is not None and len(alias.columns) == 1:
            element = exp.to_identifier("rightsizer_element")
            wrap = exp.Lambda(this=exp.Struct(expressions=[element.copy()]), expressions=[element])
            node.set("expressions", [exp.Transform(this=node.expressions[0], expression=wrap)])
    return node


class Engine(ABC):
    """Runs the named queries. Adapters implement the abstract methods for one engine.

    Temp tables (`load_table`, `materialize`) live as long as the engine, or the `session()`
    they were made in, and are seen only there.
    """

    dialect: ClassVar[str]  # sqlglot's name for the engine's SQL dialect

    @abstractmethod
    def load_table(self, name: str, table: pa.Table) -> None:
        """Create (or replace) the temp table `name` holding `table`'s rows."""

    @abstractmethod
    def materialize(self, name: str, params: Mapping[str, Any] | None = None) -> None:
        """Store the result of queries/NAME.sql in a temp table called NAME (a staging step)."""

    @abstractmethod
    def rows(self, name: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run queries/NAME.sql and return its rows as tuples (for small, bounded results)."""

    @abstractmethod
    def arrow(self, name: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run queries/NAME.sql and return its rows as an Arrow table."""

    @abstractmethod
    def batches(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        *,
        rows_per_batch: int = ROWS_PER_BATCH,
    ) -> pa.RecordBatchReader:
        """Run queries/NAME.sql and stream its rows as Arrow batches of at most
        `rows_per_batch` rows (memory holds one batch, not the result)."""

    @abstractmethod
    def session(self) -> Engine:
        """An engine on the same data whose temp tables are its own; close it when done."""

    @abstractmethod
    def close(self) -> None:
        """Release what the engine holds: a session's temp tables and connection."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def ingest_summary(self) -> dict[str, Any] | None:
        """What an engine that reads the logs in place read, as the analysis's `ingest` block
        (the keys of `IngestSummary.as_dict()`, `engine` naming it); None for an engine on the
        store, whose ingest ran before."""
        return None

    def cost_note(self) -> str | None:
        """One line on what the run cost in an engine that bills by the data it reads (for
        stderr after the analysis); None for an engine that does not."""
        return None

    def prepare(self, name: str, params: Mapping[str, Any] | None = None) -> Prepared:
        """queries/NAME.sql in this engine's dialect, with `params` bound its way."""
        return prepare(name, params or {}, self.dialect)


@contextmanager
def naming(name: str, errors: tuple[type[Exception], ...]) -> Iterator[None]:
    """Re-raise an engine error (one of `errors`) with the query file in its message.

    The error keeps its type, so callers that handle, say, an out-of-memory error still do.
    """
    try:
        yield
    except errors as exc:
        raise renamed(exc, name) from exc


def renamed(exc: Exception, name: str) -> Exception:
    """`exc` again, its message starting with the query file it came from."""
    where = f"queries/{name}.sql"
    if where in str(exc):
        return exc
    try:
        return type(exc)(f"{where}: {exc}")
    except TypeError:  # an exception type that takes other arguments: keep it, add a note
        exc.add_note(f"in {where}")
        return exc


def batch_stream(
    name: str,
    reader: pa.RecordBatchReader,
    errors: tuple[type[Exception], ...],
) -> pa.RecordBatchReader:
    """`reader` again, naming the query file if reading a later batch fails."""

    def read() -> Iterator[pa.RecordBatch]:
        with naming(name, errors):
            yield from reader

    return pa.RecordBatchReader.from_batches(reader.schema, read())


def columns_table(columns: Mapping[str, Sequence[Any]]) -> pa.Table:
    """An Arrow table of text columns (the mapping tables, the roles in scope)."""
    return pa.table({key: pa.array(list(values), pa.string()) for key, values in columns.items()})
