"""Ingest benchmark: cold-ingest rate, no-op rerun time and peak memory, library and CLI.

    python bench/ingest.py [--records 500000] [--workers 0] [--fresh]

Writes (or reuses) a synthetic CloudTrail tree under bench/.cache/, ingests it into a new
DuckDB file, ingests it again (nothing new), then does both again with `rightsizer ingest`
in a subprocess, as a user would (into a second new file), and prints the figures: the CLI's
cold ingest should cost the library's plus the command's start-up, no more. The tree is realistic in
size and shape (Lambda S3 data events with identity, request parameters and resources, ~1 KB a
record), not in the story it tells; rightsizer.synth writes a meaningful one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from isal import igzip

from rightsizer.ingest import ingest
from rightsizer.sources import open_source
from rightsizer.store import connect
from rightsizer.window import Window

CACHE = Path(__file__).resolve().parent / ".cache"
ACCOUNT = "111122223333"
REGIONS = ("us-east-1", "eu-west-1")
DAYS = 20
RECORDS_PER_FILE = 250
WINDOW = Window(dt.datetime(2026, 9, 1), dt.datetime(2026, 9, 1) + dt.timedelta(days=DAYS))
FUNCTIONS = [f"fn-{name}" for name in ("resize", "ingest", "export", "audit", "thumbs", "etl")]
EVENT_NAMES = ("GetObject", "PutObject", "HeadObject", "ListObjects", "DeleteObject")


def _record(rng: random.Random, when: dt.datetime, region: str) -> dict[str, object]:
    function = rng.choice(FUNCTIONS)
    bucket = f"data-{rng.randrange(8)}"
    key = f"in/{rng.randrange(1000)}/{uuid.UUID(int=rng.getrandbits(128)).hex}.json"
    name = rng.choice(EVENT_NAMES)
    return {
        "eventVersion": "1.10",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLEROLEID{function[-2:].upper()}:{function}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{function}-role/{function}",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLEKEY123456",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLEROLEID",
                    "arn": f"arn:aws:iam::{ACCOUNT}:role/service-role/{function}-role",
                    "accountId": ACCOUNT,
                    "userName": f"{function}-role",
                },
                "attributes": {"creationDate": "2026-09-01T00:00:00Z", "mfaAuthenticated": "false"},
            },
        },
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "s3.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "10.0.12.34",
        "userAgent": "[Boto3/1.34.0 md/Botocore#1.34.0 os/linux exec-env/AWS_Lambda_python3.12]",
        "requestParameters": {
            "bucketName": bucket,
            "Host": f"{bucket}.s3.amazonaws.com",
            "key": key,
        },
        "responseElements": None,
        "additionalEventData": {
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": 0,
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": "aGVsbG8gd29ybGQgdGhpcyBpcyBub3QgYSByZWFsIGlk",
            "bytesTransferredOut": rng.randrange(100000),
        },
        "requestID": uuid.UUID(int=rng.getrandbits(128)).hex[:16].upper(),
        "eventID": str(uuid.UUID(int=rng.getrandbits(128))),
        "readOnly": name in ("GetObject", "HeadObject", "ListObjects"),
        "resources": [
            {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
            {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
        ],
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Data",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"},
    }


def write_tree(root: Path, records: int, seed: int = 7) -> int:
    """Write a tree of about `records` records; returns the uncompressed size in bytes."""
    rng = random.Random(seed)
    files = max(1, records // RECORDS_PER_FILE)
    per_day = max(1, files // (DAYS * len(REGIONS)))
    raw = 0
    for index in range(files):
        region = REGIONS[index % len(REGIONS)]
        day = (index // len(REGIONS) // per_day) % DAYS
        delivered = WINDOW.start + dt.timedelta(days=day, minutes=5 * (index % 288))
        folder = root / f"AWSLogs/{ACCOUNT}/CloudTrail/{region}/{delivered:%Y/%m/%d}"
        folder.mkdir(parents=True, exist_ok=True)
        body = {
            "Records": [
                _record(rng, delivered - dt.timedelta(seconds=rng.randrange(600)), region)
                for _ in range(RECORDS_PER_FILE)
            ]
        }
        text = json.dumps(body).encode()
        raw += len(text)
        name = f"{ACCOUNT}_CloudTrail_{region}_{delivered:%Y%m%dT%H%MZ}_{index:016X}.json.gz"
        (folder / name).write_bytes(igzip.compress(text))
    return raw


def _cpu_seconds() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def _peak_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--fresh", action="store_true", help="rewrite the cached tree")
    args = parser.parse_args()

    tree = CACHE / f"tree-{args.records}"
    if args.fresh and tree.exists():
        shutil.rmtree(tree)
    if not tree.exists():
        began = time.perf_counter()
        partial = tree.with_name(tree.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        raw = write_tree(partial, args.records)
        partial.rename(tree)
        print(
            f"wrote {tree} ({raw / 1e6:.0f} MB uncompressed) in {time.perf_counter() - began:.1f}s"
        )
    db = CACHE / "bench.duckdb"
    for stale in (db, db.with_name(db.name + ".wal")):
        stale.unlink(missing_ok=True)

    cpu_before = _cpu_seconds()
    began = time.perf_counter()
    conn = connect(db)
    cold = ingest(conn, open_source(str(tree)), WINDOW, workers=args.workers)
    conn.close()
    cold_seconds = time.perf_counter() - began
    cpu_after = _cpu_seconds()
    main_cpu, worker_cpu = (
        after - before for after, before in zip(cpu_after, cpu_before, strict=True)
    )

    began = time.perf_counter()
    conn = connect(db)
    rerun = ingest(conn, open_source(str(tree)), WINDOW, workers=args.workers)
    conn.close()
    rerun_seconds = time.perf_counter() - began
    assert rerun.events_added == 0 and rerun.files_read == 0
    # Before the CLI run: a forked child starts with its parent's pages and would count them.
    own, children = _peak_mb()

    cli_db = CACHE / "bench-cli.duckdb"
    for stale in (cli_db, cli_db.with_name(cli_db.name + ".wal")):
        stale.unlink(missing_ok=True)
    cli = [sys.executable, "-m", "rightsizer.cli", "ingest", "--source", str(tree)]
    cli += ["--db", str(cli_db), "--until", f"{WINDOW.end:%Y-%m-%d}", "--days", str(DAYS)]
    cli += ["--format", "json"]
    if args.workers:
        cli_env = {**os.environ, "RIGHTSIZER_WORKERS": str(args.workers)}
    else:
        cli_env = {k: v for k, v in os.environ.items() if k != "RIGHTSIZER_WORKERS"}
    cli_seconds, cli_cpu = [], []
    for _ in range(2):  # cold, then nothing new
        children_before = _cpu_seconds()[1]
        began = time.perf_counter()
        subprocess.run(cli, check=True, capture_output=True, env=cli_env)
        cli_seconds.append(time.perf_counter() - began)
        cli_cpu.append(_cpu_seconds()[1] - children_before)  # the command and its workers

    size = sum(f.stat().st_size for f in tree.rglob("*.json.gz"))
    print(
        f"records: {cold.records:,} in {cold.files_read:,} files ({size / 1e6:.0f} MB gzip), "
        f"workers={args.workers}"
    )
    print(f"cold ingest: {cold_seconds:.2f}s  {cold.records / cold_seconds:,.0f} records/s")
    per_record = 1e6 / cold.records
    print(
        f"cold ingest CPU: main {main_cpu * per_record:.1f} us/record, "
        f"workers {worker_cpu * per_record:.1f} us/record (machine busy? compare with wall time)"
    )
    stored = db.stat().st_size
    print(f"store: {stored / 1e6:.0f} MB ({stored / cold.records:.0f} bytes/record)")
    print(f"no-op rerun (library, incl. connect): {rerun_seconds:.2f}s")
    print(
        f"cold ingest (CLI process, incl. start-up): {cli_seconds[0]:.2f}s "
        f"({cli_seconds[0] - cold_seconds:+.2f}s against the library); CPU "
        f"{cli_cpu[0]:.2f}s against the library's {main_cpu + worker_cpu:.2f}s"
    )
    print(
        f"no-op rerun (CLI process, incl. start-up): {cli_seconds[1]:.2f}s, CPU {cli_cpu[1]:.2f}s"
    )
    print(f"peak RSS: main {own:.0f} MB, largest worker {children:.0f} MB")


if __name__ == "__main__":
    main()
