"""Replay the window against a recommendation: it must allow every call today's policies allow.

A call the role made successfully and that its identity policies allow today must still be
allowed by the recommended policy; anything else is a bug in generation, and the policy is
refused. Calls today's policies do not allow (a bucket policy granted them) are not replayed:
the recommendation never grants more than today.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rightsizer.iam.policy import Evaluator, PolicyDocument
from rightsizer.usage import UsedPermission


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
    # Conditions are not evaluated; only unconditional Denies count in a replay.
    today = Evaluator(current, conditional_deny="ignore").allows
    proposed = Evaluator(recommended, conditional_deny="ignore").allows
    failures: list[Failure] = []
    checked = not_granted = 0
    for use in used:
        checked += 1
        if not today(use.action, use.resource):
            not_granted += 1
        elif not proposed(use.action, use.resource):
            failures.append(Failure(use.action, use.resource, use.count))
    return Replay(checked, not_granted, tuple(failures))
