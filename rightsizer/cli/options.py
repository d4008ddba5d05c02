"""Options the commands share, declared once: single options and bundles of them.

A bundle is a frozen dataclass whose fields are Typer options. A command decorated with
`@bundled` takes a bundle as one parameter; its `--help` lists the bundle's options, and the
command receives the dataclass built from them. Fields named like a field of `config.Flags`
are settings (`flags()` collects them); the others (`--until`, `--role`) are the command's.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, get_type_hints

import typer

from rightsizer.config import Flags
from rightsizer.window import MAX_DAYS

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Result = TypeVar("Result")

DaysOpt = Annotated[
    int | None, typer.Option("--days", help=f"Window length in days, 1 to {MAX_DAYS:,} (90).")
]
UntilOpt = Annotated[
    str | None,
    typer.Option("--until", help="Window end, a UTC date or timestamp not after now (now)."),
]
DbOpt = Annotated[str | None, typer.Option("--db", help="DuckDB database file.")]
ProfileOpt = Annotated[str | None, typer.Option("--profile", help="AWS profile.")]
# render.format_help(), written out (tests/cli/test_cli.py checks they agree): importing render
# would make every start of the command line load rich, Jinja and DuckDB.
FORMAT_HELP = "table (the default, also when stdout is not a terminal), json or markdown."
# engine.engine_help(), written out for the same reason (the same test checks it).
ENGINE_HELP = (
    "Where the usage stage runs: duckdb (the local store, after an ingest; default), athena "
    "(Amazon Athena, over the trail's CloudTrail table; see --athena-*) or spark (PySpark reads "
    "--source in place)."
)


@dataclasses.dataclass(frozen=True)
class AnalysisOptions:
    """What `analyze` and `report` analyze: the window, the data and the roles."""

    days: DaysOpt = None
    until: UntilOpt = None
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="Ingest new logs from this folder or s3://bucket/prefix "
            "first; without a source, analyze what the database holds.",
        ),
    ] = None
    db: DbOpt = None
    iam_details: Annotated[
        str | None,
        typer.Option(
            "--iam-details",
            help="`aws iam get-account-authorization-details` JSON; "
            "without it rightsizer reads IAM and Lambda live (read-only).",
        ),
    ] = None
    lambda_functions: Annotated[
        str | None,
        typer.Option(
            "--lambda-functions",
            help="`aws lambda list-functions` JSON (with "
            "--iam-details), to name the functions of each role.",
        ),
    ] = None
    event_selectors: Annotated[
        str | None,
        typer.Option(
            "--event-selectors",
            help="`aws cloudtrail get-event-selectors` JSON, or `live` to read every visible "
            "trail's selectors from CloudTrail; makes data-event coverage exact instead of "
            "inferred from the logs.",
        ),
    ] = None
    role: Annotated[
        list[str] | None, typer.Option("--role", help="Only this role (name or ARN); repeatable.")
    ] = None
    account: Annotated[
        list[str] | None,
        typer.Option(
            "--account", help="Only the roles of this AWS account (12 digits); repeatable."
        ),
    ] = None
    only_changes: Annotated[
        bool,
        typer.Option(
            "--only-changes",
            help="Leave out the roles that need no change (their recommendation is today's "
            "policy).",
        ),
    ] = False
    granularity: Annotated[
        str | None,
        typer.Option(
            "--granularity",
            help="Object resources as exact keys (object), "
            "generalized prefixes (prefix, default) or whole buckets (bucket).",
        ),
    ] = None
    engine: Annotated[str | None, typer.Option("--engine", help=ENGINE_HELP)] = None
    athena_workgroup: Annotated[
        str | None, typer.Option("--athena-workgroup", help="Athena workgroup (primary).")
    ] = None
    athena_database: Annotated[
        str | None,
        typer.Option(
            "--athena-database",
            help="Athena database holding the CloudTrail table; the run's staging tables "
            "(rightsizer_*) are made there and dropped at the end.",
        ),
    ] = None
    athena_output: Annotated[
        str | None,
        typer.Option(
            "--athena-output",
            help="s3://bucket/prefix/ for Athena's query results and the staging files.",
        ),
    ] = None
    athena_table: Annotated[
        str | None,
        typer.Option("--athena-table", help="The CloudTrail table in --athena-database."),
    ] = None
    athena_create_table: Annotated[
        bool | None,
        typer.Option(
            "--athena-create-table",
            help="Consent to create the CloudTrail table (partition projection over the "
            "--source s3:// trail's accounts, regions and days) when it is missing.",
        ),
    ] = None
    max_scan_gb: Annotated[
        float | None,
        typer.Option(
            "--max-scan-gb",
            help="Stop Athena's queries once the run has scanned this many GB (USD 5 per TB).",
        ),
    ] = None
    min_calls: Annotated[
        int | None,
        typer.Option(
            "--min-calls",
            help="A role with fewer successful S3 calls in the window is warned about as low "
            "evidence (100).",
        ),
    ] = None
    profile: ProfileOpt = None


@dataclasses.dataclass(frozen=True)
class DeliveryOptions:
    """Where `report` sends its report: recipients, sender, and SMTP or Amazon SES."""

    report_to: Annotated[
        list[str] | None, typer.Option("--to", help="Recipient address; repeatable.")
    ] = None
    report_from: Annotated[str | None, typer.Option("--from", help="Sender address.")] = None
    report_subject: Annotated[str | None, typer.Option("--subject", help="Subject line.")] = None
    smtp_host: Annotated[str | None, typer.Option("--smtp-host", help="SMTP server.")] = None
    smtp_port: Annotated[int | None, typer.Option("--smtp-port", help="SMTP port (587).")] = None
    smtp_starttls: Annotated[
        bool | None,
        typer.Option("--smtp-starttls", help="Force STARTTLS (the default on every port but 465)."),
    ] = None
    smtp_ssl: Annotated[
        bool | None,
        typer.Option("--smtp-ssl", help="Force TLS from the first byte (the default on port 465)."),
    ] = None
    smtp_insecure: Annotated[
        bool | None,
        typer.Option(
            "--smtp-insecure",
            help="DANGEROUS: send by plain SMTP, without TLS: the report and any SMTP password "
            "cross the network readable by anyone on the path. Needed for a server without "
            "TLS even with no login (a relay on this machine too); use it only for a relay you "
            "trust. Also smtp_insecure in rightsizer.toml or RIGHTSIZER_SMTP_INSECURE.",
        ),
    ] = None
    ses: Annotated[
        bool | None, typer.Option("--ses/--no-ses", help="Send with Amazon SES, not SMTP.")
    ] = None
    ses_region: Annotated[str | None, typer.Option("--ses-region", help="SES region.")] = None


@dataclasses.dataclass(frozen=True)
class WatchOptions:
    """The thresholds of the activity findings `analyze` and `report` show (README)."""

    watch_recent_days: Annotated[
        int | None,
        typer.Option(
            "--watch-recent-days",
            help="First-seen judges the window's last N days against all before them (7).",
        ),
    ] = None
    watch_min_history_days: Annotated[
        int | None,
        typer.Option(
            "--watch-min-history-days",
            help="Days of history first-seen needs before those days (7).",
        ),
    ] = None
    watch_burst_min_calls: Annotated[
        int | None,
        typer.Option(
            "--watch-burst-min-calls", help="Denied calls in an hour before it is a burst (20)."
        ),
    ] = None
    watch_burst_factor: Annotated[
        int | None,
        typer.Option(
            "--watch-burst-factor",
            help="A burst is this many times the role's usual hourly rate of denied calls (10).",
        ),
    ] = None
    watch_change_hours: Annotated[
        int | None,
        typer.Option(
            "--watch-change-hours",
            help="Hours after a policy change in which denied calls are counted (24).",
        ),
    ] = None
    aws_ip_ranges: Annotated[
        str | None,
        typer.Option(
            "--aws-ip-ranges",
            help="AWS's ip-ranges.json (https://ip-ranges.amazonaws.com/ip-ranges.json): a "
            "Lambda role's call from a public address outside it is a finding.",
        ),
    ] = None


def flags(*bundles: DataclassInstance) -> Flags:
    """The settings given on the command line: the bundles' fields named like one of Flags."""
    names = {field.name for field in dataclasses.fields(Flags)}
    return Flags(
        **{
            field.name: getattr(bundle, field.name)
            for bundle in bundles
            for field in dataclasses.fields(bundle)
            if field.name in names
        }
    )


def bundled(command: Callable[..., Result]) -> Callable[..., Result]:
    """Let a Typer command take option bundles: each parameter annotated with a dataclass
    stands for that dataclass's fields, each an option of the command, and receives the
    dataclass built from them."""
    signature = inspect.signature(command, eval_str=True)
    parameters: list[inspect.Parameter] = []
    bundles: dict[str, Any] = {}  # parameter name → bundle class
    for parameter in signature.parameters.values():
        bundle = parameter.annotation
        if not (isinstance(bundle, type) and dataclasses.is_dataclass(bundle)):
            parameters.append(parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY))
            continue
        bundles[parameter.name] = bundle
        hints = get_type_hints(bundle, include_extras=True)
        parameters.extend(
            inspect.Parameter(
                field.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=field.default,
                annotation=hints[field.name],
            )
            for field in dataclasses.fields(bundle)
        )
    names = [parameter.name for parameter in parameters]
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise TypeError(f"{command.__name__}: options declared twice: {', '.join(twice)}")

    @functools.wraps(command)
    def run(**values: Any) -> Result:
        for name, bundle in bundles.items():
            fields = dataclasses.fields(bundle)
            values[name] = bundle(**{field.name: values.pop(field.name) for field in fields})
        return command(**values)

    # Typer reads the options from the signature and the annotations.
    run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    run.__annotations__["return"] = signature.return_annotation
    return run
