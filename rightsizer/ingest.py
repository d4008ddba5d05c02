"""Append CloudTrail log files to the store: decode in worker processes, write in transactions.

A file's events and its manifest row always commit together, so a run killed at any moment
leaves a consistent database and the next run picks up where it stopped. The same eventID never
yields two rows: a batch keeps the first occurrence and leaves out ids stored already.

Longer than most modules on purpose: the batch transaction, its row-group sizing and the
duplicate handling are one protocol and read best together (the worker pool is in workers.py,
signal handling in interrupt.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rightsizer.config import MEMORY_LIMIT
from rightsizer.errors import SourceError
from rightsizer.interrupt import Interrupted, Stop, stop_on_signals
from rightsizer.progress import IngestProgress
from rightsizer.records import (
    ChunkResult,
    FileResult,
    decode_files,
    decode_log,
    read_table,
    timed_rows,
    to_table,
)
from rightsizer.sources import Listing, LogFile, LogSource
from rightsizer.store import connect
from rightsizer.window import Window
from rightsizer.workers import decode_pool, discard_spool, spool_folder

T = TypeVar("T")

# A worker task holds about this much compressed input (or this many files).
CHUNK_BYTES = 1 << 20
CHUNK_FILES = 64
# A transaction commits once it holds this many rows (or files).
# When a transaction adds at least one DuckDB row group (122,880 rows), DuckDB writes the rows
# straight to the database file, compressed, at commit ("optimistic write"); fewer go through
# the WAL and are compressed at the next checkpoint, which costs twice the CPU. A tenth more
# than a row group leaves room for duplicates, which are not added.
ROW_GROUP_ROWS = 122_880
BATCH_ROWS = ROW_GROUP_ROWS * 11 // 10
BATCH_FILES = 20_000
# Decoded chunks go to the writer thread in groups of this many rows (one insert statement
# each: smaller ones cost more per row), with at most MAX_PENDING groups waiting.
INSERT_ROWS = 32_768
MAX_PENDING = 1


def _first_occurrences(ids: pa.ChunkedArray) -> np.ndarray:
    """True for each event_id's first row in `ids`, False for later rows with the same id."""
    distinct = pc.unique(ids)  # in the order of first occurrence
    if len(distinct) == len(ids):
        return np.ones(len(ids), dtype=bool)
    # Row i is a first occurrence when its value's rank exceeds every rank before it.
    rank = pc.index_in(ids, value_set=distinct).to_numpy()
    first = np.empty(len(ids), dtype=bool)
    first[0] = True
    first[1:] = rank[1:] > np.maximum.accumulate(rank)[:-1]
    return first


def _stored(conn: duckdb.DuckDBPyConnection, ids: pa.ChunkedArray) -> np.ndarray:
    """True for each id that is stored already.

    Stored ids are found by their `event_key` (a hash of the id): a scan of that one integer
    column, then, only if some keys match, of the matching rows' ids to compare them as
    strings. Memory does not grow with the store, as a key index would, and each stored event
    costs a tenth of comparing every stored id.
    """
    conn.register("_batch_ids", pa.table({"event_id": ids}))
    keys = conn.execute(
        "SELECT DISTINCT e.event_key FROM events AS e"
        " WHERE e.event_key IN (SELECT hash(event_id) FROM _batch_ids)"
    ).fetchall()
    conn.unregister("_batch_ids")
    if not keys:
        return np.zeros(len(ids), dtype=bool)
    conn.register("_stored_keys", pa.table({"key": pa.array([k for (k,) in keys], pa.uint64())}))
    matches = conn.execute(
        "SELECT e.event_id FROM events AS e WHERE e.event_key IN (SELECT key FROM _stored_keys)"
    ).fetchall()
    conn.unregister("_stored_keys")
    stored = pa.array([event_id for (event_id,) in matches], pa.string())
    return pc.is_in(ids, value_set=stored).to_numpy()


def insert_events(conn: duckdb.DuckDBPyConnection, table: pa.Table) -> tuple[int, Counter[str]]:
    """Insert the rows whose event_id is not stored yet, in the caller's transaction.

    The same event_id twice in `table` is inserted once, from its first row. Returns the
    number of rows added and how many each source file added.
    """
    if table.num_rows == 0:
        return 0, Counter()
    ids = table.column("event_id")
    new = pa.array(_first_occurrences(ids) & ~_stored(conn, ids))
    # A column rather than a filtered copy of the table: copying cost more than the insert.
    # Registered views are left behind on error: the next register() replaces them.
    conn.register("_new_events", table.append_column("_new", new))
    conn.execute(
        "INSERT INTO events BY NAME"
        " SELECT n.* EXCLUDE (_new), hash(n.event_id) AS event_key"
        " FROM _new_events AS n WHERE n._new"
    )
    conn.unregister("_new_events")
    return new.true_count, _row_counts(pc.filter(table.column("source_file"), new))


def _row_counts(source_files: pa.ChunkedArray) -> Counter[str]:
    counts = pc.value_counts(source_files).to_pylist()
    return Counter({item["values"]: item["counts"] for item in counts})


def _in_transaction(conn: duckdb.DuckDBPyConnection, work: Callable[[], T]) -> T:
    """Run `work()` in one transaction: all of it commits, or none."""
    conn.execute("BEGIN TRANSACTION")
    try:
        result = work()
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def load_records(
    conn: duckdb.DuckDBPyConnection, records: list[dict[str, Any]], source_key: str = "test"
) -> int:
    """Insert CloudTrail records given as dicts (as in a log file); returns rows added.

    Records go through the same decoding as log files (bad records and Insight records are
    left out, duplicates of stored eventIDs ignored). No manifest row is written.
    """
    decoded = decode_log(msgspec.json.encode({"Records": records}))
    table, _ = timed_rows(to_table(decoded.records, source_key))
    added, _ = _in_transaction(conn, lambda: insert_events(conn, table))
    return added


@dataclass
class IngestSummary:
    """What one ingest run did; `as_dict()` is the JSON summary."""

    run_id: str
    source: str
    window: Window
    strict: bool = False
    files_listed: int = 0
    files_already_ingested: int = 0
    files_skipped_before: int = 0
    files_read: int = 0
    records: int = 0
    events_added: int = 0
    duplicates: int = 0
    bad_records: int = 0
    insight_records: int = 0
    skipped_files: list[tuple[str, str]] = field(default_factory=list)
    #: Files skipped by an earlier run and unchanged since, with the reason: not read again.
    still_skipped: list[tuple[str, str]] = field(default_factory=list)
    non_log_objects: Counter[str] = field(default_factory=Counter)
    unexpected_folders: list[str] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False  # by SIGINT or SIGTERM, after committing what it had decoded

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """0, or 1 under `strict` when a file was skipped, a record was bad, or a folder
        under AWSLogs/ was not an account's (its logs were not read)."""
        lost = bool(self.skipped_files) or self.bad_records > 0 or bool(self.unexpected_folders)
        return 1 if self.strict and lost else 0

    def lines(self) -> list[str]:
        """The summary as text lines for a terminal."""
        window = self.window.as_dict()
        out = [
            f"source {self.source}, window {window['start']} to {window['end']}",
            f"files: {self.files_read:,} read, {self.files_already_ingested:,} already ingested, "
            f"{self.files_skipped_before:,} skipped before, {len(self.skipped_files):,} skipped",
            f"records: {self.records:,} read, {self.events_added:,} added, "
            f"{self.duplicates:,} duplicates, {self.bad_records:,} bad, "
            f"{self.insight_records:,} insight",
            f"non-log objects: {self.non_log_objects.get('other', 0):,} (not read)",
        ]
        out += [f"skipped {key}: {reason}" for key, reason in self.skipped_files]
        out += [
            f"still skipped {key}: {reason} (unchanged since; put a good copy in its place)"
            for key, reason in self.still_skipped
        ]
        out += [
            f"unexpected folder {path}: not an account or organization id, not read"
            for path in self.unexpected_folders
        ]
        out.append(f"time: {self.seconds:.2f} s, {self.records_per_second:,.0f} records/s")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "source": self.source,
            "window": self.window.as_dict(),
            "files_listed": self.files_listed,
            "files_already_ingested": self.files_already_ingested,
            "files_skipped_before": self.files_skipped_before,
            "files_read": self.files_read,
            "records": self.records,
            "events_added": self.events_added,
            "duplicates": self.duplicates,
            "bad_records": self.bad_records,
            "insight_records": self.insight_records,
            "skipped_files": [{"key": k, "reason": r} for k, r in self.skipped_files],
            "non_log_objects": {"other": self.non_log_objects.get("other", 0)},
            "unexpected_folders": list(self.unexpected_folders),
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records_per_second),
            "strict": self.strict,
            "exit_code": self.exit_code,
            "interrupted": self.interrupted,
            "engine": "duckdb",
            "scanned_bytes": 0,
            "cost_usd": 0.0,
        }


class _NoProgress:
    def message(self, text: str) -> None:
        """Say nothing."""

    def start(self, files: int) -> None:
        """Say nothing."""

    def advance(self, files: int, records: int) -> None:
        """Say nothing."""

    def finish(self) -> None:
        """Say nothing."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _chunks(files: list[LogFile]) -> Iterator[list[LogFile]]:
    """Group files into worker tasks of about CHUNK_BYTES (in the sorted key order)."""
    chunk: list[LogFile] = []
    size = 0
    for file in files:
        chunk.append(file)
        size += file.size
        if size >= CHUNK_BYTES or len(chunk) >= CHUNK_FILES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


@dataclass
class _Batch:
    """The files of the open transaction and what their events added."""

    files: list[tuple[LogFile, FileResult]] = field(default_factory=list)
    added: Counter[str] = field(default_factory=Counter)
    rows: int = 0


class _Writer:
    """Inserts decoded chunks on its own thread, committing them in batches of whole files.

    A batch is one transaction: its files' events, manifest rows and skipped-file rows. Chunks
    are inserted a group at a time as they come (DuckDB writes full row groups to the file as
    they fill), so memory holds a few groups, not a batch; the transaction commits once it has
    BATCH_ROWS rows or BATCH_FILES files. Chunks are inserted and committed in the order given.
    """

    def __init__(self, conn: duckdb.DuckDBPyConnection, summary: IngestSummary) -> None:
        self.conn = conn
        self.summary = summary
        self.thread = ThreadPoolExecutor(max_workers=1)
        self.group: list[tuple[list[LogFile], ChunkResult]] = []  # not handed over yet
        self.group_rows = 0
        self.pending: deque[Future[None]] = deque()
        self.batch: _Batch | None = None  # the open transaction; used on the writer thread only
        self.failed = False

    def add(self, chunk: list[LogFile], result: ChunkResult) -> None:
        """Take a decoded chunk; hand chunks over once they hold INSERT_ROWS rows."""
        self.group.append((chunk, result))
        self.group_rows += sum(r.rows for r in result.files)
        if self.group_rows >= INSERT_ROWS:
            self._hand_over()

    def _hand_over(self) -> None:
        while len(self.pending) >= MAX_PENDING:
            self.pending.popleft().result()
        group, self.group, self.group_rows = self.group, [], 0
        self.pending.append(self.thread.submit(self._insert, group))

    def close(self, *, flush: bool) -> None:
        """Insert what is left and commit the open batch (if `flush`), or roll it back."""
        try:
            if flush and self.group:
                self._hand_over()
            while self.pending:
                self.pending.popleft().result()
        finally:
            try:
                self.thread.submit(self._end, flush and not self.failed).result()
            finally:
                self.thread.shutdown(wait=True)

    def _insert(self, group: list[tuple[list[LogFile], ChunkResult]]) -> None:
        if self.failed:
            return  # an earlier group failed: the open batch will be rolled back
        try:
            if self.batch is None:
                self.conn.execute("BEGIN TRANSACTION")
                self.batch = _Batch()
            batch = self.batch
            tables = []
            for chunk, result in group:
                batch.files += zip(chunk, result.files, strict=True)
                if result.table is not None:
                    tables.append(read_table(result.table))
                    # The mapping keeps the data; where a mapped file cannot be removed
                    # (Windows), it goes with the spool folder at the end of the run.
                    with suppress(OSError):
                        os.unlink(result.table)
            if tables:
                events = pa.concat_tables(tables)
                batch.added += insert_events(self.conn, events)[1]
                batch.rows += events.num_rows
            if batch.rows >= BATCH_ROWS or len(batch.files) >= BATCH_FILES:
                self._commit()
        except BaseException:
            self.failed = True
            raise

    def _end(self, commit: bool) -> None:
        if self.batch is None:
            return
        if commit:
            self._commit()
        else:
            self.batch = None
            with suppress(duckdb.Error):  # a failed statement or commit may have ended it
                self.conn.execute("ROLLBACK")

    def _commit(self) -> None:
        """Add the batch's manifest and skipped-file rows and commit the transaction."""
        batch = self.batch
        assert batch is not None
        now = _utcnow()
        good = [(f, r) for f, r in batch.files if r.fault is None]
        bad = [(f, r) for f, r in batch.files if r.fault is not None]
        added = batch.added
        manifest = pa.table(
            {
                "source_key": [f.key for f, _ in good],
                "size_bytes": pa.array([f.size for f, _ in good], pa.int64()),
                "account": [f.account for f, _ in good],
                "region": [f.region for f, _ in good],
                "delivered_at": pa.array([f.delivered_at for f, _ in good], pa.timestamp("us")),
                "records": pa.array([r.records for _, r in good], pa.int32()),
                "events_added": pa.array([added[f.key] for f, _ in good], pa.int32()),
                "duplicates": pa.array([r.rows - added[f.key] for f, r in good], pa.int32()),
                "bad_records": pa.array([r.bad_records for _, r in good], pa.int32()),
                "ingested_at": pa.array([now] * len(good), pa.timestamp("us")),
            }
        )
        skipped = pa.table(
            {
                "source_key": [f.key for f, _ in bad],
                "size_bytes": pa.array([f.size for f, _ in bad], pa.int64()),
                "reason": [r.fault for _, r in bad],
                "content_id": pa.array([f.content_id for f, _ in bad], pa.string()),
                "skipped_at": pa.array([now] * len(bad), pa.timestamp("us")),
            }
        )
        conn = self.conn
        conn.register("_manifest", manifest)
        conn.register("_skipped", skipped)
        # A file skipped before and changed since may be good now, or bad anew.
        conn.execute(
            "DELETE FROM skipped_files WHERE source_key IN "
            "(SELECT source_key FROM _manifest UNION ALL SELECT source_key FROM _skipped)"
        )
        conn.execute("INSERT INTO files BY NAME SELECT * FROM _manifest")
        conn.execute("INSERT INTO skipped_files BY NAME SELECT * FROM _skipped")
        conn.unregister("_manifest")
        conn.unregister("_skipped")
        conn.execute("COMMIT")
        self.batch = None
        summary = self.summary
        summary.files_read += len(batch.files)
        summary.events_added += added.total()
        summary.duplicates += batch.rows - added.total()
        summary.skipped_files += [(f.key, r.fault or "") for f, r in bad]


@dataclass(frozen=True)
class _Skipped:
    """A file skipped before: its size and content id then (None from before v5), and why."""

    size: int
    content_id: str | None
    reason: str

    def unchanged(self, file: LogFile) -> bool:
        """Whether `file` is what was skipped: the same size and content id."""
        return self.size == file.size and self.content_id == file.content_id


def _known_files(conn: duckdb.DuckDBPyConnection) -> tuple[set[str], dict[str, _Skipped]]:
    """Keys in the manifest, and the skipped files by key."""
    done = {row[0] for row in conn.execute("SELECT source_key FROM files").fetchall()}
    rows = conn.execute(
        "SELECT source_key, size_bytes, content_id, reason FROM skipped_files"
    ).fetchall()
    skipped = {key: _Skipped(size, content_id, reason) for key, size, content_id, reason in rows}
    return done, skipped


def ingest(
    conn: duckdb.DuckDBPyConnection,
    source: LogSource,
    window: Window,
    *,
    workers: int = 0,
    strict: bool = False,
    progress: IngestProgress | None = None,
    listing: Listing | None = None,
) -> IngestSummary:
    """Read the window's new log files from `source` into the store; returns the summary.

    Files already in the manifest are not read again, whatever changed; a file skipped before is
    read again once its size or content id differs (another ETag, a newer local copy).
    Files are decoded in `workers` processes (0 = one per core) and committed in key order,
    so a run that is killed and rerun ends with exactly the rows of an uninterrupted run.
    `listing` is the source's listing of the window, when the caller made it already.

    SIGINT or SIGTERM (when called in the main thread) stops the run: every file decoded by
    then is committed, and `Interrupted` says how many files this run kept.
    """
    started = time.monotonic()
    shown = progress or _NoProgress()
    summary = IngestSummary(run_id=uuid.uuid4().hex, source=source.spec, window=window)
    summary.strict = strict
    with stop_on_signals() as stop, stop.deferred():
        stop.files_kept = 0
        if listing is None:
            with stop.at_once():  # nothing to keep yet
                listing = source.list_files(window, shown.message)
        conn.execute(
            "INSERT INTO ingest_runs (run_id, source, window_start, window_end, started_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [summary.run_id, source.spec, window.start, window.end, _utcnow()],
        )
        try:
            _read_new(conn, source, listing, workers, summary, shown, stop)
            stop.check()  # asked for during the last commit
        except Interrupted as interrupted:
            summary.interrupted = True
            interrupted.files_kept = stop.files_kept = summary.files_read
            _finish(conn, summary, started)
            raise
        _finish(conn, summary, started)
        stop.files_kept = summary.files_read  # a stop asked for from here on keeps them all
    return summary


def _finish(conn: duckdb.DuckDBPyConnection, summary: IngestSummary, started: float) -> None:
    """Record the run's summary in `ingest_runs`."""
    summary.seconds = time.monotonic() - started
    conn.execute(
        "UPDATE ingest_runs SET finished_at = ?, summary = ? WHERE run_id = ?",
        [_utcnow(), json.dumps(summary.as_dict()), summary.run_id],
    )


def ingest_into(
    db: str | Path,
    source: LogSource,
    window: Window,
    *,
    workers: int = 0,
    strict: bool = False,
    progress: IngestProgress | None = None,
    memory_limit: str = MEMORY_LIMIT,
) -> IngestSummary:
    """`ingest` into the database file `db`, opened (or created) once the source is listed,
    with DuckDB's `memory_limit`.

    A source that cannot be listed (a wrong bucket, a folder without AWSLogs/) so leaves no
    empty database behind.
    """
    with stop_on_signals() as stop, stop.deferred():
        stop.files_kept = 0
        with stop.at_once():  # nothing to keep yet
            listing = source.list_files(window, progress.message if progress else None)
        # A stop waits for the store to open: a new database gets its whole schema.
        conn = connect(db, memory_limit=memory_limit)
        try:
            return ingest(
                conn,
                source,
                window,
                workers=workers,
                strict=strict,
                progress=progress,
                listing=listing,
            )
        finally:
            conn.close()


def _read_new(
    conn: duckdb.DuckDBPyConnection,
    source: LogSource,
    listing: Listing,
    workers: int,
    summary: IngestSummary,
    shown: IngestProgress,
    stop: Stop,
) -> None:
    """Read the listed files that are not in the store yet."""
    summary.files_listed = len(listing.files)
    summary.non_log_objects["other"] += listing.other_files
    summary.unexpected_folders = listing.unexpected_folders
    done, skipped_before = _known_files(conn)
    todo = []
    for file in listing.files:
        if file.key in done:
            summary.files_already_ingested += 1
        elif (skipped := skipped_before.get(file.key)) is not None and skipped.unchanged(file):
            summary.files_skipped_before += 1
            summary.still_skipped.append((file.key, skipped.reason))
        else:
            todo.append(file)
    shown.message(f"{source.spec}: {summary.files_listed} log files in the window, {len(todo)} new")
    if todo:
        shown.start(len(todo))
        try:
            _read_all(conn, source, todo, workers or os.cpu_count() or 1, summary, shown, stop)
        finally:
            shown.finish()
    else:
        discard_spool(conn)  # decoded tables a killed run left, though it committed them all


def _read_all(
    conn: duckdb.DuckDBPyConnection,
    source: LogSource,
    todo: list[LogFile],
    workers: int,
    summary: IngestSummary,
    progress: IngestProgress,
    stop: Stop,
) -> None:
    """The pipeline: read files (threads) -> decode (processes) -> commit (one thread)."""
    # The decode workers take the cores; DuckDB writes with what is left (and at least one).
    engine_threads = max(1, (os.cpu_count() or 1) - workers)
    with (
        _engine_settings(conn, engine_threads),
        decode_pool(workers) as pool,
        spool_folder(conn) as spool,
    ):
        writer = _Writer(conn, summary)
        done = False
        try:
            with ThreadPoolExecutor(max_workers=max(source.concurrency, 1)) as reader:
                pipeline = _Pipeline(source, spool, pool, reader, writer, summary, progress)
                pipeline.run(todo, workers, stop)
            done = True
        except (SourceError, Interrupted):
            done = True  # commit every file decoded before the stop
            raise
        finally:
            writer.close(flush=done)


# Checkpoint (compress and write the table) after this much WAL rather than DuckDB's 16MB:
# small log files otherwise pay for a checkpoint every few commits.
CHECKPOINT_THRESHOLD = "64MB"


@contextmanager
def _engine_settings(conn: duckdb.DuckDBPyConnection, threads: int) -> Iterator[None]:
    """Run with DuckDB's threads and checkpoint threshold set for ingest, then restore them."""
    names = ("threads", "checkpoint_threshold")
    before = [conn.execute("SELECT current_setting(?)", [n]).fetchall()[0][0] for n in names]
    conn.execute("SET threads = ?", [threads])
    conn.execute("SET checkpoint_threshold = ?", [CHECKPOINT_THRESHOLD])
    try:
        yield
    finally:
        conn.execute("SET threads = ?", [before[0]])
        conn.execute("SET checkpoint_threshold = ?", [before[1]])


class _Pipeline:
    """Keeps a few chunks being read and decoded while handing finished ones over in order."""

    def __init__(
        self,
        source: LogSource,
        spool: str,
        pool: ProcessPoolExecutor,
        reader: ThreadPoolExecutor,
        writer: _Writer,
        summary: IngestSummary,
        progress: IngestProgress,
    ) -> None:
        self.source = source
        self.spool = spool
        self.pool = pool
        self.reader = reader
        self.writer = writer
        self.summary = summary
        self.progress = progress
        # Chunks leave these queues only once handed on, so a stop finds them all.
        self.reads: deque[tuple[list[LogFile], list[Future[bytes]]]] = deque()
        self.decodes: deque[tuple[list[LogFile], Future[ChunkResult]]] = deque()

    def run(self, todo: list[LogFile], workers: int, stop: Stop) -> None:
        """Read, decode and hand over every file of `todo`, unless `stop` is asked first."""
        chunks = _chunks(todo)
        reads, decodes = self.reads, self.decodes
        # Bounded in-flight work keeps memory flat whatever the number of files.
        max_decodes = workers * 2
        max_reads = 2
        more = True
        try:
            while more or reads or decodes:
                stop.check()
                while more and len(reads) < max_reads:
                    chunk = next(chunks, None)
                    if chunk is None:
                        more = False
                    else:
                        reads.append(
                            (chunk, [self.reader.submit(self.source.read, f) for f in chunk])
                        )
                if reads and len(decodes) < max_decodes:
                    chunk, futures = reads[0]
                    try:
                        items = [
                            (f.key, stop.wait(fut)) for f, fut in zip(chunk, futures, strict=True)
                        ]
                    except SourceError:
                        while decodes:  # keep what was read before the file that could not be
                            self._hand_over(*decodes.popleft())
                        raise
                    reads.popleft()
                    decodes.append((chunk, self.pool.submit(decode_files, items, self.spool)))
                    continue
                stop.wait(decodes[0][1])
                self._hand_over(*decodes.popleft())
        except Interrupted:
            self._keep_decoded()
            raise

    def _keep_decoded(self) -> None:
        """Hand over every chunk decoded by now, in order, up to the first one that is not."""
        self.reader.shutdown(wait=False, cancel_futures=True)
        self.pool.shutdown(wait=True, cancel_futures=True)  # lets the decodes under way end
        for chunk, future in self.decodes:
            if future.cancelled() or future.exception() is not None:
                break  # never started, or its worker was ended by the same signal
            self._hand_over(chunk, future)

    def _hand_over(self, chunk: list[LogFile], future: Future[ChunkResult]) -> None:
        """Give a decoded chunk to the writer and count it."""
        result = future.result()
        records = sum(r.records for r in result.files)
        summary = self.summary
        summary.records += records
        summary.bad_records += sum(r.bad_records for r in result.files)
        summary.insight_records += sum(r.insight_records for r in result.files)
        self.writer.add(chunk, result)
        self.progress.advance(len(chunk), records)
