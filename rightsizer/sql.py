"""Named SQL files (queries/NAME.sql): finding them, reading them, their parameters.

Each file holds one statement in DuckDB's dialect; parameters are named (`$window_start`),
always bound, never formatted into the text. They run through an engine (rightsizer.engine,
which reads them through this module; `as_engine(conn)` wraps a DuckDB connection). The folder
is looked up, in order:

1. `rightsizer/queries/` inside the installed package (a wheel that ships the files there);
2. `queries/` next to the package folder (a source checkout or an editable install);
3. `<sys.prefix>/share/rightsizer/queries/` (a wheel that installs them as data files).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rightsizer.errors import ConfigError

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# Comments, string literals and quoted identifiers (Athena's "$path") are blanked before
# looking for `$name` parameters.
_NOISE_RE = re.compile(r"--[^\n]*|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_PARAM_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def query_dirs() -> list[Path]:
    """The folders searched for query files, in order."""
    package = Path(__file__).resolve().parent
    return [
        package / "queries",
        package.parent / "queries",
        Path(sys.prefix) / "share" / "rightsizer" / "queries",
    ]


def queries_dir() -> Path:
    """The first folder of `query_dirs()` that holds .sql files."""
    for folder in query_dirs():
        if folder.is_dir() and any(folder.glob("*.sql")):
            return folder
    searched = ", ".join(str(folder) for folder in query_dirs())
    raise ConfigError(f"no query files found (searched {searched}); reinstall rightsizer")


def query_names() -> list[str]:
    """Names of all query files, sorted."""
    return sorted(path.stem for path in queries_dir().glob("*.sql"))


def load_query(name: str) -> str:
    """The text of queries/NAME.sql."""
    if not _NAME_RE.match(name):
        raise ValueError(f"query name {name!r} must be lower_snake_case")
    path = queries_dir() / f"{name}.sql"
    if not path.is_file():
        raise ValueError(f"no query named {name!r} in {path.parent}")
    return path.read_text(encoding="utf-8")


def parameters(sql: str) -> set[str]:
    """The `$name` parameters a statement uses."""
    return set(_PARAM_RE.findall(_NOISE_RE.sub(" ", sql)))


def bind(name: str, text: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The values of the parameters queries/NAME.sql (`text`) uses; raises if one is missing."""
    wanted = parameters(text)
    missing = wanted - params.keys()
    if missing:
        raise ValueError(f"query {name!r} needs parameters {sorted(missing)}")
    # Engines refuse values for parameters a statement does not use: pass only the used ones.
    return {key: params[key] for key in wanted}
