"""One role's used permissions as sets: groups by action and generalized target, keys on demand.

The recommendation places a used permission on its generalized target (rightsizer.prefixes)
when today's grants cover it. Placing a whole group of keys at once needs only the group; the
keys of a group today's grants do not cover whole are fetched when asked, a batch at a time.
Two sources give the same sets:

- `EngineSets`: the staging tables of the usage stage (queries/role_perms.sql,
  queries/key_folders.sql, where the engine generalizes the keys, and
  queries/placement_groups.sql), for the analysis of a store: memory holds groups,
  bounded by folders, and one batch of keys;
- `MemorySets`: a `RoleUsage` whose `used` holds every permission (made by hand, or by
  `compute_usage`), generalized here by rightsizer.prefixes, the reference of the SQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from rightsizer.engine import Engine, EngineOrConnection, as_engine
from rightsizer.iam.s3 import S3Resource
from rightsizer.prefixes import GRANULARITIES, generalize_with_fragile
from rightsizer.selectors import EventSelectors
from rightsizer.usage import RoleUsage, UsageReport, UsedPermission, usage_in
from rightsizer.verify import NEEDS_SCHEMA
from rightsizer.window import Window

Kind = Literal["used", "companion"]


@dataclass(frozen=True)
class StagedUsage:
    """The usage report (its roles' `used` left empty) and the engine session holding the
    staging tables the sets are read from."""

    report: UsageReport
    engine: Engine

    def sets(self, role_arn: str) -> UsedSets:
        """The used permissions of one role, as sets."""
        return EngineSets(self.engine, role_arn)


@contextmanager
def staged_usage(
    conn: EngineOrConnection,
    window: Window,
    *,
    lambda_roles: Mapping[str, Sequence[str]],
    selectors: EventSelectors | None,
    granularity: str,
) -> Iterator[StagedUsage]:
    """The usage of `lambda_roles` in `window` with the used permissions staged in the engine
    (their keys generalized at `granularity`), for as long as the block runs."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, not {granularity!r}")
    with as_engine(conn).session() as engine:
        report = usage_in(
            engine,
            window,
            lambda_roles=lambda_roles,
            selectors=selectors,
            with_calls=False,
            with_used=False,
        )
        stage_sets(engine, granularity)
        yield StagedUsage(report, engine)


def stage_sets(engine: Engine, granularity: str) -> None:
    """Stage the tables `EngineSets` reads, from the engine's s3_calls (and mapping tables)."""
    # One table per key (role_perms), the rest per folder or group: a per-key table with the
    # generalized key as well would be a second wide copy to spill.
    engine.materialize("role_perms")
    engine.materialize("key_folders", {"granularity": granularity})
    engine.materialize("placement_groups")


@dataclass(frozen=True, slots=True)
class Group:
    """Permissions of one action whose resources share a generalized target.

    `base` is the ARN the object keys hang off (`arn:P:s3:::bucket`, an access point's
    `.../object`) and `suffix` the generalized key (escaped: a key, `folder/*`, `*`); for a
    resource that names no single object (a bucket, `bucket/*`, `*`), `base` is None and
    `suffix` is the resource. `resource` and `key` name the one resource of a one-key group
    (and of each key `UsedSets.keys` gives). `fragile`: the keys were collapsed because their
    folder's names are data. Companions have no times.
    """

    action: str
    base: str | None
    suffix: str
    fragile: bool
    keys: int
    count: int
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    resource: str | None
    key: str | None
    functions: tuple[str, ...] = ()  # the functions whose calls needed them
    example_event_id: str | None = None  # one of those calls

    @property
    def target(self) -> str:
        """The generalized resource: where the group goes when today's grants cover it."""
        return self.suffix if self.base is None else f"{self.base}/{self.suffix}"


class UsedSets(ABC):
    """One role's used permissions and companions, as groups and, on demand, their keys."""

    @abstractmethod
    def groups(self, kind: Kind) -> Iterator[Group]:
        """Every group of used permissions (or companions), in a deterministic order."""

    @abstractmethod
    def keys(self, kind: Kind, groups: Sequence[Group]) -> Iterator[Group]:
        """The keys of `groups`, each as a group of one."""

    @abstractmethod
    def needs(self) -> Iterator[pa.RecordBatch]:
        """Every used (action, resource), as batches of verify.NEEDS_SCHEMA (for the replay)."""

    @abstractmethod
    def used(self) -> Iterator[UsedPermission]:
        """Every used permission, one object each (only for outputs that list them all)."""


class EngineSets(UsedSets):
    """The sets of one role from the engine's staging tables (see `staged_usage`)."""

    def __init__(self, engine: Engine, role_arn: str) -> None:
        self._engine = engine
        self._role = role_arn

    def groups(self, kind: Kind) -> Iterator[Group]:
        yield from self._stream("role_groups", kind)

    def keys(self, kind: Kind, groups: Sequence[Group]) -> Iterator[Group]:
        if not groups:
            return
        self._engine.load_table(
            "wanted_groups",
            pa.table(
                {
                    "action": pa.array([g.action for g in groups], pa.string()),
                    "object_base": pa.array([g.base for g in groups], pa.string()),
                    "suffix": pa.array([g.suffix for g in groups], pa.string()),
                    "fragile": pa.array([g.fragile for g in groups], pa.bool_()),
                }
            ),
        )
        yield from self._stream("placement_keys", kind)

    def needs(self) -> Iterator[pa.RecordBatch]:
        for batch in self._engine.batches("role_used", {"role_arn": self._role}):
            yield pa.RecordBatch.from_arrays(
                [batch.column(field.name).cast(field.type) for field in NEEDS_SCHEMA],
                schema=NEEDS_SCHEMA,
            )

    def used(self) -> Iterator[UsedPermission]:
        for batch in self._engine.batches("role_used", {"role_arn": self._role}):
            for row in zip(*(batch.column(i).to_pylist() for i in range(7)), strict=True):
                action, resource, count, first_seen, last_seen, functions, example = row
                yield UsedPermission(
                    action, resource, count, first_seen, last_seen, tuple(functions or ()), example
                )

    def _stream(self, query: str, kind: Kind) -> Iterator[Group]:
        params = {"role_arn": self._role, "kind": kind}
        for batch in self._engine.batches(query, params):
            columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            columns[-2] = [tuple(functions or ()) for functions in columns[-2]]
            yield from map(Group, *columns)


class MemorySets(UsedSets):
    """The sets of a `RoleUsage` that holds every used permission, generalized in Python."""

    def __init__(self, usage: RoleUsage | None, granularity: str) -> None:
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {GRANULARITIES}, not {granularity!r}")
        self._used = usage.used if usage else ()
        self._companions = usage.companions if usage else ()
        self._objects = _generalize([u.resource for u in self._used], granularity)

    def groups(self, kind: Kind) -> Iterator[Group]:
        folded: dict[tuple[str, str | None, str, bool], list[Group]] = defaultdict(list)
        for one in self._ones(kind):
            folded[(one.action, one.base, one.suffix, one.fragile)].append(one)
        for _, ones in sorted(folded.items(), key=lambda kv: _order(kv[0])):
            yield ones[0] if len(ones) == 1 else _fold(ones)

    def keys(self, kind: Kind, groups: Sequence[Group]) -> Iterator[Group]:
        wanted = {(g.action, g.base, g.suffix, g.fragile) for g in groups}
        for one in self._ones(kind):
            if (one.action, one.base, one.suffix, one.fragile) in wanted:
                yield one

    def needs(self) -> Iterator[pa.RecordBatch]:
        if not self._used:
            return
        yield pa.RecordBatch.from_arrays(
            [
                pa.array([u.action for u in self._used], pa.string()),
                pa.array([u.resource for u in self._used], pa.string()),
                pa.array([u.count for u in self._used], pa.int64()),
                pa.array([u.first_seen for u in self._used], pa.timestamp("us")),
            ],
            schema=NEEDS_SCHEMA,
        )

    def used(self) -> Iterator[UsedPermission]:
        yield from self._used

    def _ones(self, kind: Kind) -> Iterable[Group]:
        if kind == "used":
            for use in self._used:
                one = self._one(use.action, use.resource, use.count, use.first_seen, use.last_seen)
                yield dataclasses.replace(
                    one, functions=use.functions, example_event_id=use.example_event_id
                )
        else:
            for companion in self._companions:
                yield self._one(companion.action, companion.resource, companion.count, None, None)

    def _one(
        self,
        action: str,
        resource: str,
        count: int,
        first_seen: dt.datetime | None,
        last_seen: dt.datetime | None,
    ) -> Group:
        obj = self._objects.get(resource)
        if obj is None:
            return Group(
                action, None, resource, False, 1, count, first_seen, last_seen, resource, None
            )
        base, key, suffix, fragile = obj
        return Group(action, base, suffix, fragile, 1, count, first_seen, last_seen, resource, key)


def _generalize(
    resources: Iterable[str], granularity: str
) -> dict[str, tuple[str, str, str, bool]]:
    """Object ARN → (base, key, generalized suffix, fragile), bucket (or access point) by bucket;
    resources naming no single object (a bucket, `bucket/*`, `*`) are left out."""
    keys: dict[str, set[str]] = defaultdict(set)
    for arn in resources:
        parsed = S3Resource.parse(arn)
        if parsed is not None and parsed.key is not None and parsed.key != "*":
            keys[parsed.object_base].add(parsed.key)
    out: dict[str, tuple[str, str, str, bool]] = {}
    for base, base_keys in keys.items():
        suffixes, fragile = generalize_with_fragile(base_keys, granularity)
        for key, suffix in suffixes.items():
            out[f"{base}/{key}"] = (base, key, suffix, key in fragile)
    return out


def _order(key: tuple[str, str | None, str, bool]) -> tuple[str, str, str, bool]:
    action, base, suffix, fragile = key
    return action, base or "", suffix, fragile


def _fold(ones: list[Group]) -> Group:
    """Groups of one key folded into their group."""
    first = ones[0]
    firsts = [g.first_seen for g in ones if g.first_seen is not None]
    lasts = [g.last_seen for g in ones if g.last_seen is not None]
    return Group(
        first.action,
        first.base,
        first.suffix,
        first.fragile,
        len(ones),
        sum(g.count for g in ones),
        min(firsts, default=None),
        max(lasts, default=None),
        None,
        None,
        tuple(sorted({name for g in ones for name in g.functions})),
        min(filter(None, (g.example_event_id for g in ones)), default=None),
    )
