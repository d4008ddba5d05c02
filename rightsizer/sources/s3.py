"""A CloudTrail tree in S3: `s3://bucket[/prefix]`, read-only.

The session comes from `rightsizer.aws`: boto3's standard credential chain and `--profile`
apply, and so does `AWS_ENDPOINT_URL` (boto3 reads it itself; nothing here sets an endpoint).
Folder listings and downloads run in a bounded thread pool; botocore retries throttling and
transient errors with backoff.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from typing import Any

import botocore.exceptions as bce
from botocore.config import Config

from rightsizer import aws
from rightsizer.errors import SourceError
from rightsizer.sources.base import LOGS_FOLDER, Folder, Listed, LogFile, LogSource

# Body reads are not retried by botocore; a download that breaks midway is tried again.
_READ_ATTEMPTS = 3
_ACCESS_CODES = {
    "AccessDenied": "access denied",
    "AllAccessDisabled": "access disabled",
    "InvalidAccessKeyId": "the access key is not valid",
    "SignatureDoesNotMatch": "the secret key does not match",
    "ExpiredToken": "the credentials have expired",
    "InvalidToken": "the session token is not valid",
    "NoSuchBucket": "no such bucket",
    "PermanentRedirect": "the bucket is in another region",
}


def parse_s3_spec(spec: str) -> tuple[str, str]:
    """Split `s3://bucket[/prefix]` into bucket and a prefix that is '' or ends with '/'."""
    rest = spec[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise SourceError(f"log source {spec!r} names no bucket; use s3://bucket[/prefix]")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


class S3Source(LogSource):
    """Log files under `s3://bucket/prefix/AWSLogs/`."""

    concurrency = 16
    #: Keys per listing request (S3 returns at most 1,000).
    page_size = 1000

    def __init__(self, spec: str, *, profile: str | None = None, region: str | None = None) -> None:
        super().__init__(spec)
        self.bucket, self.prefix = parse_s3_spec(spec)
        session = aws.session(profile, region)  # an unknown profile: ConfigError
        config = Config(
            retries={"mode": "adaptive", "max_attempts": 10},
            max_pool_connections=self.concurrency * 2,
            connect_timeout=10,
            read_timeout=60,
        )
        self.client: Any = session.client("s3", config=config)

    def _error(self, exc: Exception, what: str) -> SourceError:
        where = f"s3://{self.bucket}/{what}"
        if isinstance(exc, bce.NoCredentialsError | bce.PartialCredentialsError):
            return SourceError(
                f"no AWS credentials found to read {where}; configure credentials "
                "(environment, ~/.aws, SSO) or pass --profile"
            )
        if isinstance(exc, bce.ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _ACCESS_CODES:
                return SourceError(
                    f"cannot read {where}: {_ACCESS_CODES[code]} ({code}); check the bucket "
                    "name, --profile and the s3:ListBucket / s3:GetObject permissions"
                )
            if code == "InvalidObjectState":
                # Skipping it would hide calls from the analysis, and a policy cut to what the
                # rest shows could take away a permission the role still needs.
                return SourceError(
                    f"cannot read {where}: the log file is archived (S3 Glacier or an archive "
                    "tier, InvalidObjectState); restore the window's logs, or choose a window "
                    "(--days, --until) whose logs are not archived"
                )
            return SourceError(f"cannot read {where}: {code or exc}; rerun to continue")
        return SourceError(f"cannot read {where}: {exc}; check the network and rerun")

    def list_folder(self, path: str) -> Folder:
        full = f"{self.prefix}{path}"
        folder = Folder()
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=full, Delimiter="/"
            )
            for page in pages:
                for common in page.get("CommonPrefixes", ()):
                    folder.folders.append(common["Prefix"][len(full) :].rstrip("/"))
                for item in page.get("Contents", ()):
                    name = item["Key"][len(full) :]
                    if name:  # a zero-byte "folder" marker has the prefix itself as key
                        folder.files.append((name, int(item["Size"]), item.get("ETag", "")))
        except (bce.BotoCoreError, bce.ClientError) as exc:
            raise self._error(exc, full) from None
        return folder

    def list_days(self, folder: str, first: dt.date, last: dt.date) -> list[Listed]:
        """The keys of the day folders `first`..`last` under `folder`, as one range of keys.

        A listing without a delimiter returns every key under the year folder in key order,
        1,000 a request: it starts after the day before `first` and stops at the first key past
        `last`, so it costs a request per 1,000 files of those days (and at least one) where
        listing the day folders costs one per day.
        """
        full = f"{self.prefix}{folder}"
        start_after = f"{full}{first:%Y/%m/%d}"  # every key of `first` sorts after this
        stop = f"{full}{last + dt.timedelta(days=1):%Y/%m/%d}/"  # keys past `last` sort from here
        found: list[Listed] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket,
                Prefix=f"{full}{first:%Y}/",
                StartAfter=start_after,
                PaginationConfig={"PageSize": self.page_size},
            )
            for page in pages:
                for item in page.get("Contents", ()):
                    key = item["Key"]
                    if key >= stop:
                        return found  # the pages after this one hold later days only
                    found.append((key[len(full) :], int(item["Size"]), item.get("ETag", "")))
        except (bce.BotoCoreError, bce.ClientError) as exc:
            raise self._error(exc, f"{full}{first:%Y}/") from None
        return found

    def read(self, file: LogFile) -> bytes:
        key = f"{self.prefix}{file.key}"
        for attempt in range(1, _READ_ATTEMPTS + 1):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=key)
                return bytes(response["Body"].read())
            except (
                bce.IncompleteReadError,
                bce.ResponseStreamingError,
                bce.ReadTimeoutError,
                bce.ConnectionClosedError,
            ) as exc:
                if attempt == _READ_ATTEMPTS:
                    raise self._error(exc, key) from None
                # a broken body is not retried by botocore: back off (full jitter) and try again
                time.sleep(random.random() * min(8.0, 0.5 * 2**attempt))
            except (bce.BotoCoreError, bce.ClientError) as exc:
                raise self._error(exc, key) from None
        raise AssertionError("unreachable")

    def missing_logs_message(self) -> str:
        return (
            f"no {LOGS_FOLDER}/ under s3://{self.bucket}/{self.prefix}; point --source at the "
            "trail's bucket and key prefix (s3://bucket/prefix)"
        )

    def close(self) -> None:
        self.client.close()
