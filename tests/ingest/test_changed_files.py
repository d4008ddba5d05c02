"""A log file that changes after a run: a skipped one is read again once its content changes
(another S3 ETag, a local file's size or modification time), one read before never is."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from pathlib import Path

import boto3
import pytest
from aws_guard import setup_client
from trail_logs import WINDOW, log_key, make_record, query, upload, write_file, write_tree

from rightsizer.ingest import IngestSummary, ingest
from rightsizer.sources import open_source
from rightsizer.store import connect

BUCKET = "trail-bucket"
WHEN = dt.datetime(2026, 10, 2, 12)
KEY = log_key(WHEN, unique="replaced00000000")


def log_bytes(ids: list[str]) -> bytes:
    records = [make_record(event_id, WHEN) for event_id in ids]
    return gzip.compress(json.dumps({"Records": records}).encode(), mtime=0)


def flipped(data: bytes) -> bytes:
    """`data` with one byte of its compressed stream flipped: the same size, a corrupt gzip."""
    damaged = bytearray(data)
    damaged[len(damaged) // 2] ^= 0xFF
    return bytes(damaged)


class Tree:
    """A CloudTrail tree in a local folder or in a moto bucket, ingested into one store."""

    def __init__(self, tmp_path: Path, where: str) -> None:
        self.root = tmp_path / "logs"
        self.db = tmp_path / "store.duckdb"
        self.where = where

    def start(self, key: str, data: bytes) -> None:
        write_tree(self.root, files=3, per_file=4)
        write_file(self.root, key, data)
        if self.where == "s3":
            upload(self.root, BUCKET)

    def replace(self, key: str, data: bytes) -> None:
        """Put `data` at `key`, as a copy of the file delivered again would."""
        if self.where == "s3":
            s3 = setup_client(boto3.client("s3", region_name="us-east-1"))
            s3.put_object(Bucket=BUCKET, Key=key, Body=data)
            return
        path = write_file(self.root, key, data)
        # A later modification time, whatever the file system's clock resolution.
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    def ingest(self) -> IngestSummary:
        spec = f"s3://{BUCKET}" if self.where == "s3" else str(self.root)
        conn = connect(self.db)
        try:
            return ingest(conn, open_source(spec), WINDOW, workers=2)
        finally:
            conn.close()


@pytest.fixture(params=["local", "s3"])
def tree(request: pytest.FixtureRequest, tmp_path: Path) -> Tree:
    if request.param == "s3":
        request.getfixturevalue("moto")
    return Tree(tmp_path, request.param)


def test_a_skipped_file_replaced_by_a_good_copy_of_the_same_size_is_read(tree: Tree) -> None:
    good = log_bytes([f"fixed-{n}" for n in range(5)])
    bad = flipped(good)
    assert len(bad) == len(good)
    tree.start(KEY, bad)
    first = tree.ingest()
    assert [key for key, _ in first.skipped_files] == [KEY]
    # Unchanged, it is not read again, and the text summary names it.
    again = tree.ingest()
    assert (again.files_read, again.files_skipped_before, again.skipped_files) == (0, 1, [])
    assert any(line.startswith(f"still skipped {KEY}: ") for line in again.lines())

    tree.replace(KEY, good)
    fixed = tree.ingest()
    assert (fixed.files_read, fixed.events_added, fixed.skipped_files) == (1, 5, [])
    assert query(tree.db, "SELECT count(*) FROM skipped_files") == [(0,)]
    assert query(tree.db, "SELECT events_added FROM files WHERE source_key = ?", [KEY]) == [(5,)]
    assert not any(line.startswith("still skipped") for line in fixed.lines())
    assert tree.ingest().files_read == 0


def test_a_skipped_file_replaced_by_another_bad_one_is_skipped_anew(tree: Tree) -> None:
    good = log_bytes(["a", "b"])
    tree.start(KEY, flipped(good))
    tree.ingest()
    tree.replace(KEY, b"\x1f\x8b" + b"\x00" * (len(good) - 2))
    anew = tree.ingest()
    assert (anew.files_read, anew.files_skipped_before) == (1, 0)
    assert [key for key, _ in anew.skipped_files] == [KEY]
    assert tree.ingest().files_skipped_before == 1  # recorded with its new content


def test_a_file_read_before_is_not_read_again_when_it_changes(tree: Tree) -> None:
    tree.start(KEY, log_bytes(["one", "two"]))
    assert tree.ingest().events_added == 14
    # The same size again (its ids differ in one character), then the same ids and more.
    assert len(log_bytes(["onf", "two"])) == len(log_bytes(["one", "two"]))
    tree.replace(KEY, log_bytes(["onf", "two"]))
    again = tree.ingest()
    assert (again.files_read, again.files_already_ingested) == (0, 4)
    tree.replace(KEY, log_bytes(["one", "two", "three"]))
    assert tree.ingest().files_read == 0
    ids = [row[0] for row in query(tree.db, "SELECT event_id FROM events")]
    assert len(ids) == len(set(ids)) == 14 and "onf" not in ids


def test_a_file_skipped_before_content_ids_were_kept_is_read_again(tmp_path: Path) -> None:
    tree = Tree(tmp_path, "local")
    good = log_bytes(["x", "y"])
    tree.start(KEY, flipped(good))
    tree.ingest()
    # As a store of schema version 4 left it: the size alone. The good copy of the same size
    # may already be in place.
    conn = connect(tree.db)
    conn.execute("UPDATE skipped_files SET content_id = NULL")
    conn.close()
    write_file(tree.root, KEY, good)
    fixed = tree.ingest()
    assert (fixed.files_read, fixed.events_added, fixed.skipped_files) == (1, 2, [])
