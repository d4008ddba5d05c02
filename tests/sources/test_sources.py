"""Log file keys and listing a local CloudTrail tree: accounts, organizations, regions, and only
the day folders of the window."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from trail_logs import (
    OTHER_ACCOUNT,
    WINDOW,
    build_tree,
)

from rightsizer.errors import SourceError
from rightsizer.sources import LogKey, open_source, parse_log_key
from rightsizer.sources.local import LocalSource
from rightsizer.window import Window


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/01/"
            "111122223333_CloudTrail_us-east-1_20261001T2355Z_Ab12Cd34Ef56Gh78.json.gz",
            LogKey(None, "111122223333", "us-east-1", dt.datetime(2026, 10, 1, 23, 55)),
        ),
        (
            "trail/prefix/AWSLogs/o-a1b2c3d4e5/444455556666/CloudTrail/us-gov-west-1/2026/01/31/"
            "444455556666_CloudTrail_us-gov-west-1_20260131T0000Z_x1.json.gz",
            LogKey("o-a1b2c3d4e5", "444455556666", "us-gov-west-1", dt.datetime(2026, 1, 31)),
        ),
    ],
)
def test_log_keys_are_parsed(key: str, expected: LogKey) -> None:
    assert parse_log_key(key) == expected


@pytest.mark.parametrize(
    "key",
    [
        # Digest files: another folder, and seconds in the stamp.
        "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/10/01/111122223333_CloudTrail-"
        "Digest_us-east-1_trail_us-east-1_20261001T235500Z.json.gz",
        "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2026/10/01/111122223333_CloudTrail-"
        "Insight_us-east-1_20261001T2355Z_Ab12Cd34Ef56Gh78.json.gz",
        # The account in the name must be the folder's account.
        "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/01/"
        "999999999999_CloudTrail_us-east-1_20261001T2355Z_Ab12Cd34Ef56Gh78.json.gz",
        # Not a time.
        "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/01/"
        "111122223333_CloudTrail_us-east-1_20261001T2399Z_Ab12Cd34Ef56Gh78.json.gz",
        # Not a date.
        "AWSLogs/111122223333/CloudTrail/us-east-1/2026/02/30/"
        "111122223333_CloudTrail_us-east-1_20260230T2355Z_Ab12Cd34Ef56Gh78.json.gz",
        "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/01/notes.txt",
        "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/01/"
        "111122223333_CloudTrail_us-east-1_20261001T2355Z_Ab12Cd34Ef56Gh78.json",
    ],
)
def test_other_keys_are_not_log_files(key: str) -> None:
    assert parse_log_key(key) is None


def test_listing_finds_accounts_orgs_and_regions_in_the_window(tmp_path: Path) -> None:
    wanted = build_tree(tmp_path)
    listing = open_source(str(tmp_path)).list_files(WINDOW)
    assert {f.key for f in listing.files} == wanted
    assert [f.key for f in listing.files] == sorted(wanted)
    # Digest and Insight folders are never listed; AWSLogs/stray.json and README.txt are.
    assert (listing.other_files, listing.unexpected_folders) == (2, [])
    org_file = next(f for f in listing.files if f.account == OTHER_ACCOUNT)
    assert (org_file.region, org_file.delivered_at) == (
        "ap-southeast-2",
        dt.datetime(2026, 10, 2, 12),
    )
    assert org_file.size == (tmp_path / org_file.key).stat().st_size


def test_window_reads_only_its_delivery_days(tmp_path: Path) -> None:
    build_tree(tmp_path)
    one_day = Window(dt.datetime(2026, 10, 2), dt.datetime(2026, 10, 3))
    days = {f.delivered_at.date() for f in open_source(str(tmp_path)).list_files(one_day).files}
    # Folders from the start day to a day past the end; the 1st and the 5th stay unread.
    assert days == {dt.date(2026, 10, 2), dt.date(2026, 10, 3), dt.date(2026, 10, 4)}


def test_source_may_name_the_awslogs_folder(tmp_path: Path) -> None:
    wanted = build_tree(tmp_path)
    source = open_source(str(tmp_path / "AWSLogs"))
    assert isinstance(source, LocalSource)
    assert {f.key for f in source.list_files(WINDOW).files} == wanted
    assert source.read(source.list_files(WINDOW).files[0])[:2] == b"\x1f\x8b"


def test_missing_folder_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="is not a directory"):
        open_source(str(tmp_path / "nowhere"))


def test_folder_without_awslogs_is_a_source_error(tmp_path: Path) -> None:
    (tmp_path / "something").mkdir()
    with pytest.raises(SourceError, match="no AWSLogs/ folder"):
        open_source(str(tmp_path)).list_files(WINDOW)
