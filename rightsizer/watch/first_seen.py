"""First seen: an action, bucket, prefix or region a role used in the recent period and never
before in the store's history.

The recent period is the last `recent_days` of the window; the history is everything the store
holds before it. With less history than `min_history_days` nothing can be new (everything is),
so nothing is judged and the basis says why; a role with no call before the recent period is
not judged either. A new bucket hides the new prefixes inside it (they are new with it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from rightsizer.engine import Engine
from rightsizer.model import ActivityFinding, Evidence
from rightsizer.watch.codes import Activity
from rightsizer.window import Window

# How each kind of item is named in a finding, and what to check about it.
_KINDS = {
    "action": ("action", "the code or its configuration changed to make this call"),
    "region": ("region", "the role now calls AWS in this region"),
    "bucket": ("S3 bucket", "the role now reaches this bucket"),
    "prefix": ("S3 prefix", "the role now reaches this folder of a bucket it used before"),
}


@dataclass(frozen=True)
class History:
    """How far back the store knows the roles (queries/watch_history.sql)."""

    store_start: dt.datetime | None  # the store's first event before the window end
    role_first_call: Mapping[str, dt.datetime]
    role_calls_before: Mapping[str, int]  # calls before the recent period, per role

    @classmethod
    def read(cls, engine: Engine, recent_start: dt.datetime, window_end: dt.datetime) -> History:
        rows = engine.rows(
            "watch_history", {"recent_start": recent_start, "window_end": window_end}
        )
        store = next((first for arn, first, _ in rows if arn is None), None)
        return cls(
            store_start=store,
            role_first_call={arn: first for arn, first, _ in rows if arn is not None},
            role_calls_before={arn: before for arn, _, before in rows if arn is not None},
        )

    def days_before(self, moment: dt.datetime) -> int:
        """Whole days of history the store holds before `moment`."""
        if self.store_start is None or self.store_start >= moment:
            return 0
        return (moment - self.store_start).days


def first_seen(
    engine: Engine,
    window: Window,
    recent_start: dt.datetime,
    history: History,
    role_names: Mapping[str, str],
    notes: list[str],
) -> list[ActivityFinding]:
    """`first-seen` findings of the recent period (the caller checked there is history)."""
    rows = engine.rows("watch_first_seen", {"recent_start": recent_start, "window_end": window.end})
    new_buckets = {(row[0], row[2]) for row in rows if row[1] == "bucket"}
    unjudged: set[str] = set()
    found = []
    for role_arn, kind, item, calls, first, last, first_id, last_id, ip, agent, session in rows:
        if not history.role_calls_before.get(role_arn):
            unjudged.add(role_arn)
            continue
        if kind == "prefix" and (role_arn, item.split("/", 1)[0]) in new_buckets:
            continue
        label, meaning = _KINDS[kind]
        found.append(
            ActivityFinding(
                code=Activity.FIRST_SEEN,
                role_arn=role_arn,
                role_name=role_names[role_arn],
                subject=f"{kind} {item}",
                message=(
                    f"first use of {label} {item}: {calls} call{'s' if calls != 1 else ''} "
                    f"since {first:%Y-%m-%d %H:%M} UTC, none in the "
                    f"{history.days_before(recent_start)} days of history before "
                    f"{recent_start:%Y-%m-%d}"
                ),
                evidence=Evidence(
                    count=calls,
                    first_seen=first,
                    last_seen=last,
                    event_ids=tuple(dict.fromkeys([first_id, last_id])),
                    source_ips=(ip,) if ip else (),
                    user_agents=(agent,) if agent else (),
                    sessions=(session,) if session else (),
                ),
                what_to_do=(
                    f"{meaning}: confirm with the function's owners that it is meant to (a "
                    "release, a new data source); if not, look at the session and source of "
                    "the first call"
                ),
            )
        )
    for role_arn in sorted(unjudged, key=lambda arn: role_names[arn]):
        notes.append(
            f"first seen: {role_names[role_arn]} made no call before "
            f"{recent_start:%Y-%m-%d}, so nothing it used since can be judged new"
        )
    return found
