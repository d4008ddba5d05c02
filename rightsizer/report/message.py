"""The report as an email: text and HTML alternatives, inline charts, policy and CSV attachments.

Headers are built by the standard library's `email` package; every value that comes from the
data is either kept out of headers (role names become sanitized file names) or cleaned of
line breaks first, so it cannot add a header.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import socket
from collections.abc import Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any, cast

from rightsizer.report.charts import Chart, render_charts
from rightsizer.report.errors import DeliveryError
from rightsizer.report.model import Report
from rightsizer.report.render import render_html, render_text
from rightsizer.report.text import CONTROL, clean

SUBJECT_MAX = 200
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._+=,@-]+")
# Spreadsheets run cells that start like a formula; such cells get a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def parse_address(text: str, what: str) -> Address:
    """One email address (`a@b.c` or `Name <a@b.c>`); DeliveryError names a bad one."""
    if CONTROL.search(text):
        raise DeliveryError(f"{what} {clean(text)!r} contains control characters; fix the address")
    name, spec = parseaddr(text)
    try:
        address = Address(display_name=name, addr_spec=spec)
    except (ValueError, IndexError, TypeError) as exc:
        raise DeliveryError(f"{what} {text!r} is not an email address ({exc})") from None
    if not address.username or not address.domain:
        raise DeliveryError(f"{what} {text!r} is not an email address like name@example.com")
    return address


def report_sender(sender: str | None) -> str:
    """The report's sender: `sender` when given, else `rightsizer@` this host's domain (from
    its fully qualified name); DeliveryError when neither is there."""
    if sender:
        return sender
    fqdn = socket.getfqdn().lower().rstrip(".")
    host, _, domain = fqdn.partition(".")
    # `localhost.localdomain` and reverse-DNS names (`1.0.0.127.in-addr.arpa`) name no domain.
    if domain and host != "localhost" and domain != "localdomain" and not domain.endswith("arpa"):
        return f"rightsizer@{domain}"
    raise DeliveryError(
        f"no sender address: this host's name ({fqdn or 'unknown'}) has no domain to send as "
        "rightsizer@<domain>; give --from ADDRESS (or from under [report] in rightsizer.toml, "
        "or RIGHTSIZER_REPORT_FROM)"
    )


def safe_subject(text: str) -> str:
    """A one-line subject: control characters become spaces, length is capped."""
    one_line = " ".join(CONTROL.sub(" ", text).split())
    if len(one_line) > SUBJECT_MAX:
        one_line = one_line[: SUBJECT_MAX - 1] + "…"
    return one_line


def default_subject(report: Report) -> str:
    """`Lambda S3 permissions: 30 of 42 grants removable, 9 high-risk (to 2026-11-28)`."""
    s = report.summary
    return (
        f"Lambda S3 permissions: {s.grants_removed} of {s.grants_before} grants removable, "
        f"{len(s.high_risk_removed)} high-risk, {s.roles_analysed} roles "
        f"(window to {s.window_end[:10]})"
    )


def safe_file_name(name: str) -> str:
    """A file name made of letters, digits and `._+=,@-` only, never hidden or empty."""
    safe = _UNSAFE_FILE_CHARS.sub("_", name).strip("._")[:100]
    return safe or "role"


def policy_attachments(report: Report) -> list[tuple[str, bytes]]:
    """(file name, JSON bytes) of each role's recommended policy; names are unique."""
    taken: set[str] = set()
    files = []
    for role in report.roles:
        stem = safe_file_name(role.role_name)
        if stem in taken:
            stem = f"{stem}-{safe_file_name(role.account)}"
        base, n = stem, 2
        while stem in taken:
            stem, n = f"{base}-{n}", n + 1
        taken.add(stem)
        body = json.dumps(role.recommended_policy, indent=2, sort_keys=False) + "\n"
        files.append((f"{stem}.policy.json", body.encode("utf-8")))
    return files


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


FINDINGS_COLUMNS = (
    "role_name",
    "role_arn",
    "finding",
    "action",
    "resource",
    "count",
    "last_seen",
    "detail",
)


def findings_csv(report: Report) -> bytes:
    """One row per finding (removed, kept, unknown, denied, warning, ...) as RFC 4180 CSV."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(FINDINGS_COLUMNS)
    for w in report.warnings:  # true of every role: one row, no role named
        writer.writerow(["", "", "warning", "", "", "", "", _cell(f"{w.code}: {w.message}")])
    for role in report.roles:
        rows: list[tuple[Any, ...]] = []
        for x in role.removed:
            detail = "; ".join(x.narrowed_to) or "unused"
            finding = "removed-high-risk" if x.high_risk else "removed"
            rows.append((finding, x.action, x.resource, "", "", detail))
        rows += [("kept", x.action, x.resource, "", "", "") for x in role.kept]
        rows += [("unknown", x.action, x.resource, "", "", "") for x in role.unknown_grants]
        for u in role.unknown:
            rows.append(("unknown-use", u.action, u.resource, "", "", u.reason))
        for bucket in role.buckets:
            for used in bucket.actions:
                rows.append(("used", used.action, used.resource, used.count, used.last_seen, ""))
        for k in role.kms_keys:
            detail = f"{', '.join(k.operations)} via {', '.join(k.buckets)}"
            rows.append(("kms-key-used", "", k.key_arn, k.count, "", detail))
        for d in role.denied:
            rows.append(("denied", d.action, d.resource, d.count, d.last_seen, d.error_code))
        for n in role.not_granted:
            rows.append(("not-granted-by-identity-policy", n.action, n.resource, n.count, "", ""))
        rows += [("warning", "", "", "", "", f"{w.code}: {w.message}") for w in role.warnings]
        for row in rows:
            writer.writerow([_cell(v) for v in (role.role_name, role.role_arn, *row)])
    return buffer.getvalue().encode("utf-8")


def build_message(
    report: Report,
    *,
    sender: str,
    recipients: Sequence[str],
    subject: str | None = None,
    charts: Sequence[Chart] | None = None,
) -> EmailMessage:
    """The report email: multipart/mixed of multipart/alternative (text, HTML with inline
    images in multipart/related) and the attachments (policies as JSON, findings.csv)."""
    if not recipients:
        raise DeliveryError("no recipients for the report; give --to or set report_to")
    from_address = parse_address(sender, "sender")
    to_addresses = [parse_address(r, "recipient") for r in recipients]
    drawn = render_charts(report) if charts is None else list(charts)

    message = EmailMessage()
    message["Subject"] = safe_subject(subject or default_subject(report))
    message["From"] = from_address
    message["To"] = to_addresses
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    message["Message-ID"] = make_msgid(domain=from_address.domain)
    message["X-Mailer"] = "rightsizer"
    message.set_content(render_text(report), subtype="plain", cte="quoted-printable")
    message.add_alternative(render_html(report, images="cid", charts=drawn), subtype="html")
    html_part = cast(list[EmailMessage], message.get_payload())[1]
    for chart in drawn:
        html_part.add_related(
            chart.png,
            maintype="image",
            subtype="png",
            cid=f"<{chart.cid}>",
            filename=f"{chart.name}.png",
            disposition="inline",
        )
    for name, body in policy_attachments(report):
        message.add_attachment(body, maintype="application", subtype="json", filename=name)
    message.add_attachment(
        findings_csv(report), maintype="text", subtype="csv", filename="findings.csv"
    )
    return message
