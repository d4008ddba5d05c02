"""A suite-wide guard proving that rightsizer never changes AWS.

`install()` makes every botocore session created afterwards (boto3 sessions, `boto3.client`,
the clients rightsizer makes) record each operation it calls, from botocore's `before-call`
event. conftest.py checks after every test that each operation not made as test setup is in
`rightsizer.permissions.ALLOWED_OPERATIONS`.

Test setup that has to change the moto server (CreateBucket, PutObject, CreateRole, ...) marks
its client with `setup_client(client)`, or runs inside `with allow_writes():`.
Calls made in other processes are not seen; rightsizer makes every AWS call in its main process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import boto3
import botocore.session

from rightsizer.permissions import ALLOWED_OPERATIONS

_SETUP_KEY = "aws_guard.setup"
_PARAMS_KEY = "aws_guard.params"
_C = TypeVar("_C")


@dataclass(frozen=True)
class AwsCall:
    """One AWS operation a client called: `service:Operation`, its scalar parameters, and
    whether it was test setup (exempt from the allow-list)."""

    operation: str
    params: Mapping[str, Any] = field(hash=False)
    setup: bool


class AwsCallLog:
    """Every operation called since `install()`, in order; safe to use from many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[AwsCall] = []
        self._writes_allowed = 0

    def record(self, operation: str, params: Mapping[str, Any], setup: bool) -> None:
        with self._lock:
            setup = setup or self._writes_allowed > 0
            self._calls.append(AwsCall(operation, params, setup))

    def mark(self) -> int:
        """A position in the log; `since(mark)` gives the calls made after it."""
        with self._lock:
            return len(self._calls)

    def since(self, mark: int) -> list[AwsCall]:
        with self._lock:
            return self._calls[mark:]

    @contextmanager
    def writes_allowed(self) -> Iterator[None]:
        with self._lock:
            self._writes_allowed += 1
        try:
            yield
        finally:
            with self._lock:
                self._writes_allowed -= 1


LOG = AwsCallLog()


def violations(calls: list[AwsCall]) -> list[str]:
    """The operations among `calls` that were neither setup nor in the allow-list."""
    return [c.operation for c in calls if not c.setup and c.operation not in ALLOWED_OPERATIONS]


@dataclass
class AwsCalls:
    """The AWS calls of one test (the `aws_calls` fixture)."""

    start: int
    forgiven: int = 0  # calls before this index were checked by the test itself

    @property
    def calls(self) -> list[AwsCall]:
        """Every call the test made so far, setup included."""
        return LOG.since(self.start)

    def operations(self, *, setup: bool = False) -> list[str]:
        """The operations called so far (without setup calls unless `setup`)."""
        return [c.operation for c in self.calls if setup or not c.setup]

    def violations(self) -> list[str]:
        """Operations outside the allow-list that were not made as setup."""
        return violations(LOG.since(self.start + self.forgiven))

    def forgive(self) -> None:
        """Accept every call so far: for a test that breaks the rule on purpose to check it."""
        self.forgiven = len(self.calls)


@contextmanager
def allow_writes() -> Iterator[None]:
    """Test setup: calls made inside the block are exempt from the read-only allow-list."""
    with LOG.writes_allowed():
        yield


def setup_client(client: _C) -> _C:
    """Mark a boto3 client as test setup: its calls are exempt from the allow-list."""
    events: Any = cast(Any, client).meta.events
    events.register_first("provide-client-params", _mark_setup, unique_id=_SETUP_KEY)
    return client


def _mark_setup(context: dict[str, Any], **_: Any) -> None:
    context[_SETUP_KEY] = True


def _keep_params(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
    # Only scalars: enough to see buckets, keys and prefixes without holding uploaded bodies.
    context[_PARAMS_KEY] = {
        k: v for k, v in params.items() if isinstance(v, str | int | float | bool)
    }


def _record(model: Any, context: dict[str, Any], **_: Any) -> None:
    operation = f"{model.service_model.service_name}:{model.name}"
    LOG.record(operation, context.get(_PARAMS_KEY, {}), bool(context.get(_SETUP_KEY)))


def _hook(session: botocore.session.Session) -> None:
    session.register("before-parameter-build", _keep_params, unique_id=_PARAMS_KEY)
    session.register("before-call", _record, unique_id="aws_guard.record")


def install() -> Callable[[], None]:
    """Hook every botocore session created from now on; returns the function that unhooks."""
    original = botocore.session.Session.__init__

    def init(self: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        _hook(self)

    botocore.session.Session.__init__ = init
    # boto3.client() reuses a default session; one made before now would not be hooked.
    boto3.DEFAULT_SESSION = None

    def uninstall() -> None:
        botocore.session.Session.__init__ = original
        boto3.DEFAULT_SESSION = None

    return uninstall
