"""The decoding worker processes of ingest, and the folder they hand decoded tables over in.

Workers are forked once per run and live as long as it: they ignore SIGINT, so that only the
ingest process decides what a Ctrl-C keeps (see rightsizer.interrupt) and stops them itself, and
they exit on their own once that process is gone, even when it was killed. A module of its own
so that ingest.py keeps to the flow of files and transactions.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import duckdb

from rightsizer.errors import StoreError


@contextmanager
def spool_folder(conn: duckdb.DuckDBPyConnection) -> Iterator[str]:
    """A folder for decoded tables on their way from the workers to the writer.

    `<db>.spool/` beside the database, emptied first (a killed run may have left tables in it;
    the single-writer lock means no other run uses it), or a temporary folder for a database in
    memory.
    """
    folder = discard_spool(conn)
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="rightsizer-spool-") as temporary:
            yield temporary
        return
    try:
        folder.mkdir()
    except OSError as exc:
        raise StoreError(
            f"cannot create {folder} for decoded logs on their way to the database ({exc}); "
            "move what is there, or make the database's folder writable"
        ) from exc
    try:
        yield str(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def discard_spool(conn: duckdb.DuckDBPyConnection) -> Path | None:
    """Remove `<db>.spool/`, which a killed run may have left, and return its path (None for a
    database in memory). A run with nothing new to ingest calls it too: the killed run may have
    committed every file before it was killed."""
    ((path,),) = conn.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()
    if not path:
        return None
    folder = Path(f"{path}.spool")
    shutil.rmtree(folder, ignore_errors=True)
    return folder


def _start_worker(parent: int) -> None:
    """Prepare a decoding worker: it leaves SIGINT to the ingest process and ends with it."""
    # Ctrl-C in a terminal reaches every process of the foreground group, the workers too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent(parent)


def _exit_with_parent(parent: int) -> None:
    """Make this worker exit once the ingest process is gone, even if it was killed.

    A killed parent never tells its workers, and they would wait for tasks forever.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


@contextmanager
def decode_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """The worker processes that decode files."""
    # fork starts workers in milliseconds and needs no `__main__` guard in callers' scripts;
    # elsewhere fork is unsafe, so spawn.
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(os.getpid(),),
    ) as pool:
        # The first task forks every worker, before this run starts any thread of its own.
        pool.submit(os.getpid).result()
        yield pool
