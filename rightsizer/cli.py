"""The `rightsizer` command line: parse options, call the library, render. No SQL, no boto3."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer

from rightsizer import __version__, aws, synth
from rightsizer.analyze import analyze, load_selectors, load_snapshot
from rightsizer.config import Flags, Settings, load_settings
from rightsizer.errors import ConfigError, RightsizerError
from rightsizer.ingest import IngestSummary, ingest_into
from rightsizer.interrupt import Interrupted
from rightsizer.model import Analysis
from rightsizer.progress import IngestProgress, terminal_progress
from rightsizer.render import check_out_dir, format_help, format_named, write_outputs
from rightsizer.report import SmtpSettings, check_report_options, run_report
from rightsizer.sources import open_source
from rightsizer.store import connect
from rightsizer.window import MAX_DAYS, Window

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


# Options shared by the commands.
DaysOpt = Annotated[
    int | None, typer.Option("--days", help=f"Window length in days, 1 to {MAX_DAYS:,} (90).")
]
UntilOpt = Annotated[
    str | None,
    typer.Option("--until", help="Window end, a UTC date or timestamp not after now (now)."),
]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="Ingest new logs from this folder or s3://bucket/prefix "
        "first; without a source, analyze what the database holds.",
    ),
]
DbOpt = Annotated[str | None, typer.Option("--db", help="DuckDB database file.")]
IamDetailsOpt = Annotated[
    str | None,
    typer.Option(
        "--iam-details",
        help="`aws iam get-account-authorization-details` JSON; "
        "without it rightsizer reads IAM and Lambda live (read-only).",
    ),
]
FunctionsOpt = Annotated[
    str | None,
    typer.Option(
        "--lambda-functions",
        help="`aws lambda list-functions` JSON (with "
        "--iam-details), to name the functions of each role.",
    ),
]
SelectorsOpt = Annotated[
    str | None,
    typer.Option(
        "--event-selectors",
        help="`aws cloudtrail get-event-selectors` JSON, or `live` to read every visible "
        "trail's selectors from CloudTrail; makes data-event coverage exact instead of "
        "inferred from the logs.",
    ),
]
RoleOpt = Annotated[
    list[str] | None, typer.Option("--role", help="Only this role (name or ARN); repeatable.")
]
GranularityOpt = Annotated[
    str | None,
    typer.Option(
        "--granularity",
        help="Object resources as exact keys (object), "
        "generalized prefixes (prefix, default) or whole buckets (bucket).",
    ),
]
ProfileOpt = Annotated[str | None, typer.Option("--profile", help="AWS profile.")]


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
    summary = _ingest(
        settings.source, settings, window, strict=strict, progress=terminal_progress()
    )
    if output_format == "json":
        typer.echo(json.dumps(summary.as_dict(), indent=2))
    else:
        for line in summary.lines():
            typer.echo(line)
    return summary.exit_code


_FORMAT_HELP = format_help()


def _output_format(value: str | None) -> str:
    chosen = value or ("table" if sys.stdout.isatty() else "json")
    return format_named(chosen).name


def _run_ingest(settings: Settings, window: Window, *, quiet: bool) -> dict[str, Any] | None:
    """Ingest what is new from the configured source; None when no source is configured."""
    if not settings.source:
        return None
    progress = None if quiet else terminal_progress()
    return _ingest(settings.source, settings, window, progress=progress).as_dict()


def _ingest(
    source: str,
    settings: Settings,
    window: Window,
    *,
    strict: bool = False,
    progress: IngestProgress | None = None,
) -> IngestSummary:
    """Ingest from `source`; on SIGINT or SIGTERM say what was kept and exit 130."""
    log_source = open_source(source, profile=settings.profile, region=settings.region)
    try:
        return ingest_into(
            settings.db,
            log_source,
            window,
            workers=settings.workers,
            strict=strict,
            progress=progress,
        )
    except Interrupted as interrupted:
        typer.echo(str(interrupted), err=True)
        raise typer.Exit(130) from None
    finally:
        log_source.close()


def _emit(analysis: Analysis, chosen: str, out: Path | None) -> int:
    format_named(chosen).write(analysis, sys.stdout)
    if out is not None:
        written = write_outputs(analysis, out)
        typer.echo(f"wrote {len(written)} files to {out}", err=True)
    for role in analysis.refused:
        typer.echo(f"error: refused to emit a policy for {role} (see its warnings)", err=True)
    return analysis.exit_code


def _analysis(
    settings: Settings, until: str | None, roles: list[str] | None, *, quiet: bool
) -> Analysis:
    """Ingest what is new (when a source is configured), then analyze the window."""
    window = Window.from_options(until, settings.days)
    snapshot = load_snapshot(
        settings.iam_details,
        settings.lambda_functions,
        profile=settings.profile,
        region=settings.region,
    )
    selectors = load_selectors(
        settings.event_selectors, profile=settings.profile, region=settings.region
    )
    summary = _run_ingest(settings, window, quiet=quiet)
    conn = connect(settings.db, read_only=summary is None)
    try:
        return analyze(
            conn,
            window,
            snapshot,
            granularity=settings.granularity,
            selectors=selectors,
            role_filter=roles or (),
            ingest_summary=summary,
        )
    finally:
        conn.close()


@app.command("analyze")
def analyze_command(
    days: DaysOpt = None,
    until: UntilOpt = None,
    source: SourceOpt = None,
    db: DbOpt = None,
    iam_details: IamDetailsOpt = None,
    lambda_functions: FunctionsOpt = None,
    event_selectors: SelectorsOpt = None,
    role: RoleOpt = None,
    granularity: GranularityOpt = None,
    output_format: Annotated[str | None, typer.Option("--format", help=_FORMAT_HELP)] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Also write <role>.policy.json, <role>.diff and summary.json into this folder "
            "(and remove those an earlier run wrote there and this one does not).",
        ),
    ] = None,
    profile: ProfileOpt = None,
) -> int:
    """Recommend a least-privilege S3 policy for every Lambda role, with a diff against today.

    Ingests what is new first (when a source is configured), then analyzes the window. Exit
    codes: 0 done, 2 a problem you can fix (message says what), 3 a recommendation failed its
    replay check and was refused.
    """
    chosen = _output_format(output_format)
    settings = load_settings(
        Flags(
            days=days,
            source=source,
            db=db,
            iam_details=iam_details,
            lambda_functions=lambda_functions,
            event_selectors=event_selectors,
            granularity=granularity,
            profile=profile,
        )
    )
    if out is not None:
        check_out_dir(out)  # a bad --out fails now, not after the ingest and analysis
    analysis = _analysis(settings, until, role, quiet=chosen == "json" and not sys.stderr.isatty())
    return _emit(analysis, chosen, out)


@app.command("report")
def report_command(
    days: DaysOpt = None,
    until: UntilOpt = None,
    source: SourceOpt = None,
    db: DbOpt = None,
    iam_details: IamDetailsOpt = None,
    lambda_functions: FunctionsOpt = None,
    event_selectors: SelectorsOpt = None,
    role: RoleOpt = None,
    granularity: GranularityOpt = None,
    profile: ProfileOpt = None,
    to: Annotated[
        list[str] | None, typer.Option("--to", help="Recipient address; repeatable.")
    ] = None,
    sender: Annotated[str | None, typer.Option("--from", help="Sender address.")] = None,
    subject: Annotated[str | None, typer.Option("--subject", help="Subject line.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the self-contained HTML report here.")
    ] = None,
    smtp_host: Annotated[str | None, typer.Option("--smtp-host", help="SMTP server.")] = None,
    smtp_port: Annotated[int | None, typer.Option("--smtp-port", help="SMTP port (587).")] = None,
    smtp_starttls: Annotated[
        bool | None,
        typer.Option("--smtp-starttls", help="Force STARTTLS (the default on every port but 465)."),
    ] = None,
    smtp_ssl: Annotated[
        bool | None,
        typer.Option("--smtp-ssl", help="Force TLS from the first byte (the default on port 465)."),
    ] = None,
    smtp_insecure: Annotated[
        bool | None,
        typer.Option(
            "--smtp-insecure",
            help="DANGEROUS: send by plain SMTP, without TLS: the report and any SMTP password "
            "cross the network readable by anyone on the path. Needed for a server without "
            "TLS even with no login (a relay on this machine too); use it only for a relay you "
            "trust. Also smtp_insecure in rightsizer.toml or RIGHTSIZER_SMTP_INSECURE.",
        ),
    ] = None,
    ses: Annotated[
        bool | None, typer.Option("--ses/--no-ses", help="Send with Amazon SES, not SMTP.")
    ] = None,
    ses_region: Annotated[str | None, typer.Option("--ses-region", help="SES region.")] = None,
    preview: Annotated[
        bool, typer.Option("--preview", help="Do not store this run as the previous report.")
    ] = False,
) -> int:
    """Email (or write) the security report: what to remove, per role, and what changed.

    Sends by SMTP (user and password from RIGHTSIZER_SMTP_USER / RIGHTSIZER_SMTP_PASSWORD) or
    Amazon SES. SMTP is encrypted, with the server's certificate checked (set SSL_CERT_FILE for
    a private CA): TLS from the start on port 465, STARTTLS on any other port; a server that
    does not offer STARTTLS is refused unless --smtp-insecure. Without --to and --out it prints
    the text version. Recipients, sender and SMTP settings may come from rightsizer.toml or
    RIGHTSIZER_* variables, so a scheduled job is just `rightsizer report`. Exit codes: 0 done,
    2 a problem you can fix, 3 a policy was refused by its replay check (the report is still
    made).
    """
    settings = load_settings(
        Flags(
            days=days,
            source=source,
            db=db,
            iam_details=iam_details,
            lambda_functions=lambda_functions,
            event_selectors=event_selectors,
            granularity=granularity,
            profile=profile,
            report_to=to,
            report_from=sender,
            report_subject=subject,
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            smtp_starttls=smtp_starttls,
            smtp_ssl=smtp_ssl,
            smtp_insecure=smtp_insecure,
            ses=ses,
            ses_region=ses_region,
        )
    )
    smtp = None
    if settings.smtp_host:
        smtp = SmtpSettings(
            host=settings.smtp_host,
            port=settings.smtp_port,
            starttls=settings.smtp_starttls,
            ssl=settings.smtp_ssl,
            insecure=settings.smtp_insecure,
            user=settings.smtp_user,
            password=settings.smtp_password,
        )
    ses_region = settings.ses_region or settings.region
    ses_session = aws.session(settings.profile, ses_region) if settings.ses else None
    # Everything that can be refused without the analysis is refused before it.
    check_report_options(
        out=out,
        to=settings.report_to,
        sender=settings.report_from,
        smtp=smtp,
        ses=settings.ses,
        ses_region=ses_region,
        ses_session=ses_session,
    )
    analysis = _analysis(settings, until, role, quiet=not sys.stderr.isatty())
    conn = connect(settings.db, read_only=preview)  # a preview stores nothing
    try:
        result = run_report(
            analysis,
            conn,
            out=out,
            to=settings.report_to,
            sender=settings.report_from,
            subject=settings.report_subject,
            smtp=smtp,
            ses=settings.ses,
            ses_region=ses_region,
            ses_session=ses_session,
            store=not preview,
        )
    finally:
        conn.close()
    if not settings.report_to and out is None:
        sys.stdout.write(result.text)
    if result.html_path is not None:
        typer.echo(f"wrote {result.html_path}", err=True)
    if result.sent_to:
        typer.echo(f"sent to {', '.join(result.sent_to)} via {result.transport}", err=True)
    return analysis.exit_code


@app.command("demo")
def demo_command(
    directory: Annotated[
        Path, typer.Option("--dir", help="Folder for the demo data, database and outputs.")
    ] = Path("rightsizer-demo"),
    output_format: Annotated[str | None, typer.Option("--format", help=_FORMAT_HELP)] = None,
) -> int:
    """Build the synthetic demo data set (CloudTrail tree + IAM snapshot) and analyze it.

    Needs no AWS account. A second run reuses the data and the database (nothing new to ingest).
    """
    chosen = _output_format(output_format)
    dataset = synth.demo_dataset(directory)
    settings = load_settings(
        Flags(
            source=str(dataset.source_dir),
            db=str(directory / "rightsizer.duckdb"),
            days=dataset.days,
        )
    )
    window = Window.ending(dataset.until, dataset.days)
    summary = _run_ingest(settings, window, quiet=chosen == "json")
    snapshot = load_snapshot(str(dataset.iam_details), str(dataset.lambda_functions))
    conn = connect(settings.db, read_only=True)
    try:
        analysis = analyze(
            conn,
            window,
            snapshot,
            selectors=load_selectors(str(dataset.event_selectors)),
            ingest_summary=summary,
        )
    finally:
        conn.close()
    code = _emit(analysis, chosen, directory / "out")
    if chosen == "table":
        typer.echo(
            f"\nPolicies and diffs: {directory / 'out'}.  Try: {_program()} analyze --db "
            f"{settings.db} --iam-details {dataset.iam_details} --until "
            f"{window.as_dict()['end']} --days {dataset.days} --role report-role --format markdown"
        )
    return code


def _program() -> str:
    """How the user can call rightsizer again: `.venv/bin/rightsizer` from a checkout."""
    path = Path(sys.argv[0])
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path.name


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turn user errors into one line and exit code 2."""
    try:
        result: Any = app(args=argv, prog_name="rightsizer", standalone_mode=False)
    except RightsizerError as exc:
        if _state["debug"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except (OSError, duckdb.IOException, duckdb.OutOfMemoryException) as exc:
        # The machine's part: a full disk, a folder not writable, too little memory.
        if _state["debug"]:
            raise
        typer.echo(f"error: {exc} (a problem of this machine's disk or memory)", err=True)
        return 2
    except Exception as exc:  # click usage errors carry their own exit code
        code = getattr(exc, "exit_code", None)
        if code is not None and hasattr(exc, "show"):
            exc.show()
            return int(code)
        raise
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
