"""What the logs can show at all: data-event coverage and holes in the evidence.

Object-level calls (and ListObjects/HeadBucket) are data events, logged only where the trail's
selectors say so (docs/s3-event-actions.md). With the selectors known, coverage is exact per
bucket/prefix and read/write type. Without them it is inferred per trail account and region
from the window: reads count as logged there if any S3 read data event appears, writes
likewise. Guessing per bucket from observed events would call every quiet bucket "unknown".

Management events are logged by default, but only where and while a trail runs and its files
were read. `gaps` finds the holes per account, region and UTC day (no event at all that day)
and the log files skipped as unreadable; what a role did inside a hole is unknown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from rightsizer.selectors import Access, EventSelectors
from rightsizer.window import Window

Status = Literal["covered", "unknown"]

_SELECTOR_TYPE = {"read": "ReadOnly", "write": "WriteOnly"}
# A day whose part inside the window is shorter than this needs no events of its own: the
# last minutes before `--until` may not be delivered yet (CloudTrail User Guide: 5 to 15 minutes).
MIN_EVIDENCE_SPAN = dt.timedelta(hours=1)

AccountRegion = tuple[str | None, str | None]


@dataclass(frozen=True, slots=True)
class ObservedRegion:
    """S3 data events seen in one trail account and region during the window."""

    account: str | None
    region: str | None
    read_events: int
    write_events: int


class Hole(NamedTuple):
    """A bucket/prefix and access type whose data events the trail's selectors do not log."""

    bucket: str
    key_prefix: str
    access: Access

    @property
    def where(self) -> str:
        """`bucket/prefix`, or `any bucket` for a grant on every bucket."""
        return "any bucket" if self.bucket == "*" else f"{self.bucket}/{self.key_prefix}"


@dataclass(frozen=True, slots=True)
class CoverageVerdict:
    """The answer for one bucket/prefix and access type; `reason` is "" when covered. `hole`
    names what a selector would have to add, when the trail's selectors are known."""

    status: Status
    reason: str
    hole: Hole | None = None


@dataclass(frozen=True, slots=True)
class SkippedLog:
    """A log file of the window that ingest skipped as unreadable (account/region from its key)."""

    key: str
    reason: str
    account: str | None
    region: str | None
    delivered_at: dt.datetime | None


@dataclass(frozen=True)
class Coverage:
    """Where S3 data events are logged (from the trail's selectors when known, else observed),
    and, with `window`, on which days each account and region logged anything at all. Even with
    the selectors, an account and region is covered only if the store holds some S3 data event
    of it: the selectors say what a trail logs, not that its logs were read."""

    observed: tuple[ObservedRegion, ...]
    selectors: EventSelectors | None = None
    window: Window | None = None
    log_days: Mapping[AccountRegion, frozenset[dt.date]] = field(default_factory=dict)
    skipped: tuple[SkippedLog, ...] = ()

    @property
    def source(self) -> Literal["selectors", "inferred"]:
        """Whether the answers come from the trail's selectors or are inferred from the events."""
        return "inferred" if self.selectors is None else "selectors"

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
        seen = self._observed(account, region)
        if self.selectors is not None:
            if self.selectors.covers(bucket, key_prefix, access, event_name):
                if seen is not None and seen.read_events + seen.write_events:
                    return CoverageVerdict("covered", "")
                # The selectors may be a trail's whose logs were not read (a data-event trail
                # delivering elsewhere): no S3 data event here vouches that its logs are in.
                return CoverageVerdict(
                    "unknown",
                    "the trail's event selectors log S3 data events, but the store holds none "
                    f"of account {account} in {region} in the window: ingest the logs of the "
                    "trail that logs them (or pass the selectors of the trails whose logs "
                    "were read)",
                )
            hole = Hole(bucket, key_prefix, access)
            return CoverageVerdict(
                "unknown",
                f"the trail's event selectors do not log every S3 {access} data event under "
                f"{hole.where}: the selector fix (aws cloudtrail put-event-selectors, given "
                "once per trail) adds them",
                hole,
            )
        if seen is not None and (seen.read_events if access == "read" else seen.write_events):
            return CoverageVerdict("covered", "")
        return CoverageVerdict(
            "unknown",
            f"no S3 {access} data events for {account} in {region} in the window: {advice}",
        )

    def check_management(self, access: Access) -> CoverageVerdict:
        """Are all S3 management events of `access` logged (bucket and account-level calls:
        GetBucketLocation, PutBucketTagging, ListBuckets...)? Management events are logged by
        default; only the trail's selectors can say they are not."""
        if self.selectors is None or self.selectors.logs_management(access):
            return CoverageVerdict("covered", "")
        return CoverageVerdict(
            "unknown",
            f"the trail's event selectors do not log every S3 management {access} event "
            "(IncludeManagementEvents false, a ReadWriteType or readOnly that leaves them out, "
            "or no eventCategory Management selector that keeps them): log them, then analyze "
            "again",
        )

    def regions_of(self, account: str | None) -> list[str]:
        """The regions of `account` that logged anything in the window."""
        logged = {r for (a, r) in self.log_days if a == account}
        return sorted(
            r for r in logged | {o.region for o in self.observed if o.account == account} if r
        )

    def gaps(self, account: str | None, regions: Sequence[str]) -> list[str]:
        """Holes in the evidence for a role of `account` whose calls are logged in `regions`,
        each as the reason shown to the user.

        Every region of the account that logged anything counts too, not only those the role's
        calls were seen in: a hole there may hold the role's only calls of that region. So does
        every skipped file of the account, whatever its region. An account that logged nothing
        in the window is one hole. Only asked with a window.
        """
        if self.window is None:
            return []
        where = sorted(set(regions) | set(self.regions_of(account)))
        if not where:
            return [
                f"the store holds no CloudTrail event of account {account} in the window: "
                "ingest a trail that logs that account (an organization trail, or the "
                "account's own trail bucket) for the whole window"
            ]
        gaps: list[str] = []
        needed = _evidence_days(self.window)
        for region in where:
            logged = self.log_days.get((account, region), frozenset())
            for first, last in _runs(d for d in needed if d not in logged):
                span = first.isoformat() if first == last else f"{first} to {last}"
                gaps.append(
                    f"no CloudTrail event of account {account} in {region} on {span}: "
                    "ingest those days (rightsizer ingest covering them) or choose a "
                    "window the logs cover (--until, --days)"
                )
        for log in self.skipped:
            if log.account not in (None, account):
                continue
            gaps.append(
                f"log file {log.key} was skipped ({log.reason}); the calls it holds are "
                "not counted: put a good copy in its place (a changed file is read again) "
                "or choose a window without it"
            )
        return gaps

    def _observed(self, account: str | None, region: str | None) -> ObservedRegion | None:
        for row in self.observed:
            if row.account == account and row.region == region:
                return row
        return None


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)


def _evidence_days(window: Window) -> list[dt.date]:
    """The UTC days of the window whose part inside it is long enough to need events."""
    days = []
    day = window.start.date()
    while _midnight(day) < window.end:
        start = max(window.start, _midnight(day))
        end = min(window.end, _midnight(day) + dt.timedelta(days=1))
        if end - start >= MIN_EVIDENCE_SPAN:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def _runs(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive days folded into (first, last) pairs."""
    runs: list[tuple[dt.date, dt.date]] = []
    for day in days:
        if runs and runs[-1][1] + dt.timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs
