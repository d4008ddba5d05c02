"""The `rightsizer` command line: parse options, call the library, render. No SQL, no boto3.

A package by command group, each module readable in one sitting: `app` (the Typer app, its
root options, `config` and `main`), `options` (the options commands share), `ingest`,
`analysis` (`analyze`, `report`, `demo`) and `explain`. Library modules are imported inside the
commands that use them, so `rightsizer --help` does not load DuckDB, pandas or boto3.
"""

from rightsizer.cli import analysis, explain, ingest  # noqa: F401  (registers the commands on `app`)
from rightsizer.cli.app import app, main, run

__all__ = ["app", "main", "run"]
