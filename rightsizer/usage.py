"""What each Lambda execution role really did with S3 in a window.

`compute_usage` runs the queries in queries/ through an engine (rightsizer.engine; DuckDB on
the store by default): it stages every S3 call of a Lambda role with the IAM actions it needed
(queries/s3_calls.sql, mapping table rightsizer/data/s3_event_actions.csv), then folds them
into per-role usage, denied calls, SSE-KMS keys, calls to replay, and the events it could not
map. The engine does the heavy work; only the folded rows come back to Python, through Arrow.
"""

from __future__ import annotations

import datetime as dt
import gc
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from rightsizer.coverage import Coverage, ObservedRegion, SkippedLog
from rightsizer.engine import Engine, EngineOrConnection, as_engine, columns_table
from rightsizer.iam.arn import parse_arn, role_name
from rightsizer.mapping import load_mapping_tables
from rightsizer.selectors import EventSelectors
from rightsizer.window import Window

Need = tuple[str, str]  # (IAM action, resource ARN)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class UsedPermission:
    """An action on a resource the role's successful calls needed."""

    action: str
    resource: str
    count: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    functions: tuple[str, ...] = ()  # the functions whose calls needed it
    example_event_id: str = ""  # one of those calls


@dataclass(frozen=True, slots=True)
class S3Call:
    """Authorized calls of one function that needed exactly the same (action, resource) pairs.

    `outcome` is "success" or an error raised after authorization (NoSuchKey, ...).
    `complete` is False when a needed resource could not be built from the record.
    """

    function: str | None
    region: str | None
    event_name: str
    outcome: str
    needs: tuple[Need, ...]
    complete: bool
    count: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    example_event_id: str


@dataclass(frozen=True, slots=True)
class DeniedCall:
    """Calls that failed authorization; `denied_action`/`denied_resource` come from the message."""

    function: str | None
    region: str | None
    event_name: str
    error_code: str
    denied_action: str | None
    denied_resource: str | None
    needs: tuple[Need, ...]
    count: int
    first_seen: dt.datetime
    last_seen: dt.datetime


@dataclass(frozen=True, slots=True)
class KmsKeyUse:
    """An SSE-KMS key S3 used on the role's behalf (`operation` is Decrypt or GenerateDataKey)."""

    key_arn: str
    operation: str
    bucket_arn: str | None
    count: int
    first_seen: dt.datetime
    last_seen: dt.datetime


@dataclass(frozen=True, slots=True)
class Companion:
    """A permission no call needed that a rare path of these calls may need: keep it if held."""

    action: str
    resource: str
    event_names: tuple[str, ...]
    reason: str
    count: int


@dataclass(frozen=True, slots=True)
class CompanionSource:
    """Why a role's calls make `action` a companion: their event names and the mapping's reason
    (queries/companion_rules.sql; one per role and action, however many objects)."""

    action: str
    event_names: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class UnmodeledCall:
    """Authorized calls whose IAM requests the mapping cannot fully derive (queries/unmodeled.sql).

    `status` is 'no_mapping', 'no_resource' (then `actions` lists the actions whose resource the
    record lacks), 'no_copy_source' (a copy whose source the record does not name: `actions`
    are those a copy source needs) or 'other_s3_service'; `resource` is the bucket or access
    point when known (for an unmapped call naming a copy source, the source's).
    """

    event_source: str
    event_name: str
    status: str
    resource: str | None
    actions: tuple[str, ...]
    count: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    example_event_id: str


@dataclass(frozen=True, slots=True)
class DailyActivity:
    """A role's S3 calls on one UTC day: authorized and denied."""

    day: dt.date
    calls: int
    denied: int


@dataclass(frozen=True, slots=True)
class UnmappedEvent:
    """S3-family calls not turned into IAM actions (`reason`: see queries/unmapped.sql)."""

    event_source: str
    event_name: str
    reason: str
    count: int


@dataclass(frozen=True)
class RoleUsage:
    """Everything one Lambda execution role did with S3 in the window."""

    role_arn: str
    role_name: str
    account: str
    functions: tuple[str, ...]
    calls: tuple[S3Call, ...]
    used: tuple[UsedPermission, ...]
    denied: tuple[DeniedCall, ...]
    kms_keys: tuple[KmsKeyUse, ...]
    companions: tuple[Companion, ...]
    regions: tuple[str, ...]
    call_count: int = 0  # authorized S3 calls (also when `calls` was not asked for)
    incomplete_calls: int = 0  # of those, calls whose IAM requests could not all be derived
    daily: tuple[DailyActivity, ...] = ()  # days with S3 calls, in order
    unmodeled: tuple[UnmodeledCall, ...] = ()  # the incomplete calls, folded
    companion_sources: tuple[CompanionSource, ...] = ()  # per companion action

    @property
    def idle(self) -> bool:
        """No S3 call at all in the window, allowed or denied."""
        return not self.call_count and not self.calls and not self.denied


@dataclass(frozen=True)
class UsageReport:
    """Per-role S3 usage in a window, where the logs can see it, and what could not be mapped."""

    window: Window
    roles: dict[str, RoleUsage]
    coverage: Coverage
    unmapped: tuple[UnmappedEvent, ...]


def window_params(window: Window) -> dict[str, Any]:
    """The bound parameters of the window queries."""
    return {"window_start": window.start, "window_end": window.end}


def stage_s3_calls(engine: EngineOrConnection, window: Window, roles: Sequence[str] | None) -> None:
    """Build the temp tables the usage queries read: the mapping, scope_roles and s3_calls.

    `roles` limits the staging to those role ARNs; None takes every principal (used to check
    the mapping over arbitrary logs). A DuckDB connection gets the tables itself.
    """
    engine = as_engine(engine)
    load_mapping_tables(engine)
    engine.load_table("scope_roles", columns_table({"role_arn": sorted(set(roles or ()))}))
    engine.materialize("s3_calls", {**window_params(window), "all_principals": roles is None})


def discover_lambda_roles(engine: EngineOrConnection, window: Window) -> dict[str, tuple[str, ...]]:
    """Role ARN → function names of sessions whose user agent says Lambda (exec-env/AWS_Lambda)."""
    functions: dict[str, list[str]] = defaultdict(list)
    sessions = as_engine(engine).rows("lambda_sessions", window_params(window))
    for role_arn, function_name, *_ in sessions:
        if function_name is not None:
            functions[role_arn].append(function_name)
        else:
            functions.setdefault(role_arn, [])
    return {role: tuple(names) for role, names in functions.items()}


def compute_usage(
    conn: EngineOrConnection,
    window: Window,
    *,
    lambda_roles: Mapping[str, Sequence[str]] | None = None,
    selectors: EventSelectors | None = None,
    with_calls: bool = True,
) -> UsageReport:
    """S3 usage of every Lambda role in `window`, from the store `conn` (a DuckDB connection)
    or any engine.

    `lambda_roles` maps role ARN → function names (from the IAM snapshot); every role in it
    appears in the report, idle or not. None finds the roles from the logs instead.
    `selectors` (the trail's event selectors) makes coverage exact; None infers it.
    `with_calls=False` leaves `RoleUsage.calls` empty: every call, one object each, is the
    largest part of the report, and `used` already holds each permission they needed.
    """
    # A session of its own keeps the temp tables off the caller's connection.
    with as_engine(conn).session() as engine:
        return usage_in(
            engine, window, lambda_roles=lambda_roles, selectors=selectors, with_calls=with_calls
        )


def usage_in(
    engine: Engine,
    window: Window,
    *,
    lambda_roles: Mapping[str, Sequence[str]] | None = None,
    selectors: EventSelectors | None = None,
    with_calls: bool = True,
    with_used: bool = True,
) -> UsageReport:
    """`compute_usage` in a session the caller holds, whose staging tables (s3_calls) stay.

    `with_used=False` also leaves `RoleUsage.used` and `RoleUsage.companions` empty (one object
    per object key): rightsizer.usedsets then reads them from the staging tables as sets.
    """
    if lambda_roles is None:
        functions = discover_lambda_roles(engine, window)
    else:
        functions = {role: tuple(sorted(set(names))) for role, names in lambda_roles.items()}
    stage_s3_calls(engine, window, sorted(functions))
    with _gc_paused():
        return _build_report(engine, window, functions, selectors, with_calls, with_used)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hundreds of thousands of new objects would set off many useless cyclic collections."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _build_report(
    engine: Engine,
    window: Window,
    functions: Mapping[str, tuple[str, ...]],
    selectors: EventSelectors | None,
    with_calls: bool,
    with_used: bool,
) -> UsageReport:
    params = window_params(window)
    used = _by_role(engine.batches("usage"), UsedPermission) if with_used else {}
    calls = _by_role(engine.batches("calls"), S3Call) if with_calls else {}
    activity = {row[0]: row[1:] for row in engine.rows("role_activity")}
    daily = _by_role(engine.batches("s3_daily"), DailyActivity)
    denied = _by_role(engine.batches("denied"), DeniedCall)
    kms_keys = _by_role(engine.batches("kms_keys", params), KmsKeyUse)
    # One row per companion object: only for the reports that hold every used permission.
    companions = _by_role(engine.batches("companions"), Companion) if with_used else {}
    sources = _by_role(engine.batches("companion_rules"), CompanionSource)
    unmodeled = _by_role(engine.batches("unmodeled"), UnmodeledCall)
    roles = {}
    for role in sorted(functions):
        call_count, incomplete, regions = activity.get(role, (0, 0, []))
        arn = parse_arn(role)
        roles[role] = RoleUsage(
            role_arn=role,
            role_name=role_name(role),
            account=arn.account if arn is not None else "",
            functions=functions[role],
            calls=calls.get(role, ()),
            used=used.get(role, ()),
            denied=denied.get(role, ()),
            kms_keys=kms_keys.get(role, ()),
            companions=companions.get(role, ()),
            regions=tuple(regions or ()),
            call_count=call_count,
            incomplete_calls=incomplete,
            daily=daily.get(role, ()),
            unmodeled=unmodeled.get(role, ()),
            companion_sources=sources.get(role, ()),
        )
    observed = tuple(ObservedRegion(*row) for row in engine.rows("coverage", params))
    log_days = {
        (account, region): frozenset(days)
        for account, region, days in engine.rows("log_days", params)
    }
    skipped = tuple(SkippedLog(*row) for row in engine.rows("skipped_logs", params))
    unmapped = tuple(UnmappedEvent(*row) for row in engine.rows("unmapped"))
    coverage = Coverage(observed, selectors, window=window, log_days=log_days, skipped=skipped)
    return UsageReport(window=window, roles=roles, coverage=coverage, unmapped=unmapped)


def _by_role(batches: pa.RecordBatchReader, make: Callable[..., T]) -> dict[str, tuple[T, ...]]:
    """`make(*row[1:])` for each row, grouped by the first column, role_arn.

    The queries sort by role first, so each role is one run of rows. Objects are made
    column-wise with map(): far faster than row dictionaries for hundreds of thousands of rows.
    Batches are turned into objects one at a time, so only one batch of Arrow data is held.
    """
    grouped: dict[str, list[T]] = {}
    for batch in batches:
        if batch.num_rows == 0:
            continue
        columns = [_values(batch.column(i)) for i in range(1, batch.num_columns)]
        objects = list(map(make, *columns))
        runs = pc.run_end_encode(batch.column(0))
        start = 0
        for role, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist(), strict=True):
            grouped.setdefault(role, []).extend(objects[start:end])
            start = end
    return {role: tuple(objects) for role, objects in grouped.items()}


def _values(column: pa.Array) -> list[Any]:
    """A column as Python values; lists become tuples, (action, resource) structs pairs."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        # NumPy makes datetime objects about twenty times faster than Arrow's to_pylist.
        return list(column.cast(pa.timestamp("us")).to_numpy().tolist())
    if pa.types.is_list(kind) and pa.types.is_struct(kind.value_type):
        return _pair_lists(column)
    if pa.types.is_list(kind):
        return [tuple(items) if items is not None else () for items in column.to_pylist()]
    if pa.types.is_string(kind) and len(column) > 1000:
        # Actions, event and function names repeat: one string object each, shared by rows.
        encoded = column.dictionary_encode()
        if len(encoded.dictionary) * 4 < len(column):
            names = encoded.dictionary.to_pylist()
            return [None if i is None else names[i] for i in encoded.indices.to_pylist()]
    return list(column.to_pylist())


def _pair_lists(lists: pa.ListArray) -> list[tuple[Need, ...]]:
    """A list<struct<action, resource>> column as tuples of pairs, without a dict per pair."""
    offsets = lists.offsets.to_pylist()
    values = lists.values
    pairs = list(
        zip(values.field("action").to_pylist(), values.field("resource").to_pylist(), strict=True)
    )
    return [tuple(pairs[start:end]) for start, end in itertools.pairwise(offsets)]
