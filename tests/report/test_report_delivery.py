"""Sending the report: a real SMTP server (aiosmtpd) and SES on a local moto_server."""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
import select
import socket
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_guard import setup_client
from mail_server import (
    PASSWORD,
    USER,
    Inbox,
    Pki,
    authenticator,
    free_port,
    make_pki,
    serve,
    serve_starttls,
)
from report_samples import EVIL_NAME, evil_analysis, sample_analysis

from rightsizer import store
from rightsizer.errors import ConfigError
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


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def trusted_pki(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> Pki:
    """The test CA, trusted by the client as a private CA is: through SSL_CERT_FILE."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    return pki


@pytest.fixture
def smtp_server(trusted_pki: Pki) -> Iterator[tuple[Inbox, int]]:
    """STARTTLS with a certificate the client trusts; login optional."""
    yield from serve_starttls(Inbox(), trusted_pki)


@pytest.fixture
def smtp_auth_server(trusted_pki: Pki) -> Iterator[tuple[Inbox, int]]:
    """STARTTLS with a certificate the client trusts; no mail without a login."""
    yield from serve_starttls(Inbox(), trusted_pki, auth_required=True)


@pytest.fixture
def plain_server() -> Iterator[tuple[Inbox, int]]:
    """No TLS at all: what --smtp-insecure is for."""
    yield from serve(Inbox())


@pytest.fixture
def plain_auth_server() -> Iterator[tuple[Inbox, int]]:
    """No TLS, yet it offers AUTH: a client that logs in here sends its password in clear."""
    yield from serve(
        Inbox(), authenticator=authenticator, auth_required=True, auth_require_tls=False
    )


@contextmanager
def wiretap(port: int) -> Iterator[tuple[int, bytearray]]:
    """A relay on a new port in front of `port`: yields it and every byte a client sent."""
    sent = bytearray()
    listener = socket.create_server(("127.0.0.1", 0))

    def relay() -> None:
        client, _ = listener.accept()
        with client, socket.create_connection(("127.0.0.1", port)) as server:
            other = {client: server, server: client}
            while True:
                ready, _, _ = select.select(list(other), [], [], 10)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        sent.extend(data)
                    other[sock].sendall(data)
                if not ready:
                    return

    thread = threading.Thread(target=relay, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], sent
    finally:
        thread.join(timeout=15)
        listener.close()


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
    assert inbox.encrypted == [True]  # STARTTLS on a port other than 465, by default

    mail_from, rcpt_tos, _ = inbox.received[0]
    assert mail_from == "rightsizer@example.com"
    assert rcpt_tos == ["security@example.com", "ops@example.com"]
    message = inbox.message()
    assert message["Subject"] == (
        "Lambda S3 permissions: 4 of 9 grants removable, 2 high-risk, 4 roles "
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
    send_smtp(message, SmtpSettings(host="127.0.0.1", port=port))
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


def test_smtp_login(
    smtp_auth_server: tuple[Inbox, int],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    inbox, port = smtp_auth_server
    report = build_report(sample_analysis(), previous=None)
    message = build_message(report, sender=SENDER, recipients=["security@example.com"])
    login = SmtpSettings(host="127.0.0.1", port=port, user=USER, password=PASSWORD)
    send_smtp(message, login)
    assert len(inbox.received) == 1 and inbox.encrypted == [True]

    wrong_password = SmtpSettings(
        host="127.0.0.1", port=port, user=USER, password="wrong-" + PASSWORD
    )
    with pytest.raises(DeliveryError) as wrong:
        send_smtp(message, wrong_password)
    assert str(wrong.value).startswith(f"SMTP server 127.0.0.1:{port} rejected the login (535")
    assert "RIGHTSIZER_SMTP_PASSWORD" in str(wrong.value)
    with pytest.raises(DeliveryError, match="refused the sender"):
        send_smtp(message, SmtpSettings(host="127.0.0.1", port=port))  # no login at all
    out = capsys.readouterr()
    for shown in (str(wrong.value), caplog.text, out.out, out.err):
        assert PASSWORD not in shown
    assert PASSWORD not in repr(SmtpSettings(host="h", user=USER, password=PASSWORD))


def test_smtp_failures_are_one_line(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    report = build_report(sample_analysis(), previous=None)
    message = build_message(report, sender=SENDER, recipients=["a@example.com", "b@example.com"])
    server = SmtpSettings(host="127.0.0.1", port=port)

    closed = free_port()
    with pytest.raises(DeliveryError, match=rf"cannot reach SMTP server 127.0.0.1:{closed} "):
        send_smtp(message, SmtpSettings(host="127.0.0.1", port=closed, timeout=5))
    with pytest.raises(
        DeliveryError, match=r"TLS with SMTP server .* failed \(.*\); check the port"
    ):
        send_smtp(message, SmtpSettings(host="127.0.0.1", port=port, ssl=True, timeout=5))

    inbox.refuse = {"a@example.com"}
    with pytest.raises(DeliveryError, match=r"refused a@example\.com; the report went to"):
        send_smtp(message, server)
    assert inbox.received[-1][1] == ["b@example.com"]
    inbox.refuse = {"a@example.com", "b@example.com"}
    with pytest.raises(DeliveryError, match=r"refused every recipient: a@example\.com \(550"):
        send_smtp(message, server)


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"starttls": True, "ssl": True}, "one of --smtp-starttls and --smtp-ssl"),
        ({"insecure": True, "ssl": True}, "--smtp-insecure sends without TLS"),
        ({"insecure": True, "starttls": True}, "--smtp-insecure sends without TLS"),
        ({"user": USER}, "set both RIGHTSIZER_SMTP_USER and RIGHTSIZER_SMTP_PASSWORD"),
        ({"password": PASSWORD}, "set both RIGHTSIZER_SMTP_USER and RIGHTSIZER_SMTP_PASSWORD"),
    ],
)
def test_contradictory_smtp_settings_are_refused_when_made(
    settings: dict[str, Any], error: str
) -> None:
    with pytest.raises(DeliveryError, match=error):
        SmtpSettings(host="smtp.example.com", **settings)


def test_encryption_follows_the_port_unless_named() -> None:
    def encryption(**settings: Any) -> str:
        return SmtpSettings(host="smtp.example.com", **settings).encryption

    assert encryption(port=465) == "tls"
    assert [encryption(port=p) for p in (587, 25, 2525)] == ["starttls"] * 3
    assert encryption(port=2465, ssl=True) == "tls"
    assert encryption(port=465, starttls=True) == "starttls"
    assert encryption(port=25, insecure=True) == "none"


def _forms(secret: str) -> list[bytes]:
    """The password as an SMTP client could put it on the wire (AUTH PLAIN or LOGIN)."""
    raw = secret.encode()
    return [raw, base64.b64encode(raw), base64.b64encode(b"\0" + USER.encode() + b"\0" + raw)]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_no_starttls_means_nothing_is_sent_least_of_all_the_password(
    plain_auth_server: tuple[Inbox, int],
) -> None:
    inbox, port = plain_auth_server
    report = build_report(sample_analysis(), previous=None)
    message = build_message(report, sender=SENDER, recipients=["security@example.com"])
    for user, password in ((USER, PASSWORD), (None, None)):
        with wiretap(port) as (tap_port, sent):
            smtp = SmtpSettings(host="127.0.0.1", port=tap_port, user=user, password=password)
            with pytest.raises(DeliveryError) as refused:
                send_smtp(message, smtp)
        assert str(refused.value).startswith(
            f"SMTP server 127.0.0.1:{tap_port} does not offer STARTTLS"
        )
        assert "--smtp-insecure" in str(refused.value)
        assert ("SMTP password" in str(refused.value)) == (user is not None)
        # The server saw the greeting exchange and a goodbye: no AUTH, no mail, no password.
        commands = [line.split(b" ")[0] for line in bytes(sent).splitlines()]
        assert commands == [b"ehlo", b"QUIT"]
        assert not [form for form in _forms(PASSWORD) if form in sent]
    assert inbox.received == []


@pytest.mark.parametrize("mismatch", ["other CA", "other name"])
def test_a_certificate_the_client_does_not_trust_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mismatch: str
) -> None:
    if mismatch == "other CA":  # the client trusts a CA that did not sign the server's cert
        server_pki = make_pki(tmp_path / "server")
        monkeypatch.setenv("SSL_CERT_FILE", str(make_pki(tmp_path / "client").ca))
        reason = "unable to get local issuer certificate"
    else:  # a trusted CA, but the certificate names another host
        server_pki = make_pki(tmp_path / "server", hosts=("mail.example.com",))
        monkeypatch.setenv("SSL_CERT_FILE", str(server_pki.ca))
        reason = "IP address mismatch"
    report = build_report(sample_analysis(), previous=None)
    message = build_message(report, sender=SENDER, recipients=["security@example.com"])
    with contextmanager(serve_starttls)(Inbox(), server_pki) as (inbox, port):
        smtp = SmtpSettings(host="127.0.0.1", port=port, user=USER, password=PASSWORD)
        with pytest.raises(DeliveryError) as refused:
            send_smtp(message, smtp)
        assert inbox.received == []
    assert str(refused.value).startswith(
        f"SMTP server 127.0.0.1:{port} showed a certificate this machine does not trust"
    )
    assert reason in str(refused.value) and "SSL_CERT_FILE" in str(refused.value)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls(trusted_pki: Pki) -> None:
    report = build_report(sample_analysis(), previous=None)
    message = build_message(report, sender=SENDER, recipients=["security@example.com"])
    # aiosmtpd counts only STARTTLS as TLS for AUTH; this connection is TLS from its first byte.
    server = contextmanager(serve)(
        Inbox(),
        ssl_context=trusted_pki.server_context(),
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    with server as (inbox, port):
        send_smtp(message, SmtpSettings("127.0.0.1", port, ssl=True, user=USER, password=PASSWORD))
        assert inbox.encrypted == [True]
        assert inbox.message()["Subject"] == message["Subject"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_insecure_sends_by_plain_smtp(plain_auth_server: tuple[Inbox, int]) -> None:
    inbox, port = plain_auth_server
    report = build_report(sample_analysis(), previous=None)
    message = build_message(report, sender=SENDER, recipients=["security@example.com"])
    smtp = SmtpSettings("127.0.0.1", port, insecure=True, user=USER, password=PASSWORD)
    send_smtp(message, smtp)
    assert inbox.encrypted == [False] and len(inbox.received) == 1


class QuitRefused(Inbox):
    """Accepts the mail, then answers QUIT with an error."""

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        return "554 5.3.0 error while closing the session"


def test_a_report_accepted_after_data_is_sent_whatever_the_reply_to_quit(
    tmp_path: Path, trusted_pki: Pki
) -> None:
    conn = store.connect(tmp_path / "r.duckdb")
    for inbox, port in serve_starttls(QuitRefused(), trusted_pki):
        result = run_report(
            sample_analysis(),
            conn,
            to=["a@example.com"],
            sender=SENDER,
            smtp=SmtpSettings(host="127.0.0.1", port=port),
        )
        assert len(inbox.received) == 1 and result.transport == "smtp"
    assert conn.execute("SELECT count(*) FROM report_runs").fetchone() == (1,)


def test_failed_delivery_is_not_remembered(tmp_path: Path) -> None:
    conn = store.connect(tmp_path / "r.duckdb")
    out = tmp_path / "report.html"
    with pytest.raises(DeliveryError, match="cannot reach"):
        run_report(
            sample_analysis(),
            conn,
            out=out,
            to=["a@example.com"],
            sender=SENDER,
            smtp=SmtpSettings(host="127.0.0.1", port=free_port(), timeout=5),
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


def test_ses_uses_the_named_aws_profile(
    moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The profile alone names the region: only eu-west-1 knows the sender.
    config = tmp_path / "aws-config"
    config.write_text(
        "[profile mail]\nregion = eu-west-1\n"
        "aws_access_key_id = testing\naws_secret_access_key = testing\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    ses = setup_client(boto3.client("ses", region_name="eu-west-1"))
    ses.verify_email_identity(EmailAddress="rightsizer@example.com")
    result = run_report(
        sample_analysis(),
        None,
        to=["security@example.com"],
        sender=SENDER,
        ses=True,
        ses_profile="mail",
    )
    assert [m["id"] for m in _ses_messages(moto)] == [result.message_id]
    with pytest.raises(ConfigError, match="AWS profile 'nobody' is not configured"):
        run_report(
            sample_analysis(),
            None,
            to=["security@example.com"],
            sender=SENDER,
            ses=True,
            ses_profile="nobody",
        )


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
