"""`rightsizer report` end to end: synthetic logs → analysis → email on a real SMTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_report_delivery import Inbox, _serve

from rightsizer import synth
from rightsizer.cli import main
from rightsizer.synth_scenario import LAMBDA_ROLES


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    yield from _serve(Inbox())


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> synth.SynthDataset:
    return synth.generate(tmp_path_factory.mktemp("synth"), days=5)


def report_args(ds: synth.SynthDataset, db: Path, *extra: str) -> list[str]:
    return [
        "report", "--source", str(ds.source_dir), "--db", str(db),
        "--iam-details", str(ds.iam_details), "--lambda-functions", str(ds.lambda_functions),
        "--until", ds.until.isoformat(), "--days", str(ds.days), *extra,
    ]  # fmt: skip


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


def test_recipients_without_a_transport_is_a_clear_error(
    dataset: synth.SynthDataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(report_args(dataset, tmp_path / "r.duckdb", "--to", "sec@example.com")) == 2
    assert "--smtp-host" in capsys.readouterr().err
