"""The DuckDB engine: the queries run on the store's own connection (the default engine).

Everything DuckDB-specific of the usage stage is here: how a table of values gets in (an Arrow
table registered as a view and copied into a temp table), how a query becomes a temp table, how
results come out through Arrow, and the private cursor a session runs on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import duckdb
import pyarrow as pa

from rightsizer import store
from rightsizer.engine.base import (
    ROWS_PER_BATCH,
    Engine,
    batch_stream,
    identifier,
    naming,
)
from rightsizer.sql import bind, load_query

_ERRORS: tuple[type[Exception], ...] = (duckdb.Error,)
# What the usage stage accepts: an engine, or a DuckDB connection it wraps in one.
EngineOrConnection = Engine | duckdb.DuckDBPyConnection


class DuckDBEngine(Engine):
    """The queries on a DuckDB connection. The files are in DuckDB's dialect: no rewriting."""

    dialect: ClassVar[str] = "duckdb"

    def __init__(self, conn: duckdb.DuckDBPyConnection, *, owned: bool = False) -> None:
        """Run on `conn`; `owned` closes it with the engine (a session's cursor)."""
        self.conn = conn
        self._owned = owned

    def load_table(self, name: str, table: pa.Table) -> None:
        """Create (or replace) the temp table `name` holding `table`'s rows."""
        view = f"{identifier(name)}_rows"
        self.conn.register(view, table)
        try:
            # Identifiers checked by `identifier`; the values travel as Arrow, not as text.
            ddl = f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {view}"  # noqa: S608
            self.conn.execute(ddl)
        finally:
            self.conn.unregister(view)

    def materialize(self, name: str, params: Mapping[str, Any] | None = None) -> None:
        """Store the result of queries/NAME.sql in a temp table called NAME (a staging step)."""
        text = load_query(name)
        values = bind(name, text, params or {})
        with naming(name, _ERRORS):
            # `name` passed load_query's lower_snake_case check: a plain identifier.
            self.conn.execute(
                f"CREATE OR REPLACE TEMP TABLE {name} AS {text.rstrip().rstrip(';')}", values
            )

    def rows(self, name: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run queries/NAME.sql and return its rows as tuples."""
        with naming(name, _ERRORS):
            return self._relation(name, params).fetchall()

    def arrow(self, name: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run queries/NAME.sql and return its rows as an Arrow table."""
        with naming(name, _ERRORS):
            # A relation hands Arrow its result without the extra copy a cursor makes.
            return self._relation(name, params).to_arrow_table()

    def batches(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        *,
        rows_per_batch: int = ROWS_PER_BATCH,
    ) -> pa.RecordBatchReader:
        """Run queries/NAME.sql and stream its rows as Arrow batches (memory stays flat)."""
        with naming(name, _ERRORS):
            reader = self._relation(name, params).to_arrow_reader(rows_per_batch)
        return batch_stream(name, reader, _ERRORS)

    def session(self) -> DuckDBEngine:
        """A private cursor with the store's settings: temp tables stay off this connection."""
        return DuckDBEngine(store.cursor(self.conn), owned=True)

    def close(self) -> None:
        """Close the cursor of a session; a connection the caller gave stays open."""
        if self._owned:
            self.conn.close()

    def _relation(self, name: str, params: Mapping[str, Any] | None) -> duckdb.DuckDBPyRelation:
        text = load_query(name)
        return self.conn.sql(text, params=bind(name, text, params or {}))


def as_engine(target: Engine | duckdb.DuckDBPyConnection) -> Engine:
    """`target` if it is an engine, else a DuckDB engine on the connection (which stays open)."""
    return target if isinstance(target, Engine) else DuckDBEngine(target)
