"""A realistic synthetic CloudTrail tree plus IAM snapshot, for the demo, tests and notebook.

The scenario (names in `rightsizer.synth_scenario`, re-exported here) is one account,
111122223333, with a multi-region trail `main` (home us-east-1, also eu-west-1):

Lambda functions (session name = function name, user agent with `exec-env/AWS_Lambda_<rt>`):

* `thumbnailer` (python3.12) on `/service-role/thumbnailer-role-x1y2z3`, which holds
  AmazonS3FullAccess + AWSLambdaBasicExecutionRole + an inline DynamoDB policy (over-privileged).
  Calls HeadObject/GetObject on `acme-uploads/incoming/<yyyy>/<mm>/<dd>/<uuid>.jpg`,
  ListObjects (`list-type` 2, prefix `incoming/<date>/`), PutObject to
  `acme-thumbnails/thumbs/<uuid>.jpg` with `x-amz-acl`, a daily three-part multipart upload to
  `acme-thumbnails/previews/`, a daily GetObject failing with NoSuchKey, DynamoDB PutItem.
* `report-builder` (java21) and `report-mailer` (nodejs20.x) share `report-role` (path `/`,
  inline `s3:*` on `*` plus kms Decrypt/GenerateDataKey on the reports key). The builder
  copies `acme-reports-raw/daily/<date>/<name>` to `acme-reports/final/<date>/<name>` (copy
  source URL-encoded, some with a leading `/`, one a day with `?versionId=`; names contain
  spaces, `+`, `(`, `;`), batch-deletes on acme-reports-raw daily (DeleteObjects, resource with
  `ARNPrefix`), and makes GetBucketLocation + ListBuckets (management) daily. The mailer reads
  final reports, a quarter of them with `versionId`. Each SSE-KMS read/write gives a KMS
  Decrypt/GenerateDataKey under the role's session with invokedBy `fas.s3.amazonaws.com`
  (acme-reports-raw has a Bucket Key: its encryption context is the bucket ARN).
* `config-reader` (python3.12) on `config-reader-role`: least privilege (GetObject on
  `acme-config/app/*`, ListBucket on `acme-config`) and uses exactly that: GetObject on the
  twelve `CONFIG_KEYS` under `app/`, ListObjects with prefix `app/`.
* `legacy-cleanup` on `legacy-cleanup-role` (managed `LegacyS3Access`, default version v2):
  idle in the window; its one DeleteObject is 20 minutes *before* the window start, delivered
  inside the first day folder (it must not count).
* `exporter` on `exporter-role` (inline PutObject on `acme-exports/*`, GetObject on `*`;
  permissions boundary `LambdaExportBoundary`): writes `acme-exports/out/<date>/part-<n>.csv`;
  once a day its GetObject on `acme-secrets/keys.txt` is denied (AccessDenied, the boundary).
  Lambda decrypts its environment at each cold start (KMS, invokedBy lambda.amazonaws.com).
* `eu-ingest` (nodejs20.x, eu-west-1) on `eu-ingest-role`: lists, reads and deletes
  `acme-eu-landing/batches/<date>/<uuid>.json`, writes `acme-eu-processed/normalized/...`,
  GetBucketLocation (management) twice a day.

Not Lambda roles (never in results): IAM user `alice` (ListBuckets, GetObject, Lambda calls),
EC2 role `ec2-app-role` (session `i-0abc1234def567890`, uploads to acme-uploads), AWS Config's
service-linked role (bucket reads, invokedBy config.amazonaws.com), AWSService principals
(Lambda's AssumeRole per cold start, S3's own Bucket Key KMS calls).

`EXPECTED_S3_ACTIONS` holds the IAM actions each Lambda role's successful in-window S3 calls
need. With `data_events=False` the trail logs no data events at all (selectors without
DataResources): only management events (GetBucketLocation, ListBuckets, KMS, STS) remain.

The tree follows real delivery: files named by delivery time (several per hour per region),
records delayed 1–10 minutes (a few up to 18 hours, so some land in the next day's folder),
every 500th record delivered twice in two files, events from the hour before the window and
the hour after it, hourly digest files, and one Insight file. Every log file lies in the day
folders `Window.ending(until, days).delivery_days()` lists.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

import msgspec

from rightsizer import synth_scenario as sc
from rightsizer.errors import ConfigError
from rightsizer.synth_events import Record, Traffic, ts
from rightsizer.synth_scenario import (
    ACCOUNT_ID,
    ALICE_ARN,
    BUCKETS,
    CONFIG_BUCKET,
    CONFIG_KEYS,
    CONFIG_READER,
    CONFIG_READER_ROLE,
    CONFIG_SERVICE_ROLE,
    DENIED_OBJECT_ARN,
    EC2_APP_ROLE,
    EU_INGEST,
    EU_INGEST_ROLE,
    EU_LANDING_BUCKET,
    EU_PROCESSED_BUCKET,
    EU_REGION,
    EXPECTED_S3_ACTIONS,
    EXPECTED_S3_MANAGEMENT_ACTIONS,
    EXPORTER,
    EXPORTER_ROLE,
    EXPORTS_BUCKET,
    FUNCTIONS,
    HOME_REGION,
    LAMBDA_ROLES,
    LEGACY_BUCKET,
    LEGACY_CLEANUP,
    LEGACY_CLEANUP_ROLE,
    NON_LAMBDA_PRINCIPAL_ARNS,
    ORG_ID,
    REGIONS,
    REPORT_BUILDER,
    REPORT_MAILER,
    REPORT_ROLE,
    REPORTS_BUCKET,
    REPORTS_KMS_KEY_ARN,
    REPORTS_RAW_BUCKET,
    SECRETS_BUCKET,
    THUMBNAILER,
    THUMBNAILER_ROLE,
    THUMBNAILS_BUCKET,
    TRAIL_BUCKET,
    TRAIL_NAME,
    UPLOADS_BUCKET,
    FunctionSpec,
    RoleSpec,
)

try:  # ISA-L deflates about five times faster than zlib at level 1
    from isal import igzip as _gzip
except ImportError:  # pragma: no cover - isal is a declared dependency
    import gzip as _gzip  # type: ignore[no-redef]

__all__ = [
    "ACCOUNT_ID",
    "ALICE_ARN",
    "BUCKETS",
    "CONFIG_BUCKET",
    "CONFIG_KEYS",
    "CONFIG_READER",
    "CONFIG_READER_ROLE",
    "CONFIG_SERVICE_ROLE",
    "DENIED_OBJECT_ARN",
    "EC2_APP_ROLE",
    "EU_INGEST",
    "EU_INGEST_ROLE",
    "EU_LANDING_BUCKET",
    "EU_PROCESSED_BUCKET",
    "EU_REGION",
    "EXPECTED_S3_ACTIONS",
    "EXPECTED_S3_MANAGEMENT_ACTIONS",
    "EXPORTER",
    "EXPORTER_ROLE",
    "EXPORTS_BUCKET",
    "FUNCTIONS",
    "HOME_REGION",
    "LAMBDA_ROLES",
    "LEGACY_BUCKET",
    "LEGACY_CLEANUP",
    "LEGACY_CLEANUP_ROLE",
    "NON_LAMBDA_PRINCIPAL_ARNS",
    "ORG_ID",
    "REGIONS",
    "REPORTS_BUCKET",
    "REPORTS_KMS_KEY_ARN",
    "REPORTS_RAW_BUCKET",
    "REPORT_BUILDER",
    "REPORT_MAILER",
    "REPORT_ROLE",
    "SECRETS_BUCKET",
    "THUMBNAILER",
    "THUMBNAILER_ROLE",
    "THUMBNAILS_BUCKET",
    "TRAIL_BUCKET",
    "TRAIL_NAME",
    "UPLOADS_BUCKET",
    "FunctionSpec",
    "RoleSpec",
    "SynthDataset",
    "generate",
    "scale_for",
]

MAX_RECORDS_PER_FILE = 500
# Records written per day and unit of scale (measured: 610 to 650); a lower bound.
RECORDS_PER_DAY_PER_SCALE = 600
_HOUR = 3600
_GZIP_LEVEL = 1


@dataclass(frozen=True)
class SynthDataset:
    """What `generate` wrote. Times are naive UTC; `records` counts duplicate copies too."""

    root: Path
    logs: Path
    iam_details: Path
    event_selectors: Path
    lambda_functions: Path
    until: dt.datetime
    days: int
    records: int
    files: int
    duplicates: int = 0  # extra copies of already delivered records
    events_in_window: int = 0  # distinct events with start <= eventTime < until
    digest_files: int = 0
    key_prefix: str = ""  # the trail's S3KeyPrefix, without slashes at either end

    @property
    def source_dir(self) -> Path:
        """The folder that holds `AWSLogs/`: what `--source` points at."""
        return self.logs / self.key_prefix if self.key_prefix else self.logs


@dataclass
class _LogFile:
    key: str  # relative to the logs root, as a trail writes it into its bucket
    sha256: str  # of the uncompressed JSON, as digests list it
    oldest: str
    newest: str


@dataclass
class _Delivery:
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


def generate(
    out_dir: Path,
    *,
    until: dt.datetime | None = None,
    days: int = 30,
    seed: int = 7,
    scale: int = 1,
    org_trail: bool = False,
    key_prefix: str = "",
    data_events: bool = True,
) -> SynthDataset:
    """Write the scenario's CloudTrail tree and side files into `out_dir`; deterministic.

    `until` (naive UTC, default today 00:00) and `days` give the window the data is made for.
    `scale` multiplies the call volume (about 19,500 records per 30 days at scale 1;
    `scale_for(records, days)` picks the scale for a target).
    `org_trail` inserts the organization id into the keys; `key_prefix` is the trail's
    S3KeyPrefix. Refuses a directory that already holds a `logs/` tree.
    """
    if days < 1:
        raise ConfigError(f"days must be at least 1 (got {days})")
    if scale < 1:
        raise ConfigError(f"scale must be at least 1 (got {scale})")
    if until is None:
        until = dt.datetime.combine(dt.datetime.now(dt.UTC).date(), dt.time())
    until = (
        until.replace(tzinfo=None, microsecond=0)
        if until.tzinfo is None
        else (until.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0))
    )
    out_dir = Path(out_dir)
    logs = out_dir / "logs"
    if logs.exists() and any(logs.iterdir()):
        raise ConfigError(
            f"{logs} already holds a CloudTrail tree; choose an empty directory or delete it"
        )
    prefix = key_prefix.strip("/")
    account_root = "/".join(
        part for part in (prefix, "AWSLogs", ORG_ID if org_trail else "", ACCOUNT_ID) if part
    )
    end = _epoch(until)
    start = end - days * 86400
    rng = Random(seed)
    delivery = _Delivery(logs, account_root, Random(seed + 1), _slot_seconds(scale))
    counts = {"in_window": 0, "emitted": 0, "duplicates": 0}

    def emit(t: int, record: Record) -> None:
        counts["emitted"] += 1
        if start <= t < end:
            counts["in_window"] += 1
        delivered = t + _delay(rng)
        if t < start:  # the hour before the window arrives in the window's first day folder
            delivered = max(delivered, start + 60 + rng.randrange(600))
        region = record["awsRegion"]
        delivery.add(region, delivered, record)
        if counts["emitted"] % 500 == 0:  # CloudTrail delivers some events twice
            counts["duplicates"] += 1
            delivery.add(region, delivered + delivery.slot_seconds + rng.randrange(600), record)

    traffic = Traffic(rng, emit, scale=scale, data_events=data_events, window=(start, end))
    first_hour = start - start % _HOUR - _HOUR
    last_hour = end + (-end) % _HOUR + _HOUR
    for hour in range(first_hour, last_hour, _HOUR):
        traffic.hour(hour)
        delivery.flush(hour + _HOUR)
    delivery.flush(2**62)

    digests = _write_digests(delivery, Random(seed + 2))
    _write_insight(delivery, Random(seed + 3), start + (end - start) // 2)
    root = out_dir
    iam_path = root / "iam-details.json"
    last_used = {
        role: (dt.datetime.fromtimestamp(t, dt.UTC).isoformat(), region)
        for role, (t, region) in sorted(traffic.last_used.items())
    }
    _write_json(iam_path, sc.iam_details(last_used))
    selectors_path = root / "event-selectors.json"
    _write_json(selectors_path, sc.event_selectors(data_events))
    functions_path = root / "lambda-functions.json"
    _write_json(functions_path, sc.lambda_functions())
    return SynthDataset(
        root=root,
        logs=logs,
        iam_details=iam_path,
        event_selectors=selectors_path,
        lambda_functions=functions_path,
        until=until,
        days=days,
        records=delivery.records,
        files=sum(len(files) for files in delivery.written.values()),
        duplicates=counts["duplicates"],
        events_in_window=counts["in_window"],
        digest_files=digests,
        key_prefix=prefix,
    )


def scale_for(records: int, days: int = 30) -> int:
    """The smallest `scale` that writes at least `records` records over `days` days."""
    return max(1, -(-records // (RECORDS_PER_DAY_PER_SCALE * days)))


def _epoch(moment: dt.datetime) -> int:
    return int(moment.replace(tzinfo=dt.UTC).timestamp())


def _slot_seconds(scale: int) -> int:
    """Delivery interval: hourly files at scale 1, down to CloudTrail's 5 minutes when busy."""
    return max(300, (_HOUR // scale) // 60 * 60)


def _delay(rng: Random) -> int:
    """Seconds from the call to its delivery: mostly minutes, now and then many hours."""
    draw = rng.random()
    if draw < 0.9:
        return 60 + rng.randrange(540)
    if draw < 0.99:
        return 600 + rng.randrange(1200)
    return _HOUR + rng.randrange(17 * _HOUR)


def _write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=4) + "\n", encoding="utf-8")


def _write_digests(delivery: _Delivery, rng: Random) -> int:
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


def _write_insight(delivery: _Delivery, rng: Random, moment: int) -> None:
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


DEMO_MANIFEST = "demo.json"


def demo_dataset(directory: Path, *, scale: int = 1) -> SynthDataset:
    """The demo data set in `directory`: made on first use, reused (same window) afterwards."""
    manifest = directory / DEMO_MANIFEST
    if manifest.is_file():
        try:
            saved = json.loads(manifest.read_text(encoding="utf-8"))
            paths: dict[str, Any] = {k: Path(v) for k, v in saved["paths"].items()}
            return SynthDataset(
                **paths, until=dt.datetime.fromisoformat(saved["until"]), **saved["fields"]
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{manifest} is damaged ({exc}); delete the folder {directory} and run again"
            ) from None
    directory.mkdir(parents=True, exist_ok=True)
    dataset = generate(directory, scale=scale)
    path_fields = ("root", "logs", "iam_details", "event_selectors", "lambda_functions")
    fields = (
        "days",
        "records",
        "files",
        "duplicates",
        "events_in_window",
        "digest_files",
        "key_prefix",
    )
    manifest.write_text(
        json.dumps(
            {
                "paths": {name: str(getattr(dataset, name)) for name in path_fields},
                "until": dataset.until.isoformat(),
                "fields": {name: getattr(dataset, name) for name in fields},
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return dataset
