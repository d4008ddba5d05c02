"""Config precedence, the window, the store schema and the CLI's error handling."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from rightsizer import store
from rightsizer.cli import main
from rightsizer.config import Flags, Settings, load_settings
from rightsizer.errors import ConfigError, StoreError
from rightsizer.window import Window, parse_until


def test_settings_precedence_flag_env_file_default(tmp_path: Path) -> None:
    (tmp_path / "rightsizer.toml").write_text(
        'db = "from-file.duckdb"\ndays = 30\nsource = "s3://b/p"\n'
    )
    env = {"RIGHTSIZER_DAYS": "7"}
    settings = load_settings(Flags(db="flag.duckdb"), env=env, cwd=tmp_path)
    assert settings.db == "flag.duckdb" and settings.origin["db"] == "flag"
    assert settings.days == 7 and settings.origin["days"] == "env RIGHTSIZER_DAYS"
    assert settings.source == "s3://b/p" and settings.origin["source"].endswith("rightsizer.toml")
    assert settings.granularity == "prefix" and settings.origin["granularity"] == "default"


def test_settings_reject_bad_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="days"):
        load_settings(None, env={"RIGHTSIZER_DAYS": "ninety"}, cwd=tmp_path)
    (tmp_path / "rightsizer.toml").write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(None, env={}, cwd=tmp_path)


def test_a_decimal_setting_is_read_from_the_environment_and_the_file(tmp_path: Path) -> None:
    env = {"RIGHTSIZER_MAX_SCAN_GB": "2.5"}
    assert load_settings(None, env=env, cwd=tmp_path).max_scan_gb == 2.5
    (tmp_path / "rightsizer.toml").write_text("max_scan_gb = 40\n[athena]\ndatabase = 'sec'\n")
    from_file = load_settings(None, env={}, cwd=tmp_path)
    assert (from_file.max_scan_gb, from_file.athena_database) == (40.0, "sec")
    with pytest.raises(ConfigError, match="max_scan_gb = 'lots' is not a valid float"):
        load_settings(None, env={"RIGHTSIZER_MAX_SCAN_GB": "lots"}, cwd=tmp_path)


def test_secrets_only_from_environment_and_masked(tmp_path: Path) -> None:
    settings = load_settings(None, env={"RIGHTSIZER_SMTP_PASSWORD": "hunter2"}, cwd=tmp_path)
    shown = {name: value for name, value, _ in settings.describe()}
    assert shown["smtp_password"] == "***"
    (tmp_path / "rightsizer.toml").write_text("[smtp]\npassword = 'x'\n")
    with pytest.raises(ConfigError, match="RIGHTSIZER_SMTP_PASSWORD"):
        load_settings(None, env={}, cwd=tmp_path)


def test_window_bounds_and_delivery_days() -> None:
    until = parse_until("2026-11-03")
    assert until == dt.datetime(2026, 11, 3)
    window = Window.ending(until, 2)
    assert window.start == dt.datetime(2026, 11, 1)
    assert window.delivery_days() == [
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 2),
        dt.date(2026, 11, 3),
        dt.date(2026, 11, 4),
    ]
    assert parse_until("2026-11-03T10:30:00+02:00") == dt.datetime(2026, 11, 3, 8, 30)
    with pytest.raises(ConfigError, match="--until"):
        parse_until("yesterday")


def test_store_creates_schema_and_refuses_newer(tmp_path: Path) -> None:
    path = tmp_path / "r.duckdb"
    conn = store.connect(path)
    assert store.schema_version(conn) == store.SCHEMA_VERSION
    conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        store.connect(path)


def test_store_rejects_a_file_that_is_not_duckdb(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.duckdb"
    bogus.write_text("hello")
    with pytest.raises(StoreError, match="not a readable DuckDB"):
        store.connect(bogus)


def test_second_writer_gets_a_clear_message(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "r.duckdb"
    store.connect(path).close()
    script = f"import duckdb,time; c=duckdb.connect({str(path)!r}); print('ok', flush=True); "
    holder = subprocess.Popen(
        [sys.executable, "-c", script + "time.sleep(30)"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        with pytest.raises(StoreError, match="in use by another rightsizer run"):
            store.connect(path, wait_seconds=0.5)
    finally:
        holder.kill()
        holder.wait()
    assert isinstance(store.connect(path), duckdb.DuckDBPyConnection)


def test_cli_user_error_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["config"])
    assert code == 0
    assert "granularity" in capsys.readouterr().out


def test_a_fresh_connection_is_ready_for_relational_queries(tmp_path: Path) -> None:
    conn = store.connect(tmp_path / "r.duckdb")
    assert conn.sql("SELECT count(*) FROM events").fetchall() == [(0,)]


def test_duckdb_memory_is_bounded_so_big_windows_spill(tmp_path: Path) -> None:
    conn = store.connect(tmp_path / "r.duckdb", memory_limit="300MB")
    ((limit,),) = conn.execute("SELECT current_setting('memory_limit')").fetchall()
    assert limit == "286.1 MiB"  # 300 MB as DuckDB shows it


def test_every_command_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    from rightsizer.cli import app

    names = [command.name for command in app.registered_commands]
    assert {"ingest", "analyze", "report", "demo", "config"} <= set(names)
    for name in names:
        assert main([name, "--help"]) == 0
        out = capsys.readouterr().out
        assert f"rightsizer {name}" in out and "--help" in out


def test_a_version_2_store_keeps_its_events_drops_the_key_index_and_gains_event_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rightsizer.ingest import load_records

    db = tmp_path / "old.duckdb"
    record = {"eventID": "e-1", "eventTime": "2026-11-01T00:00:00Z", "eventName": "GetObject"}
    with monkeypatch.context() as patch:
        patch.setattr(store, "SCHEMA_VERSION", 2)
        conn = store.connect(db)
        conn.execute("INSERT INTO events (event_id, event_name) VALUES ('e-1', 'GetObject')")
        conn.close()
    conn = store.connect(db)
    assert store.schema_version(conn) == store.SCHEMA_VERSION
    assert conn.execute("SELECT event_id, event_name FROM events").fetchall() == [
        ("e-1", "GetObject")
    ]
    kinds = conn.execute(
        "SELECT constraint_type FROM duckdb_constraints() WHERE table_name = 'events'"
    ).fetchall()
    assert kinds == [("NOT NULL",)]
    assert conn.execute(
        "SELECT count(*) FROM events WHERE event_key = hash(event_id)"
    ).fetchall() == [(1,)]
    assert load_records(conn, [record, {**record, "eventID": "e-2"}]) == 1  # still deduped


def test_event_keys_are_computed_again_when_duckdb_hashes_differently(tmp_path: Path) -> None:
    from rightsizer.ingest import load_records

    db = tmp_path / "r.duckdb"
    conn = store.connect(db)
    # A new database records this DuckDB's hash, so it is not keyed again at every connect.
    ((probe,),) = conn.execute(
        "SELECT value = hash(?)::VARCHAR FROM meta WHERE key = 'event_key_probe'",
        [store.EVENT_KEY_PROBE],
    ).fetchall()
    assert probe
    record = {"eventID": "e-1", "eventTime": "2026-11-01T00:00:00Z", "eventName": "GetObject"}
    assert load_records(conn, [record]) == 1
    # As a DuckDB whose hash() differs would find the keys: none of them matches any more.
    conn.execute("UPDATE events SET event_key = event_key + 1")
    conn.execute("UPDATE meta SET value = 'another hash' WHERE key = 'event_key_probe'")
    conn.close()
    conn = store.connect(db)
    assert conn.execute(
        "SELECT count(*) FROM events WHERE event_key = hash(event_id)"
    ).fetchall() == [(1,)]
    assert load_records(conn, [record]) == 0  # found again through its key
    assert conn.execute("SELECT count(*) FROM events").fetchall() == [(1,)]


def test_store_sessions_draw_no_progress_bar(tmp_path: Path) -> None:
    # DuckDB draws a progress bar on stdout for queries slower than two seconds (a migration,
    # a big window's staging): the JSON that commands print to stdout must stay JSON.
    for read_only in (False, True):
        conn = store.connect(tmp_path / "r.duckdb", read_only=read_only)
        for session in (conn, store.cursor(conn)):
            ((enabled,),) = session.execute(
                "SELECT current_setting('enable_progress_bar')"
            ).fetchall()
            assert enabled is False
        conn.close()


def test_settings_are_typed_and_hide_secrets_from_repr(tmp_path: Path) -> None:
    env = {"RIGHTSIZER_SMTP_PASSWORD": "hunter2", "RIGHTSIZER_REPORT_TO": "a@x.org, b@x.org"}
    settings = load_settings(Flags(smtp_port=2525), env=env, cwd=tmp_path)
    assert settings.smtp_port == 2525 and settings.report_to == ("a@x.org", "b@x.org")
    assert settings.smtp_password == "hunter2" and "hunter2" not in repr(settings)


def test_every_flag_is_a_setting_of_the_same_type() -> None:
    import dataclasses
    import typing

    settings = typing.get_type_hints(Settings)
    for name, hint in typing.get_type_hints(Flags).items():
        # A flag with no setting of its name would be silently ignored.
        assert name in settings
        given = {a for a in typing.get_args(hint) if a is not type(None)}
        wanted = settings[name]
        if typing.get_origin(wanted) is tuple:  # lists on the command line, tuples after
            assert given == {list[str]}
        else:
            assert given <= {wanted, *typing.get_args(wanted)}
    assert {f.name for f in dataclasses.fields(Flags)} < set(settings)


def test_memory_limit_is_an_amount_of_memory(tmp_path: Path) -> None:
    env = {"RIGHTSIZER_MEMORY_LIMIT": "2GB"}
    assert load_settings(None, env=env, cwd=tmp_path).memory_limit == "2GB"
    assert load_settings(None, env={}, cwd=tmp_path).memory_limit == store.MEMORY_LIMIT
    with pytest.raises(ConfigError, match="memory_limit 'lots' is not an amount of memory"):
        load_settings(None, env={"RIGHTSIZER_MEMORY_LIMIT": "lots"}, cwd=tmp_path)
