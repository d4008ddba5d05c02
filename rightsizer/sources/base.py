"""The layout every log source walks and the listing they share (see rightsizer.sources)."""

from __future__ import annotations

import datetime as dt
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TypeVar

from rightsizer.errors import SourceError
from rightsizer.window import Window

LOGS_FOLDER = "AWSLogs"
# The log files' folder under an account; CloudTrail-Digest and CloudTrail-Insight beside it
# hold no API calls.
LOG_FOLDER = "CloudTrail"
# A window over this many calendar years first lists which year folders each region has: a
# year folder costs a request even when it does not exist.
YEAR_DISCOVERY = 3
# How often a long listing says how far it has got.
STATUS_SECONDS = 5.0

_ORG_RE = re.compile(r"^o-[a-z0-9]{10,32}$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_LOG_KEY_RE = re.compile(
    r"^(?:.*/)?AWSLogs/(?:(?P<org>o-[a-z0-9]{10,32})/)?(?P<account>\d{12})/CloudTrail/"
    r"(?P<region>[a-z0-9-]+)/\d{4}/\d{2}/\d{2}/"
    r"(?P=account)_CloudTrail_(?P=region)_(?P<stamp>\d{8}T\d{4}Z)_[A-Za-z0-9]+\.json\.gz$"
)
# A file directly in a day folder, relative to its region folder.
_DAY_FILE_RE = re.compile(r"^\d{4}/\d{2}/\d{2}/[^/]+$")

T = TypeVar("T")
R = TypeVar("R")

#: Receives a line now and then about what a listing is doing (for a progress display).
ListingStatus = Callable[[str], None]


@dataclass(frozen=True, order=True)
class LogFile:
    """One CloudTrail log file; `key` is relative to the source root (starts with AWSLogs/).

    `content_id` tells one content of the file from another, as the listing gives it: the S3
    ETag, a local file's modification time (ns). It is left out of comparisons: the same tree
    in S3 and on disk lists equal files.
    """

    key: str
    size: int
    account: str
    region: str
    delivered_at: dt.datetime
    content_id: str = field(default="", compare=False)


@dataclass
class Listing:
    """The log files of a window, sorted by key, and what else the listing came across."""

    files: list[LogFile]
    #: Files in AWSLogs/, an organization's folder or a listed day folder that are not log files.
    other_files: int = 0
    #: Folders under AWSLogs/ (or an organization's folder) that are not a 12-digit account or
    #: an organization id, sorted: not read, so any logs in them are missing from the window.
    unexpected_folders: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LogKey:
    """What a log file's key says: organization, account, region and delivery time."""

    org_id: str | None
    account: str
    region: str
    delivered_at: dt.datetime


def parse_log_key(key: str) -> LogKey | None:
    """Parse a CloudTrail log file key; None when the key is not a log file's."""
    match = _LOG_KEY_RE.match(key)
    if not match:
        return None
    stamp = match["stamp"]  # YYYYMMDDTHHMMZ, all digits; read by hand: strptime costs 10x
    try:
        delivered = dt.datetime(
            int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[9:11]), int(stamp[11:13])
        )
    except ValueError:  # month 13, 30 February, hour 24, ...
        return None
    return LogKey(match["org"], match["account"], match["region"], delivered)


#: A listed file: its name, size and content id (see `LogFile.content_id`).
Listed = tuple[str, int, str]


@dataclass
class Folder:
    """One level of a listing: sub-folder names and (name, size, content id) of its files."""

    folders: list[str] = field(default_factory=list)
    files: list[Listed] = field(default_factory=list)


@dataclass(frozen=True)
class _YearRange:
    """The delivery days `first`..`last` (of one calendar year) of one region folder."""

    region_path: str
    first: dt.date
    last: dt.date


def _quiet(text: str) -> None:
    """Say nothing."""


class _Ticker:
    """Counts the region-years listed and says how many, at most every STATUS_SECONDS."""

    def __init__(self, status: ListingStatus, total: int, spec: str) -> None:
        self.status = status
        self.total = total
        self.spec = spec
        self.done = 0
        self.last = time.monotonic()

    def __call__(self) -> None:
        self.done += 1
        now = time.monotonic()
        if now - self.last >= STATUS_SECONDS and self.done < self.total:
            self.last = now
            self.status(f"{self.spec}: listed {self.done:,} of {self.total:,} region-years")


class LogSource(ABC):
    """A tree of CloudTrail log files; subclasses list one folder and read one file."""

    #: How many folders to list and files to read at the same time.
    concurrency: int = 1

    def __init__(self, spec: str) -> None:
        self.spec = spec

    @abstractmethod
    def list_folder(self, path: str) -> Folder:
        """List one folder (`path` relative to the root, ending with '/', or '' for the root)."""

    @abstractmethod
    def read(self, file: LogFile) -> bytes:
        """The bytes of one log file, as stored (gzip)."""

    @abstractmethod
    def missing_logs_message(self) -> str:
        """The one-line message for a source without an AWSLogs/ folder."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; the source is not used afterwards."""

    def list_days(self, folder: str, first: dt.date, last: dt.date) -> list[Listed]:
        """(name, size, content id) of the files in `folder`'s day folders `first`..`last`
        (one year).

        Names are relative to `folder` (`YYYY/MM/DD/file`). This lists every day folder; a
        source that can list a range of keys in fewer requests does that instead, and may
        return more (the caller keeps the day folders it asked for).
        """
        found: list[Listed] = []
        for offset in range((last - first).days + 1):
            day = f"{first + dt.timedelta(days=offset):%Y/%m/%d}/"
            files = self.list_folder(folder + day).files
            found += [(day + name, size, content_id) for name, size, content_id in files]
        return found

    def _map(
        self,
        func: Callable[[T], R],
        items: Iterable[T],
        done: Callable[[], None] | None = None,
    ) -> list[R]:
        """`func` over `items` in up to `concurrency` threads; `done()` after each result."""
        items = list(items)
        results: list[R] = []
        if self.concurrency <= 1 or len(items) <= 1:
            for item in items:
                results.append(func(item))
                if done:
                    done()
            return results
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            for result in pool.map(func, items):
                results.append(result)
                if done:
                    done()
        return results

    def _account_paths(self, listing: Listing) -> list[str]:
        """The account folders under AWSLogs/ and its organization folders; notes the rest."""
        top = self.list_folder(f"{LOGS_FOLDER}/")
        if not top.folders and not top.files:
            raise SourceError(self.missing_logs_message())
        listing.other_files += len(top.files)
        accounts: list[str] = []
        orgs: list[str] = []
        for name in top.folders:
            path = f"{LOGS_FOLDER}/{name}/"
            if _ACCOUNT_RE.match(name):
                accounts.append(path)
            elif _ORG_RE.match(name):
                orgs.append(path)
            else:
                listing.unexpected_folders.append(path)
        for org_path, org in zip(orgs, self._map(self.list_folder, orgs), strict=True):
            listing.other_files += len(org.files)
            for name in org.folders:
                path = f"{org_path}{name}/"
                (accounts if _ACCOUNT_RE.match(name) else listing.unexpected_folders).append(path)
        return accounts

    def _region_paths(self, account_path: str) -> list[str]:
        """The region folders of one account's log files."""
        logs = f"{account_path}{LOG_FOLDER}/"
        return [f"{logs}{region}/" for region in self.list_folder(logs).folders]

    def region_folders(self) -> list[str]:
        """Every account's region folder of log files: `AWSLogs/[o-.../]ACCOUNT/CloudTrail/R/`."""
        accounts = self._account_paths(Listing(files=[]))
        return sorted(path for paths in self._map(self._region_paths, accounts) for path in paths)

    def list_files(self, window: Window, status: ListingStatus | None = None) -> Listing:
        """Every log file in the window's delivery-day folders, in every account and region.

        `status` receives a line about what is being listed, now and then.
        """
        say = status or _quiet
        days = window.delivery_days()
        first, last = days[0], days[-1]
        listing = Listing(files=[])
        say(f"{self.spec}: listing accounts and regions")
        accounts = self._account_paths(listing)
        listing.unexpected_folders.sort()
        regions = [path for paths in self._map(self._region_paths, accounts) for path in paths]
        years = [str(year) for year in range(first.year, last.year + 1)]
        if len(years) >= YEAR_DISCOVERY:
            # One request per region, instead of one per year the trail did not exist yet.
            present = self._map(lambda path: set(self.list_folder(path).folders), regions)
        else:
            present = [set(years)] * len(regions)
        ranges = [
            _YearRange(
                path,
                max(first, dt.date(int(year), 1, 1)),
                min(last, dt.date(int(year), 12, 31)),
            )
            for path, have in zip(regions, present, strict=True)
            for year in years
            if year in have
        ]
        say(
            f"{self.spec}: listing delivery days {first} to {last} in {len(regions):,} regions "
            f"of {len(accounts):,} accounts ({len(ranges):,} region-years)"
        )
        found = self._map(
            lambda part: self.list_days(part.region_path, part.first, part.last),
            ranges,
            _Ticker(say, len(ranges), self.spec),
        )
        for part, names in zip(ranges, found, strict=True):
            first_day, last_day = f"{part.first:%Y/%m/%d}", f"{part.last:%Y/%m/%d}"
            for name, size, content_id in names:
                # Only files of the delivery days asked for, whatever the source returned.
                if not _DAY_FILE_RE.match(name) or not first_day <= name[:10] <= last_day:
                    continue
                key = part.region_path + name
                parsed = parse_log_key(key)
                if parsed is None:
                    listing.other_files += 1
                else:
                    listing.files.append(
                        LogFile(
                            key,
                            size,
                            parsed.account,
                            parsed.region,
                            parsed.delivered_at,
                            content_id,
                        )
                    )
        # By key alone: keys are unique, so the order is the same, at a fraction of the cost.
        listing.files.sort(key=attrgetter("key"))
        return listing
