"""The analysis window: `[until - days, until)` in UTC, and the delivery days to read for it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rightsizer.errors import ConfigError

# CloudTrail folders are delivery dates; records arrive up to a day late (CloudTrail User Guide).
DELIVERY_MARGIN = dt.timedelta(days=1)
# The longest window, ten years: a typo such as --days 100000 would otherwise list and read
# every day since the 18th century.
MAX_DAYS = 3650


@dataclass(frozen=True)
class Window:
    """Half-open event window `[start, end)`; both are naive datetimes in UTC."""

    start: dt.datetime
    end: dt.datetime

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @classmethod
    def ending(cls, until: dt.datetime, days: int) -> Window:
        """The `days` days before `until`; ConfigError unless 1 <= days <= MAX_DAYS."""
        if days < 1:
            raise ConfigError(f"--days must be at least 1 (got {days})")
        if days > MAX_DAYS:
            raise ConfigError(
                f"--days {days:,} is more than the maximum of {MAX_DAYS:,} (ten years); "
                "choose a shorter window"
            )
        return cls(start=until - dt.timedelta(days=days), end=until)

    @classmethod
    def from_options(cls, until: str | None, days: int, now: dt.datetime | None = None) -> Window:
        """The window `--until` and `--days` ask for, checked before anything is read.

        ConfigError when `until` is after now: days without logs yet would make the advice
        look complete. `now` (timezone-aware) is for tests.
        """
        current = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
        end = parse_until(until, now)
        if end > current:
            raise ConfigError(
                f"--until {until} is in the future (now is {current:%Y-%m-%dT%H:%M:%SZ}) and its "
                "days have no logs yet; leave --until out to end the window now, or give a past "
                "date or time"
            )
        return cls.ending(end, days)

    def delivery_days(self) -> list[dt.date]:
        """UTC day folders that can hold records of this window: start day to end + margin."""
        first = self.start.date()
        last = (self.end + DELIVERY_MARGIN).date()
        return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]

    def as_dict(self) -> dict[str, object]:
        return {
            "start": self.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": self.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "days": self.days,
        }


def parse_until(text: str | None, now: dt.datetime | None = None) -> dt.datetime:
    """Parse `--until` (a date means 00:00 UTC that day; a timestamp is taken as UTC).

    Returns a naive UTC datetime. `None` means now, truncated to the second.
    """
    if text is None or text == "":
        current = now or dt.datetime.now(dt.UTC)
        return current.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
    value = text.strip()
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return dt.datetime(day.year, day.month, day.day)
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"--until {text!r} is not a date or timestamp; use e.g. 2026-11-01 or "
            "2026-11-01T12:00:00Z"
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed
