"""The `rightsizer` command line: parse options, call the library, render. No SQL, no boto3."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from rightsizer import __version__
from rightsizer.config import load_settings
from rightsizer.errors import ConfigError, RightsizerError
from rightsizer.ingest import ingest
from rightsizer.progress import terminal_progress
from rightsizer.sources import open_source
from rightsizer.store import connect
from rightsizer.window import Window, parse_until

app = typer.Typer(
    name="rightsizer",
    help=(
        "Right-size the S3 permissions of AWS Lambda execution roles from the CloudTrail "
        "logs they left behind."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
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
    output_format: Annotated[
        str, typer.Option("--format", help="text or json.", case_sensitive=False)
    ] = "text",
) -> None:
    """Show every effective setting and where it came from (flag, environment, file, default)."""
    settings = load_settings()
    rows = settings.describe()
    if output_format == "json":
        typer.echo(json.dumps({n: {"value": v, "from": o} for n, v, o in rows}, indent=2))
        return
    width = max(len(name) for name, _, _ in rows)
    for name, shown, origin in rows:
        typer.echo(f"{name.ljust(width)}  {shown}  ({origin})")


@app.command("ingest")
def ingest_command(
    source: Annotated[
        str | None, typer.Option("--source", help="CloudTrail tree folder or s3://bucket[/prefix].")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="DuckDB database file.")] = None,
    days: Annotated[int | None, typer.Option("--days", help="Window length in days.")] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Window end, UTC date or timestamp (default now).")
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="text or json.", case_sensitive=False)
    ] = "text",
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile.")] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 when a file or record had to be skipped.")
    ] = False,
) -> int:
    """Read new CloudTrail log files of the window into the database (incremental)."""
    if output_format not in ("text", "json"):
        raise ConfigError(f"--format {output_format!r} is not one of text, json")
    settings = load_settings({"source": source, "db": db, "days": days, "profile": profile})
    if not settings.source:
        raise ConfigError(
            "no log source; pass --source (a folder or s3://bucket/prefix), set "
            "RIGHTSIZER_SOURCE, or put source = ... in rightsizer.toml"
        )
    window = Window.ending(parse_until(until), settings.days)
    log_source = open_source(settings.source, profile=settings.profile, region=settings.region)
    try:
        conn = connect(settings.db)
        try:
            summary = ingest(
                conn,
                log_source,
                window,
                workers=settings.workers,
                strict=strict,
                progress=terminal_progress(),
            )
        finally:
            conn.close()
    finally:
        log_source.close()
    if output_format == "json":
        typer.echo(json.dumps(summary.as_dict(), indent=2))
    else:
        for line in summary.lines():
            typer.echo(line)
    return summary.exit_code


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turn user errors into one line and exit code 2."""
    try:
        result: Any = app(args=argv, standalone_mode=False)
    except RightsizerError as exc:
        if _state["debug"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except Exception as exc:  # click usage errors carry their own exit code
        code = getattr(exc, "exit_code", None)
        if code is not None and hasattr(exc, "show"):
            exc.show()
            return int(code)
        raise
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
