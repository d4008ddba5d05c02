"""The command line's own machinery: a light start, shared option bundles, error mapping."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import duckdb
import pytest
import typer
from typer.testing import CliRunner

from rightsizer.cli import main
from rightsizer.cli.options import (
    ENGINE_HELP,
    FORMAT_HELP,
    AnalysisOptions,
    DeliveryOptions,
    bundled,
    flags,
)
from rightsizer.config import Flags

HEAVY = ("pandas", "matplotlib", "boto3", "botocore", "duckdb", "pyarrow", "jinja2", "numpy")


@pytest.mark.parametrize("argv", [["--help"], ["analyze", "--help"], ["config"]])
def test_starting_the_command_line_loads_no_heavy_library(argv: list[str]) -> None:
    # A fresh interpreter: this test process has imported all of them long ago.
    script = (
        "import json, sys\n"
        "from rightsizer.cli import main\n"
        f"code = main({argv!r})\n"
        f"print(json.dumps([code, [m for m in {HEAVY!r} if m in sys.modules]]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    code, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert code == 0
    assert loaded == []


def test_an_ingest_with_nothing_new_loads_no_pandas() -> None:
    # pyarrow loads pandas when it first converts a Python value; decoding needs that, a
    # listing that finds nothing new does not.
    script = "import sys, rightsizer.ingest; print('pandas' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


def test_printing_an_analysis_as_json_loads_no_terminal_or_template_library() -> None:
    # `analyze --format json` (a scheduled job, a pipe) draws no table, bar or template.
    script = (
        "import sys, rightsizer.render, rightsizer.progress\n"
        "print([m for m in ('rich', 'jinja2', 'rightsizer.report') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr


def test_the_command_exits_with_main_s_code_leaving_shutdown_nothing_to_collect() -> None:
    # What the `rightsizer` script runs. Python's shutdown collects every object the
    # collector tracks; the command hands them over frozen, so those collections are short.
    script = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print(gc.get_freeze_count(), len(gc.get_objects())))\n"
        "from rightsizer.cli import run\n"
        "sys.argv = ['rightsizer', 'config', '--format', 'yaml']\n"
        "run()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 2  # main's code for a bad option value
    assert "--format 'yaml' is not one of text, json" in done.stderr
    frozen, tracked = map(int, done.stdout.split())
    assert tracked < frozen / 10


def test_the_format_help_is_the_registry_s() -> None:
    from rightsizer.render import format_help

    assert format_help() == FORMAT_HELP


def test_the_engine_help_is_the_registry_s() -> None:
    from rightsizer.engine import engine_help

    assert engine_help() == ENGINE_HELP


def test_bundles_give_their_settings_and_keep_the_rest_to_the_command() -> None:
    options = AnalysisOptions(days=7, until="2026-11-01", role=["a-role"], db="x.duckdb")
    delivery = DeliveryOptions(report_to=["sec@example.com"], smtp_port=25, ses=False)
    assert flags(options, delivery) == Flags(
        days=7, db="x.duckdb", report_to=["sec@example.com"], smtp_port=25, ses=False
    )


def test_a_bundled_command_gets_its_bundle_and_its_own_options() -> None:
    seen: dict[str, Any] = {}
    app = typer.Typer()

    @app.command()
    @bundled
    def command(
        options: AnalysisOptions,
        loud: Annotated[bool, typer.Option("--loud")] = False,
    ) -> None:
        seen.update(options=options, loud=loud)

    @app.command()
    def other() -> None:
        """A second command, so Typer keeps command names."""

    runner = CliRunner()
    result = runner.invoke(app, ["command", "--days", "5", "--role", "a", "--role", "b", "--loud"])
    assert result.exit_code == 0, result.output
    assert seen == {"options": AnalysisOptions(days=5, role=["a", "b"]), "loud": True}


def test_an_option_declared_twice_is_refused_when_the_command_is_made() -> None:
    def command(options: AnalysisOptions, days: int = 1) -> None:
        """Declares --days a second time."""

    with pytest.raises(TypeError, match="declared twice: days"):
        bundled(command)


def test_a_duckdb_io_error_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args: Any, **kwargs: Any) -> None:
        raise duckdb.IOException("IO Error: could not write to the write-ahead log")

    monkeypatch.setattr("rightsizer.ingest.ingest_into", failing)
    (tmp_path / "logs").mkdir()
    args = ["ingest", "--source", str(tmp_path / "logs"), "--db", str(tmp_path / "s.duckdb")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: IO Error: could not write to the write-ahead log "
        "(a problem of this machine's disk or memory)"
    ]
