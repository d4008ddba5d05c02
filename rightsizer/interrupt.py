"""Stopping a run on SIGINT or SIGTERM with one line and exit code 130, and an ingest at a point
where what it did so far can be kept.

Python's default turns SIGINT into KeyboardInterrupt wherever the main thread happens to be
(and SIGTERM ends the process at once): an ingest lost its open transaction, each decoding
worker printed a traceback of its own, and a DuckDB query that SIGINT stopped ended the run in
a traceback of a RuntimeError. `rightsizer.cli.main` runs every command inside
`stop_on_signals()` and `Stop.at_once()`: a signal raises Interrupted where the run is, and an
error that a stopped query raises instead becomes Interrupted too. An ingest marks itself
`Stop.deferred()`: there a signal only sets a flag; the ingest pipeline looks at it wherever it
waits, commits every file decoded so far and stops. While there is nothing to keep yet
(listing the source), a signal stops the ingest at once.

A module of its own: signal handlers are process-wide state with rules of their own (main
thread only, restore what was there before), apart from how files flow through the pipeline.
The decoding workers ignore SIGINT (rightsizer.workers): only this process decides.
"""

from __future__ import annotations

import signal
import threading
import weakref
from collections.abc import Iterator
from concurrent.futures import Future, wait
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Protocol, TypeVar

T = TypeVar("T")

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How often a wait for a future looks whether a stop was asked for.
POLL_SECONDS = 0.1


class Interruptible(Protocol):
    """Work outside Python that a signal must stop: a DuckDB connection running a query."""

    def interrupt(self) -> None: ...


# DuckDB stops a query for Python's signal only between some of its steps: a grouping of 2.5
# million keys ran on for 7 s after Ctrl-C. Its connection's interrupt() ends the query at once.
_running: weakref.WeakSet[Interruptible] = weakref.WeakSet()


def interrupt_on_signal(target: Interruptible) -> None:
    """Until `target` is gone, a signal that stops the run at once interrupts it first."""
    _running.add(target)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the run; `files_kept` files were committed before it did (None:
    the run had no ingest).

    A KeyboardInterrupt, so that code catching Exception does not swallow it.
    """

    def __init__(self, files_kept: int | None = None) -> None:
        super().__init__()
        self.files_kept = files_kept

    def __str__(self) -> str:
        if self.files_kept is None:
            return "interrupted"
        return f"interrupted: {self.files_kept:,} files kept; run again to continue"


class Stop:
    """Whether SIGINT or SIGTERM asked the run to stop, and what stopping now would keep."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        # What an Interrupted raised now reports; an ingest keeps it current.
        self.files_kept: int | None = None
        self._at_once = False

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.requested.is_set():
            return  # the run is stopping already; a second signal must not cut that short
        self.requested.set()
        if self._at_once:
            for target in list(_running):
                with suppress(Exception):  # a connection closed already
                    target.interrupt()
            raise Interrupted(self.files_kept)

    @contextmanager
    def at_once(self) -> Iterator[None]:
        """Inside, a signal raises Interrupted at once: for work that has nothing to keep.

        A signal that finds a DuckDB query running stops the query, and DuckDB raises an error
        of its own (a RuntimeError) instead: an error raised once a stop was asked for becomes
        Interrupted on its way out.
        """
        with self._mode(at_once=True):
            try:
                yield
            except Exception as exc:
                if self.requested.is_set():
                    raise Interrupted(self.files_kept) from exc
                raise

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Inside, a signal only asks the run to stop (see `check` and `wait`): for work that
        keeps what it did so far, even inside `at_once`."""
        with self._mode(at_once=False):
            yield

    @contextmanager
    def _mode(self, *, at_once: bool) -> Iterator[None]:
        outer, self._at_once = self._at_once, at_once
        try:
            yield
        finally:
            self._at_once = outer

    def check(self) -> None:
        """Raise Interrupted if a stop was asked for."""
        if self.requested.is_set():
            raise Interrupted(self.files_kept)

    def wait(self, future: Future[T]) -> T:
        """The future's result; Interrupted instead if a stop is asked for while waiting."""
        while not future.done():
            wait([future], timeout=POLL_SECONDS)  # returns as soon as the future is done
            self.check()
        return future.result()


@contextmanager
def stop_on_signals() -> Iterator[Stop]:
    """While inside, SIGINT and SIGTERM ask the returned `Stop` to stop the run.

    A signal only sets `Stop.requested` (the work looks at it where it can stop cleanly), except
    inside `Stop.at_once()` (and not inside a `Stop.deferred()` within that). Leaving without an
    error, a stop asked for and not acted on raises Interrupted, so that what follows the run
    does not run. Nested calls share the outer one's Stop. Outside the main thread, where Python
    cannot set signal handlers, signals keep their meaning and the Stop is never asked.
    """
    current = signal.getsignal(signal.SIGINT)
    outer = getattr(current, "__self__", None)
    if isinstance(outer, Stop):
        yield outer
        outer.check()
        return
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    before = {signum: signal.signal(signum, stop._on_signal) for signum in SIGNALS}
    try:
        yield stop
    finally:
        for signum, handler in before.items():
            if handler is not None:  # None: set outside Python, which cannot be restored
                signal.signal(signum, handler)
    stop.check()
