"""Watch the roles between reviews: what their credentials did that a security engineer should
see, from the same store the recommendation reads.

`watch` runs the checks and returns the activity findings (catalogue: rightsizer.watch.codes)
with the basis they were judged on (how much history, which policy changes could be seen):

- credentials used outside Lambda (`sessions.py`);
- first seen: an action, bucket, prefix or region new in the recent period (`first_seen.py`);
- denied calls: bursts, rises after a policy change, and which policy blocks each denied S3
  call (`denied.py`).

Every query runs through the engine interface (queries/watch_*.sql), in a session of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from rightsizer.config import Settings
from rightsizer.engine import EngineOrConnection, as_engine, columns_table
from rightsizer.iam.snapshot import AccountSnapshot
from rightsizer.mapping import load_mapping_tables
from rightsizer.model import ActivityFinding, RoleAnalysis, WatchBasis
from rightsizer.watch.codes import ACTIVITY_SEVERITIES, Activity
from rightsizer.watch.denied import (
    after_changes,
    bursts,
    denied_groups,
    denied_hours,
    policy_changes,
    troubleshoot,
)
from rightsizer.watch.first_seen import History, first_seen
from rightsizer.watch.sessions import AwsIpRanges, outside_lambda
from rightsizer.window import Window

__all__ = ["Activity", "AwsIpRanges", "WatchSettings", "watch"]


@dataclass(frozen=True)
class WatchSettings:
    """The thresholds of the checks (README, "Activity findings"; settings `watch_*`)."""

    recent_days: int = 7  # first-seen judges the window's last days against all before
    min_history_days: int = 7  # less history before them: nothing is judged new
    burst_min_calls: int = 20  # denied calls in an hour before it can be a burst
    burst_factor: int = 10  # times the role's usual hourly rate (and rise after a change)
    change_hours: int = 24  # hours after a policy change its denied calls are counted in
    ip_ranges: AwsIpRanges | None = None  # AWS's ip-ranges.json, when given

    @classmethod
    def from_settings(cls, settings: Settings) -> WatchSettings:
        """The thresholds of the effective settings; reads the ip-ranges file when named."""
        return cls(
            recent_days=settings.watch_recent_days,
            min_history_days=settings.watch_min_history_days,
            burst_min_calls=settings.watch_burst_min_calls,
            burst_factor=settings.watch_burst_factor,
            change_hours=settings.watch_change_hours,
            ip_ranges=AwsIpRanges.load(settings.aws_ip_ranges) if settings.aws_ip_ranges else None,
        )

    def thresholds(self) -> dict[str, int]:
        return {
            "recent_days": self.recent_days,
            "min_history_days": self.min_history_days,
            "burst_min_calls": self.burst_min_calls,
            "burst_factor": self.burst_factor,
            "change_hours": self.change_hours,
        }


def watch(
    conn: EngineOrConnection,
    window: Window,
    snapshot: AccountSnapshot,
    roles: Sequence[RoleAnalysis],
    settings: WatchSettings | None = None,
) -> tuple[tuple[ActivityFinding, ...], WatchBasis]:
    """The activity findings of `roles` over `window`, and what they could be judged on."""
    settings = settings or WatchSettings()
    names = {role.role_arn: role.role_name for role in roles}
    recent_start = max(window.start, window.end - dt.timedelta(days=settings.recent_days))
    known = [
        (arn, function)
        for arn in sorted(names)
        if (role := snapshot.roles.get(arn)) is not None
        for function in role.functions
    ]
    notes: list[str] = []
    with as_engine(conn).session() as engine:
        load_mapping_tables(engine)
        engine.load_table("scope_roles", columns_table({"role_arn": sorted(names)}))
        engine.load_table(
            "scope_functions",
            columns_table(
                {"role_arn": [a for a, _ in known], "function_name": [f for _, f in known]}
            ),
        )
        history = History.read(engine, recent_start, window.end)
        found = outside_lambda(engine, window, names, settings.ip_ranges)
        history_days = history.days_before(recent_start)
        judged = history_days >= settings.min_history_days
        if judged:
            found += first_seen(engine, window, recent_start, history, names, notes)
        else:
            notes.append(
                f"first seen: the store holds {history_days} days of history before "
                f"{recent_start:%Y-%m-%d} (fewer than watch_min_history_days = "
                f"{settings.min_history_days}), so nothing can be judged new"
            )
        hours = denied_hours(engine, window)
        found += bursts(
            hours,
            history.role_first_call,
            window,
            names,
            min_calls=settings.burst_min_calls,
            factor=settings.burst_factor,
        )
        changes, iam_events = policy_changes(engine, window, settings.change_hours)
        found += after_changes(
            changes,
            hours,
            roles,
            snapshot.roles,
            change_hours=settings.change_hours,
            factor=settings.burst_factor,
        )
        groups = denied_groups(engine, window)
    if not iam_events:
        notes.append(
            "denied calls after a policy change: the store holds no IAM events, so policy "
            "changes cannot be seen; the trail must log management events, with global service "
            "events (IAM's are logged in us-east-1)"
        )
    if settings.ip_ranges is None:
        notes.append(
            "source IPs: AWS's address ranges are not known offline, so a public address is "
            "shown but not judged; give --aws-ip-ranges ip-ranges.json to judge it"
        )
    for analysis in roles:
        found += troubleshoot(
            analysis, snapshot.roles.get(analysis.role_arn), groups.get(analysis.role_arn, [])
        )
    rank: dict[str, int] = {severity: i for i, severity in enumerate(ACTIVITY_SEVERITIES)}
    ordered = sorted(found, key=lambda f: (rank[f.severity], f.role_name, f.code, f.subject))
    basis = WatchBasis(
        recent_start=recent_start,
        history_start=history.store_start if history_days else None,
        history_days=history_days,
        first_seen_judged=judged,
        policy_change_events=len(changes),
        aws_ip_ranges=settings.ip_ranges is not None,
        thresholds=settings.thresholds(),
        notes=tuple(notes),
    )
    return tuple(ordered), basis
