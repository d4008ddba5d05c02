"""Where CloudTrail log files come from: a local directory tree or `s3://bucket[/prefix]`.

Both sources walk the same layout
`[prefix/]AWSLogs/[o-orgid/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/<file>.json.gz`:
organization ids, accounts and regions are discovered by listing one level at a time, then each
region's files of the window's delivery days are listed a year folder at a time (S3 returns
them as one range of keys, 1,000 a request; a local tree lists the day folders). Digest and
Insight folders are never listed. Other files in the listed folders are counted, never read;
folders under AWSLogs/ that are neither an account nor an organization are named.
"""

from __future__ import annotations

from rightsizer.sources.base import (
    LOGS_FOLDER,
    Folder,
    Listing,
    ListingStatus,
    LogFile,
    LogKey,
    LogSource,
    parse_log_key,
)


def open_source(spec: str, *, profile: str | None = None, region: str | None = None) -> LogSource:
    """Open a local CloudTrail tree or `s3://bucket[/prefix]`; SourceError if unusable."""
    if spec.startswith("s3://"):
        from rightsizer.sources.s3 import S3Source

        return S3Source(spec, profile=profile, region=region)
    from rightsizer.sources.local import LocalSource

    return LocalSource(spec)


__all__ = [
    "LOGS_FOLDER",
    "Folder",
    "Listing",
    "ListingStatus",
    "LogFile",
    "LogKey",
    "LogSource",
    "open_source",
    "parse_log_key",
]
