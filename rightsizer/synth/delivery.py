"""How the synthetic records become a CloudTrail tree: log files, digests and an Insight file.

`Delivery` groups records into gzip log files by region and delivery slot and writes them where
a trail puts them (`[prefix/]AWSLogs/[org/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/`);
`write_digests` and `write_insight` add the files readers must skip.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

import msgspec

from rightsizer.synth.records import Record, ts
from rightsizer.synth.scenario import (
    ACCOUNT_ID,
    HOME_REGION,
    REPORT_MAILER,
    TRAIL_BUCKET,
    TRAIL_NAME,
)

try:  # ISA-L deflates about five times faster than zlib at level 1
    from isal import igzip as _gzip
except ImportError:  # pragma: no cover - isal is a declared dependency
    import gzip as _gzip  # type: ignore[no-redef]

MAX_RECORDS_PER_FILE = 500
_HOUR = 3600
_GZIP_LEVEL = 1


@dataclass
class _LogFile:
    key: str  # relative to the logs root, as a trail writes it into its bucket
    sha256: str  # of the uncompressed JSON, as digests list it
    oldest: str
    newest: str


@dataclass
class Delivery:
    """Groups records into log files by region and delivery slot, and writes them."""

    logs: Path
    account_root: str  # "[prefix/]AWSLogs/[org/]ACCOUNT"
    rng: Random
    slot_seconds: int
    pending: dict[tuple[str, int], list[Record]] = field(default_factory=dict)
    written: dict[str, list[tuple[int, _LogFile]]] = field(default_factory=dict)
    records: int = 0
    made_dirs: set[Path] = field(default_factory=set)

    def add(self, region: str, delivered_at: int, record: Record) -> None:
        slot = delivered_at // self.slot_seconds
        self.pending.setdefault((region, slot), []).append(record)

    def flush(self, before: int) -> None:
        """Write every slot that ends at or before `before` (no later record can join it)."""
        ready = sorted(k for k in self.pending if (k[1] + 1) * self.slot_seconds <= before)
        for region, slot in ready:
            records = self.pending.pop((region, slot))
            stamp = (slot + 1) * self.slot_seconds
            for first in range(0, len(records), MAX_RECORDS_PER_FILE):
                self._write(region, stamp, records[first : first + MAX_RECORDS_PER_FILE])

    def _write(self, region: str, stamp: int, records: list[Record]) -> None:
        when = time.gmtime(stamp)
        unique = "".join(self.rng.choices(_ALNUM, k=16))
        name = (
            f"{ACCOUNT_ID}_CloudTrail_{region}_{time.strftime('%Y%m%dT%H%MZ', when)}_{unique}"
            ".json.gz"
        )
        key = f"{self.account_root}/CloudTrail/{region}/{time.strftime('%Y/%m/%d', when)}/{name}"
        body = msgspec.json.encode({"Records": records})  # compact, like CloudTrail's files
        self.put(key, body)
        times = [record["eventTime"] for record in records]
        entry = _LogFile(key, hashlib.sha256(body).hexdigest(), min(times), max(times))
        self.written.setdefault(region, []).append((stamp, entry))
        self.records += len(records)

    def put(self, key: str, body: bytes) -> None:
        """Write one gzip file at `key` under the logs root."""
        path = self.logs / key
        if path.parent not in self.made_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.made_dirs.add(path.parent)
        path.write_bytes(_gzip.compress(body, compresslevel=_GZIP_LEVEL, mtime=0))


_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def write_digests(delivery: Delivery, rng: Random) -> int:
    """Hourly digest files per region, chained like CloudTrail's (signatures are random)."""
    fingerprint = f"{rng.getrandbits(128):032x}"
    count = 0
    for region in sorted(delivery.written):
        files = delivery.written[region]
        first = min(stamp for stamp, _ in files)
        last = max(stamp for stamp, _ in files)
        by_hour: dict[int, list[_LogFile]] = {}
        for stamp, entry in files:
            by_hour.setdefault((stamp - 1) // _HOUR * _HOUR, []).append(entry)
        previous: tuple[str, str, str] | None = None  # (key, sha256 of body, signature)
        for hour in range((first - 1) // _HOUR * _HOUR, last, _HOUR):
            end = hour + _HOUR
            written = end + 300 + rng.randrange(900)
            when = time.gmtime(written)
            name = (
                f"{ACCOUNT_ID}_CloudTrail-Digest_{region}_{TRAIL_NAME}_{HOME_REGION}_"
                f"{time.strftime('%Y%m%dT%H%M%SZ', when)}.json.gz"
            )
            key = (
                f"{delivery.account_root}/CloudTrail-Digest/{region}/"
                f"{time.strftime('%Y/%m/%d', when)}/{name}"
            )
            entries = by_hour.get(hour, [])
            body = json.dumps(
                _digest(key, hour, end, entries, previous, fingerprint), separators=(",", ":")
            ).encode()
            delivery.put(key, body)
            previous = (key, hashlib.sha256(body).hexdigest(), f"{rng.getrandbits(2048):0512x}")
            count += 1
    return count


def _digest(
    key: str,
    start: int,
    end: int,
    entries: list[_LogFile],
    previous: tuple[str, str, str] | None,
    fingerprint: str,
) -> dict[str, Any]:
    return {
        "awsAccountId": ACCOUNT_ID,
        "digestStartTime": ts(start),
        "digestEndTime": ts(end),
        "digestS3Bucket": TRAIL_BUCKET,
        "digestS3Object": key,
        "digestPublicKeyFingerprint": fingerprint,
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": max((e.newest for e in entries), default=None),
        "oldestEventTime": min((e.oldest for e in entries), default=None),
        "previousDigestS3Bucket": TRAIL_BUCKET if previous else None,
        "previousDigestS3Object": previous[0] if previous else None,
        "previousDigestHashValue": previous[1] if previous else None,
        "previousDigestHashAlgorithm": "SHA-256" if previous else None,
        "previousDigestSignature": previous[2] if previous else None,
        "logFiles": [
            {
                "s3Bucket": TRAIL_BUCKET,
                "s3Object": e.key,
                "hashValue": e.sha256,
                "hashAlgorithm": "SHA-256",
                "newestEventTime": e.newest,
                "oldestEventTime": e.oldest,
            }
            for e in entries
        ],
    }


def write_insight(delivery: Delivery, rng: Random, moment: int) -> None:
    """One CloudTrail Insights file (a start and an end record); readers must skip it."""
    moment -= moment % 60
    shared = str(_uuid(rng))
    records = [
        _insight_record(rng, state, moment + offset, shared)
        for state, offset in (("Start", 0), ("End", 1800))
    ]
    when = time.gmtime(moment + 1800 + 420)
    unique = "".join(rng.choices(_ALNUM, k=16))
    name = (
        f"{ACCOUNT_ID}_CloudTrail-Insight_{HOME_REGION}_{time.strftime('%Y%m%dT%H%MZ', when)}_"
        f"{unique}.json.gz"
    )
    key = (
        f"{delivery.account_root}/CloudTrail-Insight/{HOME_REGION}/"
        f"{time.strftime('%Y/%m/%d', when)}/{name}"
    )
    delivery.put(key, json.dumps({"Records": records}, separators=(",", ":")).encode())


def _insight_record(rng: Random, state: str, moment: int, shared: str) -> Record:
    statistics: dict[str, Any] = {"baseline": {"average": 0.0412}, "insight": {"average": 3.2}}
    if state == "End":
        statistics["insightDuration"] = 30
    return {
        "eventVersion": "1.08",
        "eventTime": ts(moment),
        "awsRegion": HOME_REGION,
        "eventID": str(_uuid(rng)),
        "eventType": "AwsCloudTrailInsight",
        "recipientAccountId": ACCOUNT_ID,
        "sharedEventID": shared,
        "insightDetails": {
            "state": state,
            "eventSource": "kms.amazonaws.com",
            "eventName": "Decrypt",
            "insightType": "ApiCallRateInsight",
            "insightContext": {
                "statistics": statistics,
                "attributions": [
                    {
                        "attribute": "userIdentityArn",
                        "insight": [{"value": REPORT_MAILER.session_arn, "average": 3.2}],
                        "baseline": [{"value": REPORT_MAILER.session_arn, "average": 0.0412}],
                    }
                ],
            },
        },
        "eventCategory": "Insight",
    }


def _uuid(rng: Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
