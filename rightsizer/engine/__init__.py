"""Where the queries of `queries/` run: the `Engine` interface and its DuckDB adapter.

See docs/ARCHITECTURE.md ("Engines") for the interface and where a new engine goes.
"""

from rightsizer.engine.base import PARAM_STYLES, Engine, Prepared, columns_table, prepare
from rightsizer.engine.duckdb import DuckDBEngine, EngineOrConnection, as_engine

__all__ = [
    "PARAM_STYLES",
    "DuckDBEngine",
    "Engine",
    "EngineOrConnection",
    "Prepared",
    "as_engine",
    "columns_table",
    "prepare",
]
