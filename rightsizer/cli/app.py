"""The Typer app, its root options, `rightsizer config`, `main`, which maps errors to exit
codes, and `run`, the `rightsizer` command itself. The commands register themselves on `app`
(rightsizer.cli imports them)."""

from __future__ import annotations

import gc
import json
import sys
from typing import Annotated, Any, NoReturn

import typer

from rightsizer import __version__
from rightsizer.config import load_settings
from rightsizer.errors import ConfigError, RightsizerError

app = typer.Typer(
    name="rightsizer",
    help=(
        "Right-size the S3 permissions of AWS Lambda execution roles from the CloudTrail "
        "logs they left behind."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts hold brackets such as s3://bucket[/prefix]
)

_state: dict[str, bool] = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rightsizer {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    _state["debug"] = debug


@app.command("config")
def config_command(
    output_format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Show every effective setting and where it came from (flag, environment, file, default)."""
    output_format = output_format.lower()
    if output_format not in ("text", "json"):
        raise ConfigError(f"--format {output_format!r} is not one of text, json")
    settings = load_settings()
    rows = settings.describe()
    if output_format == "json":
        typer.echo(json.dumps({n: {"value": v, "from": o} for n, v, o in rows}, indent=2))
        return
    width = max(len(name) for name, _, _ in rows)
    for name, shown, origin in rows:
        typer.echo(f"{name.ljust(width)}  {shown}  ({origin})")


def _machine_error(exc: BaseException) -> bool:
    """A full disk, a folder not writable, too little memory: the machine's part, not ours."""
    if isinstance(exc, OSError):
        return True
    # DuckDB is imported only by commands that open a store: without it, no DuckDB error.
    duckdb = sys.modules.get("duckdb")
    return duckdb is not None and isinstance(exc, (duckdb.IOException, duckdb.OutOfMemoryException))


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turn user errors into one line and exit code 2, and SIGINT or
    SIGTERM into one line and exit code 130 (see rightsizer.interrupt)."""
    from rightsizer.interrupt import Interrupted, stop_on_signals

    try:
        with stop_on_signals() as stop, stop.at_once():
            result: Any = app(args=argv, prog_name="rightsizer", standalone_mode=False)
    except Interrupted as exc:
        if _state["debug"]:
            raise
        typer.echo(str(exc), err=True)
        return 130
    except RightsizerError as exc:
        if _state["debug"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except Exception as exc:
        if _machine_error(exc):
            if _state["debug"]:
                raise
            typer.echo(f"error: {exc} (a problem of this machine's disk or memory)", err=True)
            return 2
        code = getattr(exc, "exit_code", None)  # click usage errors carry their own exit code
        if code is not None and hasattr(exc, "show"):
            exc.show()
            return int(code)
        raise
    return int(result) if isinstance(result, int) else 0


def run() -> NoReturn:
    """The `rightsizer` command: `main()` on the process's arguments, then exit with its code.

    Only for a process that ends here (a caller that goes on, such as a Lambda handler, calls
    `main`): the objects left need no collector, as the process's memory goes back whole.
    """
    code = main()
    # Python's shutdown runs full collections over every object still alive, 0.1-0.5 s after
    # an analysis; frozen objects are left out of them (module teardown still frees them).
    gc.freeze()
    sys.exit(code)
