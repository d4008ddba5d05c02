"""Ingest progress on stderr: a rich progress bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class IngestProgress(Protocol):
    """What ingest reports while it runs."""

    def message(self, text: str) -> None:
        """A one-off line, e.g. what was listed."""

    def start(self, files: int) -> None:
        """Reading begins; `files` is how many files will be read."""

    def advance(self, files: int, records: int) -> None:
        """`files` more files were read, holding `records` records."""

    def finish(self) -> None:
        """Reading is over (also after an error)."""


class PlainProgress:
    """One line at most every `interval` seconds, for logs and pipes."""

    def __init__(self, stream: TextIO, interval: float = 5.0) -> None:
        self.stream = stream
        self.interval = interval
        self.total = self.files = self.records = 0
        self.started = self.last = time.monotonic()

    def message(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def start(self, files: int) -> None:
        self.total = files
        self.started = self.last = time.monotonic()

    def advance(self, files: int, records: int) -> None:
        self.files += files
        self.records += records
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self._line(now)

    def _line(self, now: float) -> None:
        rate = self.records / max(now - self.started, 1e-9)
        self.message(
            f"read {self.files}/{self.total} files, {self.records:,} records "
            f"({rate:,.0f} records/s)"
        )

    def finish(self) -> None:
        if self.total:
            self._line(time.monotonic())


class RichProgress:
    """A live bar: files done of total, records and records per second."""

    def __init__(self, stream: TextIO) -> None:
        # Imported here: only a terminal gets the bar, and rich takes a while to load.
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(file=stream)
        self.bar = Progress(
            TextColumn("ingest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files  {task.fields[records]:,} records  {task.fields[rate]:,.0f}/s"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.task = self.bar.add_task("ingest", total=0, records=0, rate=0.0, start=False)
        self.records = 0
        self.started = time.monotonic()

    def message(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def start(self, files: int) -> None:
        self.started = time.monotonic()
        self.bar.update(self.task, total=files)
        self.bar.start_task(self.task)
        self.bar.start()

    def advance(self, files: int, records: int) -> None:
        self.records += records
        rate = self.records / max(time.monotonic() - self.started, 1e-9)
        self.bar.update(self.task, advance=files, records=self.records, rate=rate)

    def finish(self) -> None:
        self.bar.stop()


def terminal_progress(stream: TextIO | None = None) -> IngestProgress:
    """A rich bar when `stream` (default stderr) is a terminal, plain lines otherwise."""
    stream = stream or sys.stderr
    if stream.isatty():
        return RichProgress(stream)
    return PlainProgress(stream)
