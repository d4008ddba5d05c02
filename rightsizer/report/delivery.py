"""Send a report email by SMTP (smtplib) or Amazon SES (boto3 `send_raw_email`).

Credentials are passed in by the caller and never appear in a message or a log line; every
failure becomes a one-line DeliveryError that says what to check. SMTP is encrypted unless the
user asks otherwise by name (`--smtp-insecure`).
"""

from __future__ import annotations

import smtplib
import ssl as ssl_module
from contextlib import suppress
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any, Literal

from rightsizer import aws
from rightsizer.report.errors import DeliveryError

# SES refuses raw messages over 10 MB (after encoding); say so before it does.
SES_MAX_BYTES = 10 * 1024 * 1024
# Port 465 speaks TLS from the first byte ("SMTPS", RFC 8314); the others upgrade with STARTTLS.
IMPLICIT_TLS_PORT = 465
Encryption = Literal["tls", "starttls", "none"]


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send by SMTP; the password is left out of repr().

    The connection is encrypted unless `insecure`: TLS from the start on port 465 (or with
    `ssl`), STARTTLS on any other port (or with `starttls`), never a fallback to plain text.
    The server's certificate is checked against the system's CAs, or the file SSL_CERT_FILE
    names. Contradictory settings raise DeliveryError here, before any work is done.
    """

    host: str
    port: int = 587
    starttls: bool = False
    ssl: bool = False
    insecure: bool = False
    user: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.starttls and self.ssl:
            raise DeliveryError("choose one of --smtp-starttls and --smtp-ssl, not both")
        if self.insecure and (self.starttls or self.ssl):
            raise DeliveryError(
                "--smtp-insecure sends without TLS, so it cannot go with --smtp-starttls or "
                "--smtp-ssl; drop one"
            )
        if bool(self.user) != bool(self.password):
            raise DeliveryError(
                "set both RIGHTSIZER_SMTP_USER and RIGHTSIZER_SMTP_PASSWORD, or neither"
            )

    @property
    def encryption(self) -> Encryption:
        """`tls` (implicit TLS), `starttls`, or `none` (only when `insecure`)."""
        if self.insecure:
            return "none"
        if self.ssl or (self.port == IMPLICIT_TLS_PORT and not self.starttls):
            return "tls"
        return "starttls"


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


def send_smtp(message: EmailMessage, smtp: SmtpSettings) -> None:
    """Send by SMTP as `smtp` says: encrypted (see SmtpSettings), with login when given one."""
    sender, recipients = envelope(message)
    where = f"SMTP server {smtp.host}:{smtp.port}"
    try:
        _send(message, sender, recipients, smtp)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"{where} rejected the login ({_reply(exc)}); "
            "check RIGHTSIZER_SMTP_USER and RIGHTSIZER_SMTP_PASSWORD"
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise DeliveryError(
            f"{where}: {' '.join(str(exc).split())}; check whether the server expects a login"
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
    except ssl_module.SSLCertVerificationError as exc:
        raise DeliveryError(
            f"{where} showed a certificate this machine does not trust "
            f"({exc.verify_message}); nothing was sent. If it comes from a private CA, set "
            "SSL_CERT_FILE to that CA's certificate (PEM)"
        ) from None
    except ssl_module.SSLError as exc:
        raise DeliveryError(
            f"TLS with {where} failed ({exc.reason or exc}); check the port: 465 speaks TLS "
            "from the start, 587 and 25 upgrade with STARTTLS (--smtp-ssl forces the former)"
        ) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DeliveryError(
            f"cannot reach {where} ({reason}); check --smtp-host and --smtp-port"
        ) from None


def _send(message: EmailMessage, sender: str, recipients: list[str], smtp: SmtpSettings) -> None:
    context = ssl_module.create_default_context()  # verifies the chain and the host name
    client: smtplib.SMTP
    if smtp.encryption == "tls":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    try:
        refused = _converse(client, message, sender, recipients, smtp, context)
    finally:
        # Once the server accepted DATA the report is sent: whatever it replies to QUIT (or a
        # connection dropped then) changes nothing, and after a failure the first error is the
        # one to report. (`with client` would raise on a reply other than 221.)
        with suppress(smtplib.SMTPException, OSError):
            client.docmd("QUIT")
        client.close()
    if refused:
        names = ", ".join(sorted(refused))
        raise DeliveryError(
            f"SMTP server {smtp.host}:{smtp.port} refused {names}; "
            "the report went to the other recipients"
        )


def _converse(
    client: smtplib.SMTP,
    message: EmailMessage,
    sender: str,
    recipients: list[str],
    smtp: SmtpSettings,
    context: ssl_module.SSLContext,
) -> dict[str, tuple[int, bytes]]:
    """Greet, encrypt, log in and send; returns the recipients the server refused."""
    client.ehlo()
    if smtp.encryption == "starttls":
        if not client.has_extn("starttls"):
            # Refuse rather than fall back: nothing, not even AUTH, goes out in clear.
            secret = " and the SMTP password" if smtp.user else ""
            raise DeliveryError(
                f"SMTP server {smtp.host}:{smtp.port} does not offer STARTTLS, so the "
                f"report{secret} would travel unencrypted; nothing was sent. Use its TLS "
                "port (465) or, only for a relay you trust, --smtp-insecure"
            )
        client.starttls(context=context)
        client.ehlo()
    if smtp.user and smtp.password:
        client.login(smtp.user, smtp.password)
    return client.send_message(message, from_addr=sender, to_addrs=recipients)


def send_ses(
    message: EmailMessage,
    *,
    client: Any = None,
    session: Any = None,
    profile: str | None = None,
    region: str | None = None,
) -> str:
    """Send with Amazon SES `SendRawEmail`; returns the SES message id.

    Without a `client`, one is made from `session` (default: `rightsizer.aws.session` with
    `profile` and `region`, so the standard credential chain and AWS_ENDPOINT_URL apply) in
    `region`, else the session's region.
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
            session = session or aws.session(profile, region)
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
