"""`generate` writes the synthetic data set; `demo_dataset` makes it once and reuses it.

The story and the known answers are in `rightsizer.synth`'s docstring.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from random import Random
from typing import Any

from rightsizer.errors import ConfigError
from rightsizer.interrupt import stop_on_signals
from rightsizer.synth import side_files
from rightsizer.synth.delivery import Delivery, write_digests, write_insight
from rightsizer.synth.events import Traffic
from rightsizer.synth.records import Record
from rightsizer.synth.scenario import ACCOUNT_ID, ORG_ID

# Records written per day and unit of scale (measured: 610 to 650); a lower bound.
RECORDS_PER_DAY_PER_SCALE = 600
_HOUR = 3600


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
    delivery = Delivery(logs, account_root, Random(seed + 1), _slot_seconds(scale))
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

    digests = write_digests(delivery, Random(seed + 2))
    write_insight(delivery, Random(seed + 3), start + (end - start) // 2)
    root = out_dir
    iam_path = root / "iam-details.json"
    last_used = {
        role: (dt.datetime.fromtimestamp(t, dt.UTC).isoformat(), region)
        for role, (t, region) in sorted(traffic.last_used.items())
    }
    _write_json(iam_path, side_files.iam_details(last_used))
    selectors_path = root / "event-selectors.json"
    _write_json(selectors_path, side_files.event_selectors(data_events))
    functions_path = root / "lambda-functions.json"
    _write_json(functions_path, side_files.lambda_functions())
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


DEMO_MANIFEST = "demo.json"
# Where the demo data set is made before it is moved into place, whole.
DEMO_PARTIAL = ".partial"


def demo_dataset(directory: Path, *, scale: int = 1) -> SynthDataset:
    """The demo data set in `directory`: made on first use, reused (same window) afterwards.

    It is made in `directory/.partial/` and moved into place when whole: a first run stopped
    halfway (Ctrl-C) leaves no half tree for the next run to refuse; that run starts over.
    """
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
    partial = directory / DEMO_PARTIAL
    shutil.rmtree(partial, ignore_errors=True)  # what a stopped run made
    made = generate(partial, scale=scale)
    # Moved and recorded as one step: a signal takes effect once the manifest is written.
    with stop_on_signals() as stop, stop.deferred():
        moved = {}
        for name in ("iam_details", "event_selectors", "lambda_functions", "logs"):
            moved[name] = directory / getattr(made, name).name
            try:
                getattr(made, name).rename(moved[name])
            except OSError as exc:  # the tree of an older demo run that has no manifest
                raise ConfigError(
                    f"{moved[name]} is in the way ({exc.strerror}); delete the folder "
                    f"{directory} and run again"
                ) from None
        partial.rmdir()
        dataset = replace(made, root=directory, **moved)
        _write_manifest(manifest, dataset)
    return dataset


def _write_manifest(manifest: Path, dataset: SynthDataset) -> None:
    """What `demo_dataset` reads back: the data set's paths, window and counts."""
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
