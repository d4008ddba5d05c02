"""Replay the window against a recommendation: it must allow every call today's policies allow.

A call the role made successfully and that its identity policies allow today must still be
allowed by the recommended policy; anything else is a bug in generation, and the policy is
refused. Calls today's policies do not allow (a bucket policy granted them) are not replayed:
the recommendation never grants more than today.

Conditions are not logged, so "still allowed" is read for every condition the call may have
met: a call a grant of today allows unconditionally must be allowed unconditionally; one only
conditional grants allow must be allowed under each of their conditions (or with none).

Every distinct (action, resource) the calls needed is checked, a batch of them at a time: each
policy's statements are asked as RE2 patterns over the batch's ARN column (Arrow), so a store
of millions of object keys is replayed without a Python object per key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import reduce
from itertools import islice

import pyarrow as pa
import pyarrow.compute as pc

from rightsizer.iam.policy import Evaluator, PolicyDocument, Re2Test
from rightsizer.usage import UsedPermission

# The columns of a batch of permissions to replay, one distinct (action, resource) a row.
NEEDS_SCHEMA = pa.schema(
    [
        ("action", pa.string()),
        ("resource_arn", pa.string()),
        ("calls", pa.int64()),
        ("first_seen", pa.timestamp("us")),
    ]
)
_ROWS_PER_BATCH = 100_000


@dataclass(frozen=True)
class Failure:
    """A permission the recommendation would deny; `call` names one call that needed it."""

    action: str
    resource: str
    count: int
    call: str = ""

    def describe(self) -> str:
        by = f"{self.call} needs " if self.call else ""
        return f"{by}{self.action} on {self.resource} ({self.count} call(s))"


@dataclass(frozen=True)
class Replay:
    """What the replay checked and what it found."""

    permissions: int
    not_granted_today: int
    failures: tuple[Failure, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


def replay(
    recommended: PolicyDocument, current: Sequence[PolicyDocument], used: Iterable[UsedPermission]
) -> Replay:
    """Check every permission the window's authorized calls needed against the recommendation.

    `used` holds each distinct (action, resource) any call needed, so allowing all of them is
    allowing every call.
    """
    return replay_batches(recommended, current, _as_batches(used))


def replay_batches(
    recommended: PolicyDocument,
    current: Sequence[PolicyDocument],
    needs: Iterable[pa.RecordBatch],
) -> Replay:
    """`replay` of permissions given as Arrow batches of `NEEDS_SCHEMA`'s columns, one distinct
    (action, resource) a row. Failures come in order of first use, then action and resource."""
    # Conditions are not evaluated; only unconditional Denies count in a replay.
    today = Evaluator(current, conditional_deny="ignore")
    proposed = Evaluator(recommended, conditional_deny="ignore")
    failed: list[tuple[dt.datetime, str, str, int]] = []
    checked = not_granted = 0
    for batch in needs:
        checked += batch.num_rows
        actions = batch.column("action")
        for action in pc.unique(actions).to_pylist():
            rows = batch.filter(pc.equal(actions, action))
            resources = rows.column("resource_arn")
            today_under = _allowed(today, action, resources)
            granted = pc.sum(_or(today_under.values(), len(resources)).cast(pa.int64())).as_py()
            not_granted += len(resources) - granted
            denied = _lost(today_under, _allowed(proposed, action, resources), len(resources))
            if pc.any(denied).as_py():
                lost = rows.filter(denied)
                failed.extend(
                    (first, action, resource, calls)
                    for resource, calls, first in zip(
                        lost.column("resource_arn").to_pylist(),
                        lost.column("calls").to_pylist(),
                        lost.column("first_seen").to_pylist(),
                        strict=True,
                    )
                )
    failures = tuple(Failure(action, resource, n) for _, action, resource, n in sorted(failed))
    return Replay(checked, not_granted, failures)


def _allowed(
    policies: Evaluator, action: str, resources: pa.Array
) -> dict[str | None, pa.BooleanArray]:
    """Per condition of the Allows that apply (canonical JSON; None: none), where one of them
    allows an ARN of `resources` and no Deny matches it: Evaluator.allows at once, by
    condition."""
    denies, allows = policies.re2_tests(action)
    open_ = pc.invert(_any(denies, resources))
    return {
        condition: pc.and_(_any([t for t, c in allows if c == condition], resources), open_)
        for condition in dict.fromkeys(c for _, c in allows)
    }


def _lost(
    today: dict[str | None, pa.BooleanArray],
    proposed: dict[str | None, pa.BooleanArray],
    rows: int,
) -> pa.BooleanArray:
    """Where the proposal may deny a call today's policies allow (see the module's docstring):
    it does not allow it unconditionally where today does, or, where only conditional grants
    allow it today, neither unconditionally nor under each of their conditions."""
    none = _none(rows)
    plain = proposed.get(None, none)
    lost = none
    for condition, allowed in today.items():
        if condition is None:
            held = plain
        else:
            allowed = pc.and_(allowed, pc.invert(today.get(None, none)))
            held = pc.or_(plain, proposed.get(condition, none))
        lost = pc.or_(lost, pc.and_(allowed, pc.invert(held)))
    return lost


def _any(tests: list[Re2Test], resources: pa.Array) -> pa.BooleanArray:
    """The ARNs of `resources` any of the RE2 tests matches."""
    return _or((_matched(test, resources) for test in tests), len(resources))


def _matched(test: Re2Test, resources: pa.Array) -> pa.BooleanArray:
    source, negate = test
    if source is None:
        return pa.array([negate] * len(resources), pa.bool_())
    matched = pc.match_substring_regex(resources, source)
    return pc.invert(matched) if negate else matched


def _or(masks: Iterable[pa.BooleanArray], rows: int) -> pa.BooleanArray:
    """The rows any of `masks` holds (none of `rows` without a mask)."""
    return reduce(pc.or_, masks, _none(rows))


def _none(rows: int) -> pa.BooleanArray:
    return pa.array([False] * rows, pa.bool_())


def _as_batches(used: Iterable[UsedPermission]) -> Iterator[pa.RecordBatch]:
    rows = iter(used)
    while chunk := list(islice(rows, _ROWS_PER_BATCH)):
        yield pa.RecordBatch.from_arrays(
            [
                pa.array([u.action for u in chunk], pa.string()),
                pa.array([u.resource for u in chunk], pa.string()),
                pa.array([u.count for u in chunk], pa.int64()),
                pa.array([u.first_seen for u in chunk], pa.timestamp("us")),
            ],
            schema=NEEDS_SCHEMA,
        )
