"""Where CloudTrail log files come from: a local directory tree or `s3://bucket[/prefix]`.

Both sources walk the same layout
`[prefix/]AWSLogs/[o-orgid/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/<file>.json.gz`:
accounts, organization ids and regions are discovered by listing one level at a time, and only
the day folders a window needs are listed. Digest and Insight files and anything else that is
not a log file are counted, never read.
"""

from __future__ import annotations

import datetime as dt
import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from rightsizer.errors import SourceError
from rightsizer.window import Window

LOGS_FOLDER = "AWSLogs"
# Folder under an account -> what its files count as; only "log" files are read.
KIND_FOLDERS = {"CloudTrail": "log", "CloudTrail-Digest": "digest", "CloudTrail-Insight": "insight"}

_ORG_RE = re.compile(r"^o-[a-z0-9]{10,32}$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_LOG_KEY_RE = re.compile(
    r"^(?:.*/)?AWSLogs/(?:(?P<org>o-[a-z0-9]{10,32})/)?(?P<account>\d{12})/CloudTrail/"
    r"(?P<region>[a-z0-9-]+)/\d{4}/\d{2}/\d{2}/"
    r"(?P=account)_CloudTrail_(?P=region)_(?P<stamp>\d{8}T\d{4}Z)_[A-Za-z0-9]+\.json\.gz$"
)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, order=True)
class LogFile:
    """One CloudTrail log file; `key` is relative to the source root (starts with AWSLogs/)."""

    key: str
    size: int
    account: str
    region: str
    delivered_at: dt.datetime


@dataclass
class Listing:
    """The log files of a window, sorted by key, and the other objects seen beside them."""

    files: list[LogFile]
    skipped: Counter[str] = field(default_factory=Counter)  # digest, insight, other


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
    try:
        delivered = dt.datetime.strptime(match["stamp"], "%Y%m%dT%H%MZ")
    except ValueError:
        return None
    return LogKey(match["org"], match["account"], match["region"], delivered)


@dataclass
class Folder:
    """One level of a listing: sub-folder names and (file name, size) pairs."""

    folders: list[str] = field(default_factory=list)
    files: list[tuple[str, int]] = field(default_factory=list)


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

    def _map(self, func: Callable[[T], R], items: Iterable[T]) -> list[R]:
        items = list(items)
        if self.concurrency <= 1 or len(items) <= 1:
            return [func(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            return list(pool.map(func, items))

    def list_files(self, window: Window) -> Listing:
        """Every log file in the window's delivery-day folders, and counts of other objects."""
        skipped: Counter[str] = Counter()
        top = self.list_folder(f"{LOGS_FOLDER}/")
        if not top.folders and not top.files:
            raise SourceError(self.missing_logs_message())
        skipped["other"] += len(top.files)
        account_paths: list[str] = []
        for name in top.folders:
            if _ORG_RE.match(name):
                org = self.list_folder(f"{LOGS_FOLDER}/{name}/")
                skipped["other"] += len(org.files)
                account_paths += [
                    f"{LOGS_FOLDER}/{name}/{acct}/"
                    for acct in org.folders
                    if _ACCOUNT_RE.match(acct)
                ]
            elif _ACCOUNT_RE.match(name):
                account_paths.append(f"{LOGS_FOLDER}/{name}/")

        def regions_of(account_path: str) -> list[tuple[str, str]]:
            """(kind, region folder path) for every kind folder under one account."""
            found: list[tuple[str, str]] = []
            for folder in self.list_folder(account_path).folders:
                kind = KIND_FOLDERS.get(folder)
                if kind is None:
                    continue
                for region in self.list_folder(f"{account_path}{folder}/").folders:
                    found.append((kind, f"{account_path}{folder}/{region}/"))
            return found

        region_paths = [pair for pairs in self._map(regions_of, account_paths) for pair in pairs]
        day_paths = [
            (kind, f"{region_path}{day:%Y/%m/%d}/")
            for kind, region_path in region_paths
            for day in window.delivery_days()
        ]
        files: list[LogFile] = []
        for (kind, day_path), folder in zip(
            day_paths, self._map(lambda pair: self.list_folder(pair[1]), day_paths), strict=True
        ):
            if kind != "log":
                skipped[kind] += len(folder.files)
                continue
            for name, size in folder.files:
                key = f"{day_path}{name}"
                parsed = parse_log_key(key)
                if parsed is None:
                    skipped["other"] += 1
                else:
                    files.append(
                        LogFile(key, size, parsed.account, parsed.region, parsed.delivered_at)
                    )
        files.sort()
        return Listing(files=files, skipped=skipped)


def open_source(spec: str, *, profile: str | None = None, region: str | None = None) -> LogSource:
    """Open a local CloudTrail tree or `s3://bucket[/prefix]`; SourceError if unusable."""
    if spec.startswith("s3://"):
        from rightsizer.sources.s3 import S3Source

        return S3Source(spec, profile=profile, region=region)
    from rightsizer.sources.local import LocalSource

    return LocalSource(spec)


__all__ = ["Listing", "LogFile", "LogKey", "LogSource", "open_source", "parse_log_key"]
