"""Sending the report: a real SMTP server (aiosmtpd) and SES on a local moto_server."""

from __future__ import annotations

import csv
import io
import json
import logging
import socket
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from aws_guard import setup_client
from test_report_samples import EVIL_NAME, evil_analysis, sample_analysis

from rightsizer import store
from rightsizer.report import (
    DeliveryError,
    SmtpSettings,
    build_message,
    build_report,
    run_report,
    send_smtp,
)

SENDER = "Rightsizer <rightsizer@example.com>"
RECIPIENTS = ["security@example.com", "Ops Team <ops@example.com>"]
USER, PASSWORD = "reporter", "s3cret-Pa55word"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Inbox:  # aiosmtpd calls the handle_* hooks by name
    """What the SMTP server received: (mail from, recipients, message bytes) per message."""

    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"

    def message(self, index: int = -1) -> EmailMessage:
        parsed = message_from_bytes(self.received[index][2], policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


def _serve(inbox: Inbox, **kwargs: Any) -> Iterator[tuple[Inbox, int]]:
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    yield from _serve(Inbox())


@pytest.fixture
def smtp_auth_server() -> Iterator[tuple[Inbox, int]]:
    yield from _serve(
        Inbox(), authenticator=_authenticator, auth_required=True, auth_require_tls=False
    )


def _walk_types(part: EmailMessage) -> Any:
    if part.is_multipart():
        children = [_walk_types(p) for p in part.iter_parts()]  # type: ignore[arg-type]
        return (part.get_content_type(), children)
    return part.get_content_type()


def _findings(message: EmailMessage) -> list[dict[str, str]]:
    """The rows of the findings.csv attachment."""
    part = next(p for p in message.iter_attachments() if p.get_filename() == "findings.csv")
    assert isinstance(part, EmailMessage)
    return list(csv.DictReader(io.StringIO(part.get_content())))


def test_report_by_smtp_arrives_whole(tmp_path: Path, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    conn = store.connect(tmp_path / "r.duckdb")
    result = run_report(
        sample_analysis(),
        conn,
        to=RECIPIENTS,
        sender=SENDER,
        smtp=SmtpSettings(host="127.0.0.1", port=port),
    )
    assert result.transport == "smtp" and result.sent_to == tuple(RECIPIENTS)

    mail_from, rcpt_tos, _ = inbox.received[0]
    assert mail_from == "rightsizer@example.com"
    assert rcpt_tos == ["security@example.com", "ops@example.com"]
    message = inbox.message()
    assert message["Subject"] == (
        "Lambda S3 permissions: 4 of 8 grants removable, 2 high-risk, 4 roles "
        "(window to 2026-11-28)"
    )
    assert message["To"].addresses[1].display_name == "Ops Team"
    assert message["Message-ID"] == result.message_id
    assert _walk_types(message) == (
        "multipart/mixed",
        [
            (
                "multipart/alternative",
                ["text/plain", ("multipart/related", ["text/html", "image/png", "image/png"])],
            ),
            "application/json",
            "application/json",
            "application/json",
            "application/json",
            "text/csv",
        ],
    )

    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "ROLE thumbnailer-role" in text.get_content()
    image = next(p for p in message.walk() if p.get_content_type() == "image/png")
    cid = image["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html.get_content()
    assert image.get_content().startswith(b"\x89PNG")

    attachments = {p.get_filename() or "": p for p in message.iter_attachments()}
    assert sorted(attachments) == [
        "archive-reader.policy.json",
        "etl-loader.policy.json",
        "findings.csv",
        "report-writer.policy.json",
        "thumbnailer-role.policy.json",
    ]
    policy_doc = json.loads(attachments["thumbnailer-role.policy.json"].get_content())
    expected = next(r for r in sample_analysis()["roles"] if r["role_name"] == "thumbnailer-role")
    assert policy_doc == expected["recommended_policy"]
    rows = _findings(message)
    risky = [
        (r["role_name"], r["action"], r["resource"]) for r in rows if "high-risk" in r["finding"]
    ]
    assert risky == [
        ("report-writer", "s3:DeleteObject", "arn:aws:s3:::acme-reports/*"),
        ("thumbnailer-role", "s3:*", "*"),
    ]
    assert {r["finding"] for r in rows} >= {"removed", "kept", "unknown", "used", "denied"}
    # The figures were stored once the report was out.
    assert conn.execute("SELECT count(*) FROM report_runs").fetchone() == (1,)


def test_hostile_names_cannot_inject_headers(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    report = build_report(evil_analysis(), previous=None)
    message = build_message(
        report,
        sender=SENDER,
        recipients=["security@example.com"],
        subject=f"Weekly for {EVIL_NAME}\r\nX-Injected: 1",
    )
    send_smtp(message, host="127.0.0.1", port=port)
    _, rcpt_tos, raw = inbox.received[0]
    assert rcpt_tos == ["security@example.com"]
    received = inbox.message()
    assert received["Bcc"] is None and received["X-Injected"] is None
    assert received["Subject"] == (
        'Weekly for evil"<script>alert(1)</script> Bcc: x@y X-Injected: 1'
    )
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert not [line for line in head.split(b"\r\n") if line.lower().startswith(b"bcc")]
    names = sorted(p.get_filename() or "" for p in received.iter_attachments())
    assert "evil_script_alert_1_script_Bcc_x@y.policy.json" in names
    # The HTML part escapes what the data holds.
    html = received.get_body(("html",))
    assert html is not None
    assert "<script>" not in html.get_content()
    rows = _findings(received)
    warning = next(r for r in rows if r["finding"] == "warning" and r["detail"].startswith("x<y>"))
    assert warning["role_name"] == EVIL_NAME


def test_a_formula_in_the_data_is_quoted_in_the_csv() -> None:
    analysis = sample_analysis()
    role = next(r for r in analysis["roles"] if r["role_name"] == "archive-reader")
    role["warnings"] = [{"code": "=cmd", "message": "x"}]
    report = build_report(analysis, previous=None)
    message = build_message(report, sender=SENDER, recipients=["a@example.com"])
    rows = _findings(message)
    warnings = [r["detail"] for r in rows if r["role_name"] == "archive-reader"]
    assert warnings[-1] == "'=cmd: x"


def test_bad_addresses_are_refused_before_sending() -> None:
    report = build_report(sample_analysis(), previous=None)
    with pytest.raises(DeliveryError, match="recipient 'not-an-address'"):
        build_message(report, sender=SENDER, recipients=["not-an-address"])
    with pytest.raises(DeliveryError, match="control characters"):
        build_message(report, sender=SENDER, recipients=["a@example.com\r\nBcc: x@y"])
    with pytest.raises(DeliveryError, match="no recipients"):
        build_message(report, sender=SENDER, recipients=[])


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_login(
    smtp_auth_server: tuple[Inbox, int],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    inbox, port = smtp_auth_server
    report = build_report(sample_analysis(), previous=None)
    message = build_message(report, sender=SENDER, recipients=["security@example.com"])
    send_smtp(message, host="127.0.0.1", port=port, user=USER, password=PASSWORD)
    assert len(inbox.received) == 1

    with pytest.raises(DeliveryError) as wrong:
        send_smtp(message, host="127.0.0.1", port=port, user=USER, password="wrong-" + PASSWORD)
    assert str(wrong.value).startswith(f"SMTP server 127.0.0.1:{port} rejected the login (535")
    assert "RIGHTSIZER_SMTP_PASSWORD" in str(wrong.value)
    with pytest.raises(DeliveryError, match="refused the sender"):
        send_smtp(message, host="127.0.0.1", port=port)  # no login at all
    out = capsys.readouterr()
    for shown in (str(wrong.value), caplog.text, out.out, out.err):
        assert PASSWORD not in shown
    assert PASSWORD not in repr(SmtpSettings(host="h", user=USER, password=PASSWORD))


def test_smtp_failures_are_one_line(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    report = build_report(sample_analysis(), previous=None)
    message = build_message(report, sender=SENDER, recipients=["a@example.com", "b@example.com"])

    closed = _free_port()
    with pytest.raises(DeliveryError, match=rf"cannot reach SMTP server 127.0.0.1:{closed} "):
        send_smtp(message, host="127.0.0.1", port=closed, timeout=5)
    with pytest.raises(DeliveryError, match="STARTTLS extension not supported"):
        send_smtp(message, host="127.0.0.1", port=port, starttls=True)
    with pytest.raises(DeliveryError, match="one of --smtp-starttls and --smtp-ssl"):
        send_smtp(message, host="127.0.0.1", port=port, starttls=True, ssl=True)

    inbox.refuse = {"a@example.com"}
    with pytest.raises(DeliveryError, match=r"refused a@example\.com; the report went to"):
        send_smtp(message, host="127.0.0.1", port=port)
    assert inbox.received[-1][1] == ["b@example.com"]
    inbox.refuse = {"a@example.com", "b@example.com"}
    with pytest.raises(DeliveryError, match=r"refused every recipient: a@example\.com \(550"):
        send_smtp(message, host="127.0.0.1", port=port)


def test_failed_delivery_is_not_remembered(tmp_path: Path) -> None:
    conn = store.connect(tmp_path / "r.duckdb")
    out = tmp_path / "report.html"
    with pytest.raises(DeliveryError, match="cannot reach"):
        run_report(
            sample_analysis(),
            conn,
            out=out,
            to=["a@example.com"],
            smtp=SmtpSettings(host="127.0.0.1", port=_free_port(), timeout=5),
        )
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert conn.execute("SELECT count(*) FROM report_runs").fetchone() == (0,)
    with pytest.raises(DeliveryError, match="no way to send"):
        run_report(sample_analysis(), conn, to=["a@example.com"])


def _ses_messages(endpoint: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=5) as response:
        data = json.load(response)
    return list(data["ses"]["RawMessage"])


def test_report_by_ses(moto: str, tmp_path: Path) -> None:
    ses = setup_client(boto3.client("ses", region_name="eu-west-1"))
    ses.verify_email_identity(EmailAddress="rightsizer@example.com")
    conn = store.connect(tmp_path / "r.duckdb")
    result = run_report(
        sample_analysis(),
        conn,
        to=["security@example.com"],
        sender=SENDER,
        ses=True,
        ses_region="eu-west-1",
    )
    assert result.transport == "ses" and result.message_id
    sent = _ses_messages(moto)
    assert [m["id"] for m in sent] == [result.message_id]
    assert sent[0]["source"] == "rightsizer@example.com"
    assert "security@example.com" in sent[0]["destinations"]
    message = message_from_bytes(sent[0]["raw_data"].encode(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message.get_content_type() == "multipart/mixed"
    names = sorted(p.get_filename() or "" for p in message.iter_attachments())
    assert names[-2:] == ["report-writer.policy.json", "thumbnailer-role.policy.json"]
    assert "findings.csv" in names
    assert conn.execute("SELECT count(*) FROM report_runs").fetchone() == (1,)


def test_ses_refuses_an_unverified_sender(moto: str) -> None:
    with pytest.raises(DeliveryError, match=r"Amazon SES refused the report: MessageRejected"):
        run_report(
            sample_analysis(),
            None,
            to=["security@example.com"],
            sender="nobody@example.com",
            ses=True,
            ses_region="us-east-1",
        )
