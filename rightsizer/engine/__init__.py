"""Where the queries of `queries/` run: the `Engine` interface, its DuckDB adapter, and the
registry of engines `--engine` chooses from.

See docs/ARCHITECTURE.md ("Engines") for the interface and where a new engine goes.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rightsizer.engine.base import PARAM_STYLES, Engine, Prepared, columns_table, prepare
from rightsizer.engine.duckdb import DuckDBEngine, EngineOrConnection, as_engine
from rightsizer.errors import ConfigError

if TYPE_CHECKING:
    from rightsizer.config import Settings
    from rightsizer.window import Window

__all__ = [
    "ENGINES",
    "PARAM_STYLES",
    "DuckDBEngine",
    "Engine",
    "EngineChoice",
    "EngineOrConnection",
    "Prepared",
    "as_engine",
    "columns_table",
    "engine_help",
    "engine_named",
    "open_engine",
    "prepare",
]


@dataclass(frozen=True)
class EngineChoice:
    """One value of `--engine`: its name, a note for `--help`, and where its maker lives.

    `module` is None for DuckDB on the store (the ingest fills it first); any other engine
    reads the logs where they lie, and its module (imported only when chosen, so `--help`
    stays fast) has `open_engine(settings, window) -> Engine`.
    """

    name: str
    note: str
    module: str | None = None

    @property
    def in_place(self) -> bool:
        """The engine reads the raw logs itself: no ingest, no store."""
        return self.module is not None


ENGINES: dict[str, EngineChoice] = {
    choice.name: choice
    for choice in (
        EngineChoice("duckdb", "the local store, after an ingest; default"),
        EngineChoice(
            "athena",
            "Amazon Athena, over the trail's CloudTrail table; see --athena-*",
            "rightsizer.engine.athena",
        ),
        EngineChoice("spark", "PySpark reads --source in place", "rightsizer.engine.spark"),
    )
}


def engine_help() -> str:
    """`--engine`'s help text, from the registry (written out in cli/options.py)."""
    names = [f"{c.name} ({c.note})" for c in ENGINES.values()]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f"Where the usage stage runs: {listed}."


def engine_named(name: str) -> EngineChoice:
    """The registered engine called `name`; ConfigError naming the choices if none is."""
    if name not in ENGINES:
        raise ConfigError(f"--engine {name!r} is not one of {', '.join(ENGINES)}")
    return ENGINES[name]


def open_engine(name: str, settings: Settings, window: Window) -> Engine:
    """The in-place engine `name`, reading `settings.source`'s logs of `window`."""
    choice = engine_named(name)
    if choice.module is None:
        raise ValueError(f"engine {name!r} runs on the store; open it with as_engine(conn)")
    if not settings.source:
        raise ConfigError(
            f"--engine {name} reads the logs where they are: give --source "
            "(a folder or s3://bucket/prefix), RIGHTSIZER_SOURCE or source = ... in rightsizer.toml"
        )
    module = importlib.import_module(choice.module)
    engine: Engine = module.open_engine(settings, window)
    return engine
