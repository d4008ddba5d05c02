"""The security report: an analysis rendered as HTML, Markdown and text, and sent by email.

`run_report` is the whole job; the pieces are exposed for the CLI, tests and notebooks.
"""

from rightsizer.report.build import build_report
from rightsizer.report.changes import figures
from rightsizer.report.charts import Chart, render_charts
from rightsizer.report.delivery import SmtpSettings, send_ses, send_smtp
from rightsizer.report.errors import DeliveryError, ReportError
from rightsizer.report.history import load_previous, save_run
from rightsizer.report.message import build_message, findings_csv
from rightsizer.report.model import Report
from rightsizer.report.render import render_html, render_markdown, render_text
from rightsizer.report.run import ReportResult, check_report_options, run_report

__all__ = [
    "Chart",
    "DeliveryError",
    "Report",
    "ReportError",
    "ReportResult",
    "SmtpSettings",
    "build_message",
    "build_report",
    "check_report_options",
    "figures",
    "findings_csv",
    "load_previous",
    "render_charts",
    "render_html",
    "render_markdown",
    "render_text",
    "run_report",
    "save_run",
    "send_ses",
    "send_smtp",
]
