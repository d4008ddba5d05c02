"""Which object-level S3 activity the logs can show at all: "covered" or "unknown".

Object-level calls (and ListObjects/HeadBucket) are data events, logged only where the trail's
selectors say so (facts §2). With the selectors known, coverage is exact per bucket/prefix
and read/write type. Without them it is inferred per trail account and region from the window:
reads count as logged there if any S3 read data event appears, writes likewise. Guessing per
bucket from observed events would call every quiet bucket "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rightsizer.selectors import Access, EventSelectors

Status = Literal["covered", "unknown"]

_SELECTOR_TYPE = {"read": "ReadOnly", "write": "WriteOnly"}


@dataclass(frozen=True, slots=True)
class ObservedRegion:
    """S3 data events seen in one trail account and region during the window."""

    account: str | None
    region: str | None
    read_events: int
    write_events: int


@dataclass(frozen=True, slots=True)
class CoverageVerdict:
    """The answer for one bucket/prefix and access type; `reason` is "" when covered."""

    status: Status
    reason: str


@dataclass(frozen=True)
class Coverage:
    """Where S3 data events are logged: from the trail's selectors when known, else observed."""

    observed: tuple[ObservedRegion, ...]
    selectors: EventSelectors | None = None

    @property
    def source(self) -> Literal["selectors", "observed"]:
        """Whether the answers come from the trail's selectors or from the window's events."""
        return "observed" if self.selectors is None else "selectors"

    def check(
        self,
        account: str | None,
        region: str | None,
        bucket: str,
        key_prefix: str,
        access: Access,
        event_name: str | None = None,
    ) -> CoverageVerdict:
        """Are all S3 `access` data events on objects under `bucket/key_prefix` logged?

        Ask with key_prefix "" for bucket-level data events (ListObjects, HeadBucket).
        `event_name` narrows the question for selectors that filter on eventName.
        """
        advice = (
            f"add a data-event selector for AWS::S3::Object with ReadWriteType "
            f"{_SELECTOR_TYPE[access]} or All"
        )
        if self.selectors is not None:
            if self.selectors.covers(bucket, key_prefix, access, event_name):
                return CoverageVerdict("covered", "")
            return CoverageVerdict(
                "unknown",
                f"the trail's event selectors do not log every S3 {access} data event under "
                f"{bucket}/{key_prefix}: {advice} whose values cover {bucket}/{key_prefix}",
            )
        seen = self._observed(account, region)
        if seen is not None and (seen.read_events if access == "read" else seen.write_events):
            return CoverageVerdict("covered", "")
        return CoverageVerdict(
            "unknown",
            f"no S3 {access} data events for {account} in {region} in the window: {advice}",
        )

    def _observed(self, account: str | None, region: str | None) -> ObservedRegion | None:
        for row in self.observed:
            if row.account == account and row.region == region:
                return row
        return None
