"""`rightsizer report` end to end: synthetic logs → analysis → email on a real SMTP server."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import dataset_options
from mail_server import (
    PASSWORD,
    USER,
    Inbox,
    authenticator,
    make_pki,
    serve,
    serve_starttls,
)

from rightsizer import synth
from rightsizer.cli import main
from rightsizer.synth.scenario import LAMBDA_ROLES


@pytest.fixture
def inbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Inbox, int]]:
    """An SMTP server with STARTTLS, its certificate from a private CA named by SSL_CERT_FILE."""
    pki = make_pki(tmp_path / "pki")
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    yield from serve_starttls(Inbox(), pki)


@pytest.fixture
def plain_inbox() -> Iterator[tuple[Inbox, int]]:
    """An SMTP server without TLS that still offers a login."""
    yield from serve(
        Inbox(), authenticator=authenticator, auth_required=True, auth_require_tls=False
    )


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> synth.SynthDataset:
    return synth.generate(tmp_path_factory.mktemp("synth"), days=5)


def report_args(ds: synth.SynthDataset, db: Path, *extra: str) -> list[str]:
    return ["report", "--source", str(ds.source_dir), "--db", str(db), *dataset_options(ds), *extra]


def test_report_is_mailed_with_a_policy_per_role_and_remembered(
    dataset: synth.SynthDataset,
    tmp_path: Path,
    inbox: tuple[Inbox, int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, port = inbox
    db = tmp_path / "r.duckdb"
    smtp = ["--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--from", "rs@example.com"]
    args = report_args(
        dataset, db, "--to", "sec@example.com", *smtp, "--out", str(tmp_path / "r.html")
    )
    assert main(args) == 0
    assert "sent to sec@example.com via smtp" in capsys.readouterr().err
    assert server.encrypted == [True]
    first_text = server.message().get_body(preferencelist=("plain",))
    assert first_text is not None and "This is the first report" in first_text.get_content()
    ((_, recipients, _),) = server.received
    assert recipients == ["sec@example.com"]
    message = server.message()
    attachments = {p.get_filename(): p for p in message.iter_attachments()}
    policies = {name for name in attachments if name.endswith(".policy.json")}
    assert len(policies) == len(LAMBDA_ROLES)
    thumbs = json.loads(attachments["thumbnailer-role-x1y2z3.policy.json"].get_content())
    assert all(s.get("Action") != "s3:*" for s in thumbs["Statement"])
    html = (tmp_path / "r.html").read_text()
    assert "thumbnailer-role-x1y2z3" in html and "data:image/png;base64," in html

    # A second run compares with the first one, which the database remembers.
    assert main(report_args(dataset, db, "--to", "sec@example.com", *smtp)) == 0
    second = server.message(-1)
    text = second.get_body(preferencelist=("plain",))
    assert text is not None
    assert "Compared with the report of the window" in text.get_content()
    assert "This is the first report" not in text.get_content()


def test_without_recipients_or_out_the_text_is_printed(
    dataset: synth.SynthDataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(report_args(dataset, tmp_path / "r.duckdb", "--preview")) == 0
    out = capsys.readouterr().out
    assert "thumbnailer-role-x1y2z3" in out and "report-role" in out


@pytest.mark.parametrize(
    ("options", "env", "error"),
    [
        (["--to", "sec@example.com"], {}, "recipients given but no way to send: set --smtp-host"),
        (["--to", "sec", "--smtp-host", "h"], {}, "recipient 'sec' is not an email address"),
        (["--to", "a@example.com", "--from", "me", "--smtp-host", "h"], {}, "sender 'me'"),
        (
            ["--to", "a@example.com", "--smtp-host", "h", "--smtp-ssl", "--smtp-insecure"],
            {},
            "--smtp-insecure sends without TLS",
        ),
        (
            ["--to", "a@example.com", "--smtp-host", "h"],
            {"RIGHTSIZER_SMTP_USER": USER},
            "set both RIGHTSIZER_SMTP_USER and RIGHTSIZER_SMTP_PASSWORD",
        ),
        (
            ["--to", "a@example.com", "--ses"],
            {"AWS_DEFAULT_REGION": ""},
            "no AWS region for Amazon SES",
        ),
        (["--out", "{tmp}/no-such-folder/r.html"], {}, "no-such-folder for --out does not exist"),
    ],
)
def test_a_report_that_cannot_be_sent_is_refused_before_the_analysis(
    dataset: synth.SynthDataset,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    env: dict[str, str],
    error: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    db = tmp_path / "r.duckdb"
    # A source that does not exist: had the analysis run first, it would have failed on that.
    args = report_args(dataset, db, *[o.format(tmp=tmp_path) for o in options])
    args[args.index("--source") + 1] = str(tmp_path / "no-such-logs")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert error in err and "no-such-logs" not in err
    assert not db.exists()


def test_the_default_sender_is_rightsizer_at_the_host_s_domain_or_must_be_given(
    dataset: synth.SynthDataset,
    tmp_path: Path,
    inbox: tuple[Inbox, int],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, port = inbox
    smtp = ["--to", "sec@example.com", "--smtp-host", "127.0.0.1", "--smtp-port", str(port)]
    monkeypatch.setattr(socket, "getfqdn", lambda name="": "batch-7.corp.example.org")
    assert main(report_args(dataset, tmp_path / "r.duckdb", *smtp)) == 0
    ((mail_from, _, _),) = server.received
    assert mail_from == "rightsizer@corp.example.org"
    assert server.message()["From"] == "rightsizer@corp.example.org"

    # A host without a domain: the sender must be given, and nothing is analysed or sent.
    monkeypatch.setattr(socket, "getfqdn", lambda name="": "buildbox")
    db = tmp_path / "other.duckdb"
    assert main(report_args(dataset, db, *smtp)) == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("error: no sender address: this host's name (buildbox) has no domain")
    assert "--from" in error and "[report]" in error and "RIGHTSIZER_REPORT_FROM" in error
    assert len(server.received) == 1 and not db.exists()

    monkeypatch.setenv("RIGHTSIZER_REPORT_FROM", "audit@example.net")
    assert main(report_args(dataset, db, *smtp)) == 0
    assert server.message()["From"] == "audit@example.net"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_password_goes_in_clear_only_with_smtp_insecure(
    dataset: synth.SynthDataset,
    tmp_path: Path,
    plain_inbox: tuple[Inbox, int],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, port = plain_inbox
    monkeypatch.setenv("RIGHTSIZER_SMTP_USER", USER)
    monkeypatch.setenv("RIGHTSIZER_SMTP_PASSWORD", PASSWORD)
    smtp = ["--to", "sec@example.com", "--smtp-host", "127.0.0.1", "--smtp-port", str(port)]
    args = report_args(dataset, tmp_path / "r.duckdb", *smtp, "--from", "rs@example.com")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"SMTP server 127.0.0.1:{port} does not offer STARTTLS, so the report and the " in err
    assert "--smtp-insecure" in err and server.received == []

    assert main([*args, "--smtp-insecure"]) == 0
    assert server.encrypted == [False]


def test_config_shows_smtp_insecure_and_refuses_an_unknown_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "rightsizer.toml"
    config.write_text('[smtp]\nhost = "relay.internal"\nport = 25\ninsecure = true\n')
    monkeypatch.setenv("RIGHTSIZER_CONFIG", str(config))
    assert main(["config", "--format", "JSON"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["smtp_insecure"] == {"value": "True", "from": str(config)}

    assert main(["config", "--format", "bogus"]) == 2
    out = capsys.readouterr()
    assert out.err == "error: --format 'bogus' is not one of text, json\n" and out.out == ""
