"""The DuckDB engine: the queries run on the store's own connection (the default engine).

Everything DuckDB-specific of the usage stage is here: how a table of values gets in (an Arrow
table registered as a view and copied into a temp table), how a query becomes a staging table,
how results come out through Arrow, and the private cursor a session runs on.

On a big store a session stages into a scratch database of its own rather than into temp
tables: DuckDB compresses a database's tables (the ARNs shrink several times over) but not its
temp tables, and the staging tables of millions of object keys outgrow the memory limit.
Spilled uncompressed, every later step read them back from disk: at 10 million distinct keys
the analysis took 142 s with temp tables and 103 s with the scratch database.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
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
from rightsizer.interrupt import interrupt_on_signal
from rightsizer.sql import bind, load_query

# A session stages in a scratch database when the store holds more events than this. Below,
# the staging tables hardly spill, and temp tables save compressing them: at 600,000 events
# the scratch database cost 0.4 s of a 2.7 s analysis; at 1,000,000 it broke even.
SCRATCH_FROM = 1_500_000
SCRATCH_PREFIX = "rightsizer-stage-"
# A scratch folder untouched this long, whose database no run holds, was left by a killed run.
STALE_AFTER = dt.timedelta(minutes=10)
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
        self._scratch: _Scratch | None = None
        interrupt_on_signal(conn)  # Ctrl-C stops its query at once (rightsizer.interrupt)

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
        """Store the result of queries/NAME.sql in a table called NAME (a staging step): in the
        session's scratch database if it has one, else a temp table."""
        text = load_query(name)
        values = bind(name, text, params or {})
        # `name` passed load_query's lower_snake_case check: a plain identifier.
        table = f"TABLE {self._scratch.alias}.{name}" if self._scratch else f"TEMP TABLE {name}"
        with naming(name, _ERRORS):
            self.conn.execute(f"CREATE OR REPLACE {table} AS {text.rstrip().rstrip(';')}", values)

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
        """A private cursor with the store's settings (and, on a store of over SCRATCH_FROM
        events, a scratch database for its staging tables): its tables stay off this
        connection, and go with the session."""
        engine = DuckDBEngine(store.cursor(self.conn), owned=True)
        if _store_events(engine.conn) > SCRATCH_FROM:
            engine._scratch = _Scratch.attach(engine.conn)
        return engine

    def close(self) -> None:
        """Close the cursor of a session and drop its scratch database; a connection the
        caller gave stays open."""
        try:
            if self._scratch:
                self._scratch.detach(self.conn)
        finally:
            self._scratch = None
            if self._owned:
                self.conn.close()

    def _relation(self, name: str, params: Mapping[str, Any] | None) -> duckdb.DuckDBPyRelation:
        text = load_query(name)
        return self.conn.sql(text, params=bind(name, text, params or {}))


class _Scratch:
    """A database file of one session's staging tables, first on the cursor's search path.

    It lies beside the folder where DuckDB spills (the store's `.tmp`): on the disk the user
    chose for the store, not in a /tmp that may be memory. `attach` gives None when that folder
    cannot be written (a store on a read-only share): the session then stages in temp tables.
    """

    def __init__(self, alias: str, folder: Path) -> None:
        self.alias = alias
        self.folder = folder

    @classmethod
    def attach(cls, conn: duckdb.DuckDBPyConnection) -> _Scratch | None:
        [(spill, home)] = conn.execute(
            "SELECT current_setting('temp_directory'), current_database()"
        ).fetchall()
        spill_dir = Path(spill)
        parent = spill_dir.parent if spill_dir.is_absolute() else Path(tempfile.gettempdir())
        _clear_stale(parent)
        try:
            folder = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=parent))
        except OSError:
            return None
        alias = identifier(f"stage_{uuid.uuid4().hex}")
        # The staging tables by their plain names, then the store's tables.
        search_path = f'{alias}.main,"{home.replace(chr(34), chr(34) * 2)}".main'
        try:
            # Writable even when the store was opened read-only.
            conn.execute(f"ATTACH ? AS {alias} (READ_ONLY false)", [str(folder / "stage.duckdb")])
            conn.execute("SET search_path = ?", [search_path])
        except duckdb.Error:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return cls(alias, folder)

    def detach(self, conn: duckdb.DuckDBPyConnection) -> None:
        try:
            conn.execute("RESET search_path")
            conn.execute(f"DETACH {self.alias}")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def _clear_stale(parent: Path) -> None:
    """Delete the scratch folders in `parent` that killed runs left: untouched for STALE_AFTER,
    and with a database no run holds (DuckDB locks a database file for the process that has it
    open). A newer folder may be one another run is making."""
    for folder in parent.glob(f"{SCRATCH_PREFIX}*"):
        path = folder / "stage.duckdb"
        try:
            if time.time() - folder.stat().st_mtime < STALE_AFTER.total_seconds():
                continue
            if path.exists():
                duckdb.connect(str(path)).close()
        except duckdb.ResourceInUseException:
            continue  # a session of this process has it
        except duckdb.IOException as exc:
            if store.is_lock_error(exc):
                continue  # another run has it
        except (duckdb.Error, OSError):
            pass  # a database a killed run left half written
        shutil.rmtree(folder, ignore_errors=True)


def _store_events(conn: duckdb.DuckDBPyConnection) -> int:
    """The events the store holds (0 for a database that is no store)."""
    try:
        [(events,)] = conn.execute("SELECT count(*) FROM events").fetchall()
    except duckdb.CatalogException:
        return 0
    return int(events)


def as_engine(target: Engine | duckdb.DuckDBPyConnection) -> Engine:
    """`target` if it is an engine, else a DuckDB engine on the connection (which stays open)."""
    return target if isinstance(target, Engine) else DuckDBEngine(target)
