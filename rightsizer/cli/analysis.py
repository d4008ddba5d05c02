"""`rightsizer analyze`, `report` and `demo`: ingest what is new, analyze, render or send.

The commands import the library where they use it, so that `rightsizer --help` stays fast.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rightsizer.cli.app import app
from rightsizer.cli.ingest import run_ingest
from rightsizer.cli.options import (
    FORMAT_HELP,
    AnalysisOptions,
    DeliveryOptions,
    WatchOptions,
    bundled,
    flags,
)
from rightsizer.config import Flags, Settings, load_settings
from rightsizer.window import Window

if TYPE_CHECKING:
    import duckdb

    from rightsizer.model import Analysis
    from rightsizer.report import ReportResult, SmtpSettings

FormatOpt = Annotated[str | None, typer.Option("--format", help=FORMAT_HELP)]


@app.command("analyze")
@bundled
def analyze_command(
    options: AnalysisOptions,
    thresholds: WatchOptions,
    output_format: FormatOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Also write <role>.policy.json, <role>.diff and summary.json into this folder "
            "(and remove those an earlier run wrote there and this one does not).",
        ),
    ] = None,
    emit: Annotated[
        str | None,
        typer.Option(
            "--emit",
            help="With --out: also write each recommendation ready to deploy, in any of "
            "terraform, cloudformation, cli (comma-separated): <out>/terraform/<role>.tf, "
            "<out>/cloudformation/<role>.yaml, <out>/cli/<role>.sh.",
        ),
    ] = None,
) -> int:
    """Recommend a least-privilege S3 policy for every Lambda role, with a diff against today.

    Ingests what is new first (when a source is configured), then analyzes the window. Prints
    a table, the same on a terminal, in a pipe or in a file (as wide as COLUMNS, else 80);
    programs ask for --format json. Exit codes: 0 done, 2 a problem you can fix (message says
    what), 3 a recommendation failed its replay check and was refused.
    """
    from rightsizer.emit import parse_emit
    from rightsizer.errors import ConfigError
    from rightsizer.render import check_out_dir

    chosen = _output_format(output_format)
    forms = parse_emit(emit)
    if forms and out is None:
        raise ConfigError("--emit writes into the --out folder: give --out DIR as well")
    settings = load_settings(flags(options, thresholds))
    if out is not None:
        check_out_dir(out)  # a bad --out fails now, not after the ingest and analysis
    analysis = _analysis(settings, options, quiet=chosen == "json" and not sys.stderr.isatty())
    return _emit(analysis, chosen, out, forms)


@app.command("report")
@bundled
def report_command(
    options: AnalysisOptions,
    delivery: DeliveryOptions,
    thresholds: WatchOptions,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the self-contained HTML report here.")
    ] = None,
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
    from rightsizer import aws
    from rightsizer.report import check_report_options, run_report

    settings = load_settings(flags(options, delivery, thresholds))
    smtp = _smtp(settings)
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
    analysis = _analysis(settings, options, quiet=not sys.stderr.isatty())
    conn = _open_store(settings, read_only=preview)  # a preview stores nothing
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
    _tell_where(result, printed=not settings.report_to and out is None)
    return analysis.exit_code


@app.command("demo")
def demo_command(
    directory: Annotated[
        Path, typer.Option("--dir", help="Folder for the demo data, database and outputs.")
    ] = Path("rightsizer-demo"),
    output_format: FormatOpt = None,
) -> int:
    """Build the synthetic demo data set (CloudTrail tree + IAM snapshot) and analyze it.

    Needs no AWS account. A second run reuses the data and the database (nothing new to ingest).
    """
    from rightsizer import synth
    from rightsizer.analyze import analyze, load_selectors, load_snapshot

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
    summary = run_ingest(settings, window, quiet=chosen == "json")
    snapshot = load_snapshot(str(dataset.iam_details), str(dataset.lambda_functions))
    conn = _open_store(settings, read_only=True)
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


def _output_format(value: str | None) -> str:
    from rightsizer.render import format_named

    # The same output in a terminal, a pipe or a file: a program asks for --format json.
    return format_named(value or "table").name


def _analysis(settings: Settings, options: AnalysisOptions, *, quiet: bool) -> Analysis:
    """Ingest what is new (when a source is configured), then analyze the window; with an
    engine that reads the logs in place (`--engine spark`), that engine runs the usage stage
    on the source instead, and nothing is ingested or stored."""
    from rightsizer.analyze import analyze, check_accounts, load_selectors, load_snapshot
    from rightsizer.engine import engine_named, open_engine
    from rightsizer.watch import WatchSettings

    choice = engine_named(settings.engine)  # a misspelled engine fails before any work
    check_accounts(options.account or ())  # before any listing or reading
    window = Window.from_options(options.until, settings.days)
    watch_settings = WatchSettings.from_settings(settings)  # a bad ip-ranges file fails now
    snapshot = load_snapshot(
        settings.iam_details,
        settings.lambda_functions,
        profile=settings.profile,
        region=settings.region,
    )
    selectors = load_selectors(
        settings.event_selectors, profile=settings.profile, region=settings.region
    )
    # The same analysis on either side: the engine that read the logs, or the store.
    analyzed = partial(
        analyze,
        window=window,
        snapshot=snapshot,
        granularity=settings.granularity,
        selectors=selectors,
        role_filter=options.role or (),
        accounts=options.account or (),
        only_changes=options.only_changes,
        min_calls=settings.min_calls,
        watch_settings=watch_settings,
    )
    if choice.in_place:
        with open_engine(choice.name, settings, window) as engine:
            analysis = analyzed(engine, ingest_summary=engine.ingest_summary())
        note = engine.cost_note()  # what the engine's reading cost (Athena bills by the byte)
        if note:
            typer.echo(note, err=True)
        return analysis
    summary = run_ingest(settings, window, quiet=quiet)
    conn = _open_store(settings, read_only=summary is None)
    try:
        return analyzed(conn, ingest_summary=summary)
    finally:
        conn.close()


def _open_store(settings: Settings, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """The configured store, with the configured DuckDB memory."""
    from rightsizer.store import connect

    return connect(settings.db, read_only=read_only, memory_limit=settings.memory_limit)


def _emit(analysis: Analysis, chosen: str, out: Path | None, forms: tuple[str, ...] = ()) -> int:
    from rightsizer.render import format_named, write_outputs

    format_named(chosen).write(analysis, sys.stdout)
    if out is not None:
        written = write_outputs(analysis, out, forms)
        typer.echo(f"wrote {len(written)} files to {out}", err=True)
    for role in analysis.refused:
        typer.echo(f"error: refused to emit a policy for {role} (see its warnings)", err=True)
    return analysis.exit_code


def _smtp(settings: Settings) -> SmtpSettings | None:
    """The SMTP server of the settings; None when there is none."""
    from rightsizer.report import SmtpSettings

    if not settings.smtp_host:
        return None
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        starttls=settings.smtp_starttls,
        ssl=settings.smtp_ssl,
        insecure=settings.smtp_insecure,
        user=settings.smtp_user,
        password=settings.smtp_password,
    )


def _tell_where(result: ReportResult, *, printed: bool) -> None:
    """Print the text report when it goes nowhere else; say where the rest went."""
    if printed:
        sys.stdout.write(result.text)
    if result.html_path is not None:
        typer.echo(f"wrote {result.html_path}", err=True)
    if result.sent_to:
        typer.echo(f"sent to {', '.join(result.sent_to)} via {result.transport}", err=True)


def _program() -> str:
    """How the user can call rightsizer again: `.venv/bin/rightsizer` from a checkout."""
    path = Path(sys.argv[0])
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path.name
