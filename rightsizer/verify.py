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
from rightsizer.usage import S3Call


@dataclass(frozen=True)
class Failure:
    """A call the recommendation would deny."""

    action: str
    resource: str
    event_name: str
    function: str | None
    example_event_id: str
    count: int

    def describe(self) -> str:
        return (
            f"{self.event_name} by {self.function or '?'} needs {self.action} on {self.resource} "
            f"(event {self.example_event_id}, {self.count} call(s))"
        )


@dataclass(frozen=True)
class Replay:
    """What the replay checked and what it found."""

    calls: int
    permissions: int
    skipped_not_granted: int
    skipped_incomplete: int
    failures: tuple[Failure, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


def replay(
    recommended: PolicyDocument, current: Sequence[PolicyDocument], calls: Iterable[S3Call]
) -> Replay:
    """Check every (action, resource) each call needed against the recommendation."""
    # Conditions are not evaluated; only unconditional Denies count in a replay.
    today = Evaluator(current, conditional_deny="ignore").allows
    proposed = Evaluator(recommended, conditional_deny="ignore").allows
    seen: dict[tuple[str, str], bool] = {}
    failures: list[Failure] = []
    total = not_granted = incomplete = 0
    for call in calls:
        total += call.count
        if not call.complete:
            incomplete += call.count
        for action, resource in call.needs:
            pair = (action, resource)
            if pair not in seen:
                granted = today(action, resource)
                seen[pair] = not granted or proposed(action, resource)
                if not granted:
                    not_granted += call.count
            if not seen[pair]:
                failures.append(
                    Failure(
                        action,
                        resource,
                        call.event_name,
                        call.function,
                        call.example_event_id,
                        call.count,
                    )
                )
    return Replay(total, len(seen), not_granted, incomplete, tuple(failures))
