"""Stopping an ingest on SIGINT or SIGTERM at a point where what it did so far can be kept.

Python's default turns SIGINT into KeyboardInterrupt wherever the main thread happens to be
(and SIGTERM ends the process at once): an ingest lost its open transaction, and each decoding
worker printed a traceback of its own. Here a signal only sets a flag; the ingest pipeline
looks at it wherever it waits, commits every file decoded so far and stops. While there is
nothing to keep yet (listing the source), a signal stops the run at once.
Either way the run ends with `Interrupted`.

A module of its own: signal handlers are process-wide state with rules of their own (main
thread only, restore what was there before), apart from how files flow through the pipeline.
The decoding workers ignore SIGINT (rightsizer.workers): only this process decides.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from concurrent.futures import Future, wait
from contextlib import contextmanager
from types import FrameType
from typing import TypeVar

T = TypeVar("T")

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How often a wait for a future looks whether a stop was asked for.
POLL_SECONDS = 0.1


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the run; `files_kept` files were committed before it did.

    A KeyboardInterrupt, so that code catching Exception does not swallow it.
    """

    def __init__(self, files_kept: int = 0) -> None:
        super().__init__()
        self.files_kept = files_kept

    def __str__(self) -> str:
        return f"interrupted: {self.files_kept:,} files kept; run again to continue"


class Stop:
    """Whether SIGINT or SIGTERM asked the run to stop, and what stopping now would keep."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.files_kept = 0  # what an Interrupted raised now reports; the run keeps it current
        self._at_once = False

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.requested.is_set():
            return  # the run is stopping already; a second signal must not cut that short
        self.requested.set()
        if self._at_once:
            raise Interrupted(self.files_kept)

    @contextmanager
    def at_once(self) -> Iterator[None]:
        """Inside, a signal raises Interrupted at once: for work that has nothing to keep."""
        outer, self._at_once = self._at_once, True
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
    inside `Stop.at_once()`. Leaving without an error, a stop asked for and not acted on raises
    Interrupted, so that what follows the run does not run. Nested calls share the outer one's
    Stop. Outside the main thread, where Python cannot set signal handlers, signals keep their
    meaning and the Stop is never asked.
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
