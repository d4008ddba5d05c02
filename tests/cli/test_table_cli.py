"""What `rightsizer analyze` shows people: the table, "no change", the role filters, and the
same format whether or not stdout is a terminal. End to end on the synthetic data set."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import dataset_options
from trail_logs import log_key, write_log
from usage_events import object_resources, role_identity, s3_event

from rightsizer import synth
from rightsizer.cli import main
from rightsizer.synth.scenario import CONFIG_READER_ROLE

ROOT = Path(__file__).resolve().parents[2]
COUNT_KEYS = ("grants", "s3_actions", "wildcard_actions")  # the columns shown
OTHER_ACCOUNT = "444455556666"


def args(ds: synth.SynthDataset, db: Path, *extra: str, source: Path | None = None) -> list[str]:
    source_dir = source or ds.source_dir
    return ["analyze", "--source", str(source_dir), "--db", str(db), *dataset_options(ds), *extra]


@pytest.fixture(scope="module")
def db(dataset: synth.SynthDataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "r.duckdb"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(args(dataset, path, "--format", "json")) == 0
    path.with_suffix(".json").write_text(buffer.getvalue())
    return path


@pytest.fixture(scope="module")
def analysis(db: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(db.with_suffix(".json").read_text())
    return data


def shown(
    dataset: synth.SynthDataset,
    db: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *extra: str,
    width: int = 200,
) -> str:
    monkeypatch.setenv("COLUMNS", str(width))
    assert main(args(dataset, db, *extra)) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("width", [80, 100, 120])
def test_the_table_never_breaks_a_name_or_an_action(
    width: int,
    dataset: synth.SynthDataset,
    db: Path,
    analysis: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = shown(dataset, db, capsys, monkeypatch, "--format", "table", width=width)
    words = {
        word
        for role in analysis["roles"]
        for word in [role["role_name"], *role["functions"], *(u["action"] for u in role["used"])]
    }
    # Each name and action is whole on one line: none is cut by a border or a line end.
    broken = sorted(w for w in words if not any(w in line for line in out.splitlines()))
    assert broken == []
    assert max(len(line.rstrip()) for line in out.splitlines()) <= width


def test_the_table_ends_with_the_totals_of_the_roles(
    dataset: synth.SynthDataset,
    db: Path,
    analysis: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = shown(dataset, db, capsys, monkeypatch, "--format", "table")
    roles = analysis["roles"]
    (totals,) = [line for line in out.splitlines() if line.startswith(f"all {len(roles)} roles")]
    for key in COUNT_KEYS:
        before = sum(r["counts"]["before"][key] for r in roles)
        after = sum(r["counts"]["after"][key] for r in roles)
        assert f"{before} → {after}" in totals


def test_a_role_that_needs_no_change_says_so_on_every_output(
    dataset: synth.SynthDataset,
    db: Path,
    analysis: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    roles = {r["role_name"]: r for r in analysis["roles"]}
    same = roles[CONFIG_READER_ROLE.name]
    assert same["changed"] is False and same["diff"]["unified"] == ""
    assert same["recommended_policy"] == same["current_policy"]  # Sids and order as today
    assert all(r["changed"] for name, r in roles.items() if name != CONFIG_READER_ROLE.name)

    table = shown(dataset, db, capsys, monkeypatch, "--format", "table").splitlines()
    row = next(i for i, line in enumerate(table) if line.startswith(CONFIG_READER_ROLE.name))
    assert table[row + 1].startswith("no change")
    assert sum("no change" in line for line in table) == 1

    markdown = shown(dataset, db, capsys, monkeypatch, "--format", "markdown")
    assert f"| {CONFIG_READER_ROLE.name} (no change) |" in markdown
    assert markdown.count("**No change**") == 1

    report_args = args(dataset, db, "--preview")  # stores nothing: no "since the previous"
    report_args[0] = "report"
    assert main(report_args) == 0
    report = capsys.readouterr().out
    (summary_row,) = [line for line in report.splitlines() if CONFIG_READER_ROLE.name in line][:1]
    assert "no change" in summary_row
    assert report.count("No change: the recommended policy is today's") == 1

    out = tmp_path / "out"
    shown(dataset, db, capsys, monkeypatch, "--format", "json", "--out", str(out))
    assert (out / f"{CONFIG_READER_ROLE.name}.diff").read_text() == ""


def test_only_changes_leaves_out_the_roles_that_need_none(
    dataset: synth.SynthDataset,
    db: Path,
    analysis: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = json.loads(shown(dataset, db, capsys, monkeypatch, "--format", "json", "--only-changes"))
    changed = [r["role_name"] for r in analysis["roles"] if r["changed"]]
    assert [r["role_name"] for r in data["roles"]] == changed
    assert CONFIG_READER_ROLE.name not in changed
    assert data["scope"] == {"roles": [], "accounts": [], "only_changes": True}

    table = shown(dataset, db, capsys, monkeypatch, "--only-changes")
    assert CONFIG_READER_ROLE.name not in table and changed[0] in table

    report_args = args(dataset, db, "--only-changes", "--preview")
    report_args[0] = "report"
    assert main(report_args) == 0
    report = capsys.readouterr().out
    assert CONFIG_READER_ROLE.name not in report and all(name in report for name in changed)
    assert "scope: only roles whose policy changes" in report


def test_account_keeps_the_roles_of_the_accounts_given(
    dataset: synth.SynthDataset,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # A Lambda role of a second account, known from its calls (an organization's logs).
    source = tmp_path / "logs"
    shutil.copytree(dataset.source_dir, source)
    other_role = f"arn:aws:iam::{OTHER_ACCOUNT}:role/other-role"
    when = dataset.until - dt.timedelta(days=1)
    record = s3_event(
        "GetObject",
        {"bucketName": "other-data", "key": "in/a.csv"},
        resources=object_resources("other-data", "in/a.csv"),
        identity=role_identity(other_role, "other-fn", account=OTHER_ACCOUNT),
        when=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        region="us-east-1",
        recipient=OTHER_ACCOUNT,
    )
    write_log(source, log_key(when, account=OTHER_ACCOUNT), [record])
    db = tmp_path / "r.duckdb"

    def roles(*extra: str) -> list[str]:
        monkeypatch.setenv("COLUMNS", "200")
        assert main(args(dataset, db, "--format", "json", *extra, source=source)) == 0
        return [r["role_arn"] for r in json.loads(capsys.readouterr().out)["roles"]]

    assert roles("--account", OTHER_ACCOUNT) == [other_role]
    home = roles("--account", "111122223333")
    assert len(home) == 6 and other_role not in home
    assert set(roles("--account", OTHER_ACCOUNT, "--account", "111122223333")) == {
        other_role,
        *home,
    }
    for wrong, says in (("1234", "is not an AWS account id"), ("999999999999", "no Lambda role")):
        assert main(args(dataset, db, "--account", wrong, source=source)) == 2
        error = capsys.readouterr().err.splitlines()[-1]
        assert error.startswith("error: --account") and wrong in error and says in error


def test_the_output_is_the_table_in_a_file_too(
    dataset: synth.SynthDataset, db: Path, tmp_path: Path
) -> None:
    # As a user types it: stdout goes to a file, not a terminal; no --format.
    saved = tmp_path / "analysis.txt"
    with saved.open("w") as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "rightsizer.cli", *args(dataset, db)],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "120"},
        )
    assert done.returncode == 0, done.stderr
    text = saved.read_text()
    assert text.lstrip().startswith("S3 right-sizing") and CONFIG_READER_ROLE.name in text
