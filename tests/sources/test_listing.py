"""How much listing a window costs on S3, and what the listing reports besides log files.

Requests are counted as boto3 makes them (tests/aws_guard.py records every AWS operation),
against the local moto_server.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from aws_guard import AwsCalls
from trail_logs import log_key, make_record, upload, write_file, write_log

import rightsizer.sources.base as sources_module
from rightsizer.cli import main
from rightsizer.errors import ConfigError
from rightsizer.sources import open_source
from rightsizer.sources.s3 import S3Source
from rightsizer.window import MAX_DAYS, Window

BUCKET = "trail-bucket"
ORG = "o-a1b2c3d4e5"
UNTIL = dt.datetime(2026, 10, 4)
# (org, account, region): two account trails and an organization trail, five regions.
REGIONS = [
    (None, "111122223333", "us-east-1"),
    (None, "111122223333", "eu-west-1"),
    (None, "444455556666", "us-east-1"),
    (ORG, "777788889999", "us-east-1"),
    (ORG, "777788889999", "ap-southeast-2"),
]
ACCOUNTS = {(org, account) for org, account, _ in REGIONS}
# Deliveries over three years; the window's end is 2026-10-04, so the 5th is its last
# delivery day and the 6th lies outside every window here.
DELIVERIES = [
    dt.datetime(2024, 3, 1, 10),
    dt.datetime(2025, 12, 31, 23, 55),
    dt.datetime(2026, 1, 1, 0, 5),
    dt.datetime(2026, 7, 20, 12),
    dt.datetime(2026, 9, 20, 12),
    dt.datetime(2026, 10, 3, 12),
    dt.datetime(2026, 10, 5, 0, 10),
    dt.datetime(2026, 10, 6, 0, 10),
]


def build_accounts(root: Path) -> list[str]:
    """Log files of every region on every delivery day, with Digest and Insight folders beside
    them; returns the log file keys."""
    keys = []
    for org, account, region in REGIONS:
        for delivered in DELIVERIES:
            key = log_key(delivered, account=account, region=region, org=org)
            write_log(root, key, [make_record(f"{account}-{region}-{delivered:%Y%m%d}", delivered)])
            keys.append(key)
    for org, account in ACCOUNTS:
        base = f"AWSLogs/{org + '/' if org else ''}{account}"
        for delivered in DELIVERIES:
            day = f"{delivered:%Y/%m/%d}"
            stamp = f"{delivered:%Y%m%dT%H%M}"
            write_file(
                root,
                f"{base}/CloudTrail-Digest/us-east-1/{day}/{account}_CloudTrail-Digest_"
                f"us-east-1_main_us-east-1_{stamp}00Z.json.gz",
                b"{}",
            )
            write_file(
                root,
                f"{base}/CloudTrail-Insight/us-east-1/{day}/{account}_CloudTrail-Insight_"
                f"us-east-1_{stamp}Z_Ab12Cd34Ef56Gh78.json.gz",
                b"{}",
            )
    return keys


def list_requests(aws_calls: AwsCalls, mark: int) -> list[str]:
    """The prefixes of the ListObjectsV2 requests made since `mark` calls."""
    return [
        str(call.params.get("Prefix", ""))
        for call in aws_calls.calls[mark:]
        if call.operation == "s3:ListObjectsV2"
    ]


@pytest.mark.parametrize("days", [1, 30, 90, 3650])
def test_listing_a_window_costs_a_request_per_region_and_year(
    moto: str, tmp_path: Path, aws_calls: AwsCalls, days: int
) -> None:
    keys = build_accounts(tmp_path / "tree")
    upload(tmp_path / "tree", BUCKET)
    window = Window.ending(UNTIL, days)
    delivery = window.delivery_days()
    mark = len(aws_calls.calls)
    listing = open_source(f"s3://{BUCKET}").list_files(window)
    prefixes = list_requests(aws_calls, mark)

    wanted = {
        key
        for key, delivered in zip(keys, DELIVERIES * len(REGIONS), strict=True)
        if delivery[0] <= delivered.date() <= delivery[-1]
    }
    assert {f.key for f in listing.files} == wanted
    assert not [p for p in prefixes if "CloudTrail-Digest" in p or "CloudTrail-Insight" in p]
    years = len({day.year for day in delivery})
    # Discovery: AWSLogs/, the organization, each account's CloudTrail/ folder; a window over
    # three or more years also lists each region's year folders once.
    discovery = 1 + 1 + len(ACCOUNTS) + (len(REGIONS) if years > 2 else 0)
    stored_years = len({d.year for d in DELIVERIES})
    assert len(prefixes) <= discovery + len(REGIONS) * min(years, stored_years)


def test_a_key_range_is_read_page_by_page_and_stops_after_the_window(
    moto: str, tmp_path: Path, aws_calls: AwsCalls
) -> None:
    root = tmp_path / "tree"
    account, region = "111122223333", "us-east-1"
    # Three deliveries before the window, six in its delivery days (1st to 5th) and six after.
    days = [30, 1, 1, 1, 3, 3, 5, 6, 6, 6, 20, 20, 20]
    for n, day in enumerate(days):
        delivered = dt.datetime(2026, 9 if day == 30 else 10, day, 10, n)
        key = log_key(delivered, account=account, region=region)
        write_log(root, key, [make_record(f"e{n}", delivered)])
    folder = f"AWSLogs/{account}/CloudTrail/{region}/2026"
    # A range of keys also returns what is not in a day folder: none of it is a file of the day.
    write_file(root, f"{folder}/10/02/nested/x.json.gz", b"{}")
    write_file(root, f"{folder}/10/notes.txt", b"hi")
    upload(root, BUCKET)
    source = open_source(f"s3://{BUCKET}")
    assert isinstance(source, S3Source)
    source.page_size = 2
    window = Window(dt.datetime(2026, 10, 1), dt.datetime(2026, 10, 4))
    mark = len(aws_calls.calls)
    listing = source.list_files(window)
    ranged = [p for p in list_requests(aws_calls, mark) if p == f"{folder}/"]

    local = open_source(str(root)).list_files(window)
    assert [f.delivered_at.day for f in listing.files] == [1, 1, 1, 3, 3, 5]
    assert listing.files == local.files
    assert listing.other_files == local.other_files == 0
    # Six keys in the window and notes.txt, two a page: four pages, none of the later days'.
    assert len(ranged) == 4


def test_listing_says_how_far_it_has_got(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_accounts(tmp_path)
    monkeypatch.setattr(sources_module, "STATUS_SECONDS", 0.0)
    lines: list[str] = []
    open_source(str(tmp_path)).list_files(Window.ending(UNTIL, 3650), lines.append)
    assert lines[0] == f"{tmp_path}: listing accounts and regions"
    assert lines[1] == (
        f"{tmp_path}: listing delivery days 2016-10-06 to 2026-10-05 in 5 regions of "
        "3 accounts (15 region-years)"
    )
    assert lines[2:] == [f"{tmp_path}: listed {n} of 15 region-years" for n in range(1, 15)]


def build_unexpected(root: Path) -> None:
    """A tree with folders under AWSLogs/ where an account id or organization id should be."""
    delivered = dt.datetime(2026, 10, 2, 10)
    write_log(root, log_key(delivered), [make_record("good", delivered)])
    for account in ("12345", "aws-account-id=111122223333", f"{ORG}/not-an-account"):
        write_log(
            root,
            f"AWSLogs/{account}/CloudTrail/us-east-1/2026/10/02/{account[-5:]}.json.gz",
            [make_record(account, delivered)],
        )


def test_folders_that_are_not_accounts_are_named(tmp_path: Path) -> None:
    build_unexpected(tmp_path)
    listing = open_source(str(tmp_path)).list_files(Window.ending(UNTIL, 3))
    assert [f.key for f in listing.files] == [log_key(dt.datetime(2026, 10, 2, 10))]
    assert listing.unexpected_folders == [
        "AWSLogs/12345/",
        "AWSLogs/aws-account-id=111122223333/",
        f"AWSLogs/{ORG}/not-an-account/",
    ]


def test_ingest_reports_unexpected_folders_and_strict_fails_on_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_unexpected(tmp_path / "logs")
    args = ["ingest", "--source", str(tmp_path / "logs"), "--until", "2026-10-04", "--days", "3"]
    assert main([*args, "--db", str(tmp_path / "a.duckdb")]) == 0
    out, err = capsys.readouterr()
    assert "unexpected folder AWSLogs/12345/: not an account or organization id" in out
    assert "listing delivery days 2026-10-01 to 2026-10-05 in 1 regions of 1 accounts" in err
    assert main([*args, "--db", str(tmp_path / "b.duckdb"), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["unexpected_folders"] == [
        "AWSLogs/12345/",
        "AWSLogs/aws-account-id=111122223333/",
        f"AWSLogs/{ORG}/not-an-account/",
    ]
    assert summary["events_added"] == 1
    assert main([*args, "--db", str(tmp_path / "c.duckdb"), "--strict"]) == 1


NOW = dt.datetime(2026, 12, 3, 14, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("until", "end"),
    [
        (None, dt.datetime(2026, 12, 3, 14, 30)),
        ("2026-12-03", dt.datetime(2026, 12, 3)),
        ("2026-12-03T14:30:00Z", dt.datetime(2026, 12, 3, 14, 30)),
        ("2026-12-03T15:00:00+01:00", dt.datetime(2026, 12, 3, 14)),
    ],
)
def test_a_window_may_end_now_or_before(until: str | None, end: dt.datetime) -> None:
    assert Window.from_options(until, 3650, NOW).end == end


@pytest.mark.parametrize(
    "until", ["2026-12-04", "2026-12-03T14:30:01Z", "2026-12-03T16:00:00+01:00", "2030-01-01"]
)
def test_a_window_ending_in_the_future_is_refused(until: str) -> None:
    with pytest.raises(ConfigError, match="is in the future") as caught:
        Window.from_options(until, 90, NOW)
    assert "leave --until out" in str(caught.value)


@pytest.mark.parametrize("days", [0, MAX_DAYS + 1, 100_000])
def test_days_out_of_range_are_refused(days: int) -> None:
    with pytest.raises(ConfigError, match="--days"):
        Window.from_options("2026-10-04", days, NOW)


@pytest.mark.parametrize("command", ["ingest", "analyze"])
@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--days", "100000"], "--days 100,000 is more than the maximum of 3,650"),
        (["--days", "0"], "days must be at least 1"),
        (["--until", "2999-01-01"], "--until 2999-01-01 is in the future"),
    ],
)
def test_a_bad_window_stops_before_any_request_or_database(
    moto: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    aws_calls: AwsCalls,
    command: str,
    option: list[str],
    message: str,
) -> None:
    db = tmp_path / "store.duckdb"
    # analyze without --iam-details would read IAM live.
    args = [command, "--source", f"s3://{BUCKET}", "--db", str(db), *option]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert aws_calls.operations() == []
    assert not db.exists()


@pytest.mark.parametrize("command", ["ingest", "analyze", "report"])
def test_help_shows_the_longest_window(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the help text on one line
    assert main([command, "--help"]) == 0
    assert "Window length in days, 1 to 3,650 (90)." in capsys.readouterr().out
