"""Send a report email by SMTP (smtplib) or Amazon SES (boto3 `send_raw_email`).

Credentials are passed in by the caller and never appear in a message or a log line; every
failure becomes a one-line DeliveryError that says what to check.
"""

from __future__ import annotations

import smtplib
import ssl as ssl_module
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from rightsizer.report.errors import DeliveryError

# SES refuses raw messages over 10 MB (after encoding); say so before it does.
SES_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send by SMTP; the password is left out of repr()."""

    host: str
    port: int = 587
    starttls: bool = False
    ssl: bool = False
    user: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else ""
    return f"{exc.smtp_code} {' '.join(text.split())}".strip()


def envelope(message: EmailMessage) -> tuple[str, list[str]]:
    """The envelope sender and recipients (To, Cc, Bcc) of a message, as bare addresses."""
    sender = getaddresses([str(message["From"] or "")])
    recipients = getaddresses([str(v) for k in ("To", "Cc", "Bcc") for v in message.get_all(k, [])])
    addresses = [addr for _, addr in recipients if addr]
    if not sender or not sender[0][1]:
        raise DeliveryError("the report email has no From address; give --from")
    if not addresses:
        raise DeliveryError("the report email has no recipients; give --to")
    return sender[0][1], addresses


def send_smtp(
    message: EmailMessage,
    *,
    host: str,
    port: int = 587,
    starttls: bool = False,
    ssl: bool = False,
    user: str | None = None,
    password: str | None = None,
    timeout: float = 30.0,
) -> None:
    """Send by SMTP, optionally over TLS (`ssl`) or upgraded with STARTTLS, with login."""
    if starttls and ssl:
        raise DeliveryError("choose one of --smtp-starttls and --smtp-ssl, not both")
    if bool(user) != bool(password):
        raise DeliveryError(
            "set both RIGHTSIZER_SMTP_USER and RIGHTSIZER_SMTP_PASSWORD, or neither"
        )
    sender, recipients = envelope(message)
    where = f"SMTP server {host}:{port}"
    try:
        _send(message, sender, recipients, host, port, starttls, ssl, user, password, timeout)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"{where} rejected the login ({_reply(exc)}); "
            "check RIGHTSIZER_SMTP_USER and RIGHTSIZER_SMTP_PASSWORD"
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise DeliveryError(
            f"{where}: {' '.join(str(exc).split())}; check --smtp-starttls / --smtp-ssl "
            "and whether the server expects a login"
        ) from None
    except smtplib.SMTPSenderRefused as exc:
        raise DeliveryError(
            f"{where} refused the sender {exc.sender} ({_reply(exc)}); "
            "check --from, or set RIGHTSIZER_SMTP_USER and RIGHTSIZER_SMTP_PASSWORD"
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        refused = ", ".join(
            f"{addr} ({code} {reply.decode('utf-8', 'replace')})"
            for addr, (code, reply) in sorted(exc.recipients.items())
        )
        raise DeliveryError(f"{where} refused every recipient: {refused}") from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"{where} failed: {_reply(exc)}") from None
    except smtplib.SMTPException as exc:
        raise DeliveryError(f"{where} failed: {' '.join(str(exc).split())}") from None
    except ssl_module.SSLError as exc:
        raise DeliveryError(
            f"TLS with {where} failed ({exc.reason or exc}); "
            "check --smtp-ssl / --smtp-starttls and the port"
        ) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DeliveryError(
            f"cannot reach {where} ({reason}); check --smtp-host and --smtp-port"
        ) from None


def _send(
    message: EmailMessage,
    sender: str,
    recipients: list[str],
    host: str,
    port: int,
    starttls: bool,
    use_ssl: bool,
    user: str | None,
    password: str | None,
    timeout: float,
) -> None:
    context = ssl_module.create_default_context()
    client: smtplib.SMTP
    if use_ssl:
        client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        client.ehlo()
        if starttls:
            client.starttls(context=context)
            client.ehlo()
        if user and password:
            client.login(user, password)
        refused = client.send_message(message, from_addr=sender, to_addrs=recipients)
    if refused:
        names = ", ".join(sorted(refused))
        raise DeliveryError(
            f"SMTP server {host}:{port} refused {names}; the report went to the other recipients"
        )


def send_ses(
    message: EmailMessage,
    *,
    client: Any = None,
    session: Any = None,
    region: str | None = None,
) -> str:
    """Send with Amazon SES `SendRawEmail`; returns the SES message id.

    Without a `client`, one is made from `session` (default: a new boto3 Session, so the
    standard credential chain and AWS_ENDPOINT_URL apply) in `region`.
    """
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    sender, recipients = envelope(message)
    raw = message.as_bytes(policy=policy.SMTP)
    if len(raw) > SES_MAX_BYTES:
        raise DeliveryError(
            f"the report email is {len(raw):,} bytes, over the 10 MB Amazon SES accepts; "
            "analyse fewer roles or write it with --out"
        )
    try:
        if client is None:
            import boto3

            session = session or boto3.Session()
            name = region or session.region_name
            if not name:
                raise DeliveryError("no AWS region for Amazon SES; give --ses-region")
            client = session.client("ses", region_name=name)
        response = client.send_raw_email(
            Source=sender, Destinations=recipients, RawMessage={"Data": raw}
        )
    except NoCredentialsError:
        raise DeliveryError(
            "no AWS credentials for Amazon SES; set a profile or the AWS_* variables"
        ) from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise DeliveryError(
            f"Amazon SES refused the report: {error.get('Code', '?')}: "
            f"{' '.join(str(error.get('Message', '')).split())} "
            f"(check that {sender} is a verified identity in the region)"
        ) from None
    except BotoCoreError as exc:
        raise DeliveryError(f"cannot reach Amazon SES ({exc})") from None
    return str(response["MessageId"])
