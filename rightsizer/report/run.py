"""One report run: read the previous figures, build the report, render, write, send, record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from rightsizer.files import write_atomically
from rightsizer.model import Analysis
from rightsizer.report.build import build_report, compared
from rightsizer.report.charts import render_charts
from rightsizer.report.delivery import SmtpSettings, send_ses, send_smtp
from rightsizer.report.errors import DeliveryError, ReportError
from rightsizer.report.history import load_previous, save_run
from rightsizer.report.message import build_message, parse_address, report_sender
from rightsizer.report.model import Report
from rightsizer.report.render import render_html, render_text


@dataclass(frozen=True)
class ReportResult:
    """What a run did. `text` is the plain-text report, for printing when nothing was sent."""

    report: Report
    text: str
    html_path: Path | None
    sent_to: tuple[str, ...]
    transport: str | None
    message_id: str | None
    report_id: str | None


def _check_out_folder(path: Path) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ReportError(f"folder {folder} for --out does not exist; create it first")


def write_html(path: Path, html: str) -> None:
    """Write the HTML file atomically, so a scheduled run never leaves half a report."""
    _check_out_folder(path)
    try:
        write_atomically(path, html)
    except OSError as exc:
        raise ReportError(
            f"cannot write the report to {path} ({exc.strerror}); choose a writable --out"
        ) from None


def check_report_options(
    *,
    out: Path | None = None,
    to: Sequence[str] = (),
    sender: str | None = None,
    smtp: SmtpSettings | None = None,
    ses: bool = False,
    ses_region: str | None = None,
    ses_session: Any = None,
) -> None:
    """Refuse a report that could not be written or sent as asked, before any work is done.

    Checks the addresses (a missing sender is `rightsizer@` this host's domain, when it has
    one), that recipients come with a way to send (SMTP host or SES, with a region when
    `ses_session` is given), and that the folder of `out` exists. `run_report`
    calls it first; callers that analyse before reporting call it before the analysis.
    """
    for recipient in to:
        parse_address(recipient, "recipient")
    if to:
        if not ses and (smtp is None or not smtp.host):
            raise DeliveryError(
                "recipients given but no way to send: set --smtp-host (or smtp_host in "
                "rightsizer.toml) or --ses"
            )
        if ses and ses_session is not None and not (ses_region or ses_session.region_name):
            raise DeliveryError("no AWS region for Amazon SES; give --ses-region")
        parse_address(report_sender(sender), "sender")
    if out is not None:
        _check_out_folder(out)


def run_report(
    analysis: Analysis | Mapping[str, Any],
    conn: duckdb.DuckDBPyConnection | None,
    *,
    out: Path | None = None,
    to: Sequence[str] = (),
    sender: str | None = None,
    subject: str | None = None,
    smtp: SmtpSettings | None = None,
    ses: bool = False,
    ses_region: str | None = None,
    ses_session: Any = None,
    ses_profile: str | None = None,
    ses_client: Any = None,
    store: bool = True,
) -> ReportResult:
    """Build the report of an analysis, write it to `out`, send it to `to`, store its figures.

    `conn` is a writable store connection (None: no comparison, nothing stored). Sending
    uses SES when `ses` is true (with `ses_session`, else a session of the AWS profile
    `ses_profile`), otherwise SMTP with `smtp`. Figures are stored only after
    everything asked for succeeded, so a failed run does not become "the previous report".
    """
    check_report_options(
        out=out,
        to=to,
        sender=sender,
        smtp=smtp,
        ses=ses,
        ses_region=ses_region,
        ses_session=ses_session,
    )
    recipients = tuple(to)
    report = build_report(analysis, previous=None)
    # The previous report of the same roles: the scope is known once the analysis is read.
    previous = load_previous(conn, report.summary.scope) if conn is not None else None
    if previous is not None:
        report = compared(report, previous)
    text = render_text(report)
    charts = render_charts(report) if (out or recipients) else []

    message = None
    if recipients:
        message = build_message(
            report,
            sender=report_sender(sender),
            recipients=recipients,
            subject=subject,
            charts=charts,
        )
    if out is not None:
        write_html(out, render_html(report, images="data-uri", charts=charts))

    transport = message_id = None
    if message is not None:
        if ses:
            transport = "ses"
            message_id = send_ses(
                message,
                client=ses_client,
                session=ses_session,
                profile=ses_profile,
                region=ses_region,
            )
        else:
            assert smtp is not None  # checked by check_report_options
            transport = "smtp"
            send_smtp(message, smtp)
            message_id = str(message["Message-ID"])

    report_id = save_run(conn, report) if store and conn is not None else None
    return ReportResult(
        report=report,
        text=text,
        html_path=out,
        sent_to=recipients,
        transport=transport,
        message_id=message_id,
        report_id=report_id,
    )
