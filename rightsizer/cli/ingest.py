"""`rightsizer ingest`, and the ingest step `analyze`, `report` and `demo` run first."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rightsizer.cli.app import app
from rightsizer.cli.options import DaysOpt, DbOpt, ProfileOpt, UntilOpt
from rightsizer.config import Flags, load_settings
from rightsizer.errors import ConfigError
from rightsizer.window import Window

if TYPE_CHECKING:
    from rightsizer.config import Settings
    from rightsizer.ingest import IngestSummary


@app.command("ingest")
def ingest_command(
    source: Annotated[
        str | None, typer.Option("--source", help="CloudTrail tree folder or s3://bucket[/prefix].")
    ] = None,
    db: DbOpt = None,
    days: DaysOpt = None,
    until: UntilOpt = None,
    output_format: Annotated[
        str, typer.Option("--format", help="text or json.", case_sensitive=False)
    ] = "text",
    profile: ProfileOpt = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Exit 1 when a file or record had to be skipped, or a folder under AWSLogs/ "
            "is not an account or organization id.",
        ),
    ] = False,
) -> int:
    """Read new CloudTrail log files of the window into the database (incremental)."""
    if output_format not in ("text", "json"):
        raise ConfigError(f"--format {output_format!r} is not one of text, json")
    settings = load_settings(Flags(source=source, db=db, days=days, profile=profile))
    if not settings.source:
        raise ConfigError(
            "no log source; pass --source (a folder or s3://bucket/prefix), set "
            "RIGHTSIZER_SOURCE, or put source = ... in rightsizer.toml"
        )
    window = Window.from_options(until, settings.days)
    summary = _ingest(settings.source, settings, window, quiet=False, strict=strict)
    if output_format == "json":
        typer.echo(json.dumps(summary.as_dict(), indent=2))
    else:
        for line in summary.lines():
            typer.echo(line)
    return summary.exit_code


def run_ingest(settings: Settings, window: Window, *, quiet: bool) -> dict[str, Any] | None:
    """Ingest what is new from the configured source; None when no source is configured."""
    if not settings.source:
        return None
    return _ingest(settings.source, settings, window, quiet=quiet).as_dict()


def _ingest(
    source: str, settings: Settings, window: Window, *, quiet: bool, strict: bool = False
) -> IngestSummary:
    """Ingest the window from `source` into `settings.db`, showing progress on stderr unless
    `quiet`. SIGINT or SIGTERM raises Interrupted with what was kept (`main` says it)."""
    # Imported here: the store, the decoder and boto3 are the slow part of starting up.
    from rightsizer.ingest import ingest_into
    from rightsizer.progress import terminal_progress
    from rightsizer.sources import open_source

    progress = None if quiet else terminal_progress()
    log_source = open_source(source, profile=settings.profile, region=settings.region)
    try:
        return ingest_into(
            settings.db,
            log_source,
            window,
            workers=settings.workers,
            strict=strict,
            memory_limit=settings.memory_limit,
            progress=progress,
        )
    finally:
        log_source.close()
