"""Report figures in the store: the schema migration and "since the previous report"."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from report_samples import later_analysis, sample_analysis

from rightsizer import store
from rightsizer.report import (
    build_report,
    load_previous,
    render_markdown,
    render_text,
    run_report,
    save_run,
)
from rightsizer.report.changes import figures
from rightsizer.report.errors import ReportError


def test_version_1_database_migrates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "old.duckdb"
    with monkeypatch.context() as patch:
        patch.setattr(store, "SCHEMA_VERSION", 1)
        conn = store.connect(db)
        assert store.schema_version(conn) == 1
        conn.execute("INSERT INTO skipped_files VALUES ('k', 1, 'truncated gzip', NULL)")
        conn.close()
    conn = store.connect(db)
    assert store.schema_version(conn) == store.SCHEMA_VERSION >= 2
    rows = conn.execute("SELECT table_name FROM information_schema.tables").fetchall()
    tables = {r[0] for r in rows}
    assert "report_runs" in tables
    assert conn.execute("SELECT reason FROM skipped_files").fetchall() == [("truncated gzip",)]
    assert load_previous(conn) is None
    conn.close()


def test_figures_round_trip(tmp_path: Path) -> None:
    conn = store.connect(tmp_path / "r.duckdb")
    report = build_report(sample_analysis(), previous=None)
    save_run(conn, report, report_id="first", created_at=dt.datetime(2026, 11, 28, 6))
    assert load_previous(conn) == figures(report)
    row = conn.execute("SELECT window_start, window_end FROM report_runs").fetchone()
    assert row == (dt.datetime(2026, 8, 30), dt.datetime(2026, 11, 28))


def test_latest_report_is_the_previous_one(tmp_path: Path) -> None:
    conn = store.connect(tmp_path / "r.duckdb")
    older = build_report(sample_analysis(), previous=None)
    newer = build_report(later_analysis(), previous=None)
    save_run(conn, newer, report_id="b", created_at=dt.datetime(2026, 12, 5))
    save_run(conn, older, report_id="a", created_at=dt.datetime(2026, 11, 28))
    assert load_previous(conn) == figures(newer)


def test_changes_across_two_runs_on_one_database(tmp_path: Path) -> None:
    db = tmp_path / "rightsizer.duckdb"
    conn = store.connect(db)
    first = run_report(sample_analysis(), conn)
    assert first.report.changes is None
    assert first.report_id is not None
    conn.close()

    conn = store.connect(db)
    second = run_report(later_analysis(), conn)
    changes = second.report.changes
    assert changes is not None
    assert changes.previous_window_end == "2026-11-28T00:00:00Z"
    assert changes.new_roles == ("etl-loader-v2",)
    assert changes.gone_roles == ()
    assert [(g.role_name, g.action, g.resource) for g in changes.new_grants] == [
        ("report-writer", "s3:PutBucketPolicy", "arn:aws:s3:::acme-reports"),
    ]
    assert [(g.role_name, g.action, g.resource) for g in changes.newly_unused] == [
        ("report-writer", "s3:GetObject", "arn:aws:s3:::acme-reports/*"),
    ]
    moved = {f.label: (f.previous, f.current) for f in changes.figures}
    assert moved["Roles analysed"] == (4, 5)
    assert moved["S3 grants held"] == (9, 12)
    assert conn.execute("SELECT count(*) FROM report_runs").fetchone() == (2,)

    text = render_text(second.report)
    assert "Compared with the report of the window 2026-08-30 00:00 UTC" in text
    assert "New roles: etl-loader-v2" in text
    assert "s3:PutBucketPolicy" in text.split("Newly unused")[0]
    markdown = render_markdown(second.report)
    assert "| Roles analysed | 4 | 5 | +1 |" in markdown


def test_a_report_of_some_roles_is_compared_only_with_one_of_the_same_roles(
    tmp_path: Path,
) -> None:
    conn = store.connect(tmp_path / "r.duckdb")
    run_report(sample_analysis(), conn)  # every role
    scope = {"roles": [], "accounts": ["111122223333"], "only_changes": True}
    some = {**later_analysis(), "scope": scope}
    first_of_its_scope = run_report(some, conn)
    assert first_of_its_scope.report.changes is None
    assert "scope: accounts 111122223333; only roles whose policy changes" in (
        first_of_its_scope.text
    )
    # Compared with the report of every role, not with the later one of some roles: nothing
    # left, nothing new (against the later one, etl-loader-v2 would be gone).
    every_role = run_report(sample_analysis(), conn).report.changes
    assert every_role is not None
    assert (every_role.new_roles, every_role.gone_roles) == ((), ())
    again = run_report(some, conn)
    assert again.report.changes is not None and again.report.changes.gone_roles == ()
    assert "of the same scope" in again.text


def test_figures_kept_before_scopes_are_those_of_every_role(tmp_path: Path) -> None:
    conn = store.connect(tmp_path / "r.duckdb")
    conn.execute(
        "INSERT INTO report_runs VALUES ('old', TIMESTAMP '2026-11-01', NULL, NULL, ?)",
        ['{"version": 1}'],
    )
    assert load_previous(conn) == {"version": 1}
    assert load_previous(conn, "accounts 111122223333") is None


def test_a_role_that_left_and_grants_no_longer_held() -> None:
    previous = figures(build_report(later_analysis(), previous=None))
    report = build_report(sample_analysis(), previous=previous)
    assert report.changes is not None
    assert report.changes.gone_roles == ("etl-loader-v2",)
    assert [(g.action, g.resource) for g in report.changes.no_longer_held] == [
        ("s3:PutBucketPolicy", "arn:aws:s3:::acme-reports"),
    ]
    assert report.changes.new_grants == ()


def test_figures_of_an_older_format_read_with_defaults() -> None:
    report = build_report(sample_analysis(), previous={"version": 1})
    assert report.changes is not None
    assert report.changes.new_roles == tuple(r.role_name for r in report.roles)
    assert all(f.previous == 0 for f in report.changes.figures)


def test_html_file_without_sending(tmp_path: Path) -> None:
    conn = store.connect(tmp_path / "r.duckdb")
    out = tmp_path / "report.html"
    result = run_report(sample_analysis(), conn, out=out)
    assert result.html_path == out and result.transport is None and result.sent_to == ()
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report")] == []
    assert result.text.startswith("LAMBDA S3 PERMISSIONS REPORT\n")
    assert load_previous(conn) == figures(result.report)


def test_unwritable_out_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="does not exist; create it first"):
        run_report(sample_analysis(), None, out=tmp_path / "missing" / "report.html")


def test_preview_without_storing(tmp_path: Path) -> None:
    conn = store.connect(tmp_path / "r.duckdb")
    result = run_report(sample_analysis(), conn, store=False)
    assert result.report_id is None and load_previous(conn) is None
