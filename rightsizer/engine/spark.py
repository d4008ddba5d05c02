"""The Spark engine: the usage stage on Apache Spark, over the CloudTrail files where they lie.

Works in any PySpark session (`local[*]` on a laptop, EMR Serverless, Glue, Databricks).
`open_engine` lists the window's log files with rightsizer's own sources (a local tree or
`s3://bucket/prefix`: only the delivery-day folders of the window, in every account and
region, organization trails included), then Spark reads exactly those files with an explicit
schema (never inference) into a table shaped like the CloudTrail table Athena documents
(`cloudtrail_raw`, rightsizer.engine.cloudtrail_table), and queries/cloudtrail_events.sql
normalizes it into `events`, which stays cached for the usage queries. Nothing is stored.

A file Spark cannot read is a skipped file with its reason, never silently left out: an empty
file; one Spark could not open (not gzip, truncated: read with ignoreCorruptFiles, then found
missing); one that is not JSON or holds a field of the wrong type (the whole file: Spark parses
a file as one document); one without a Records list. `files` and `skipped_files` are tables
too, so queries/skipped_logs.sql and store_totals.sql run unchanged.

Each engine works in a session of its own (`SparkSession.newSession()`: private temp views and
settings: UTC, no ANSI mode, timestamps without zone); the tables every session reads are
global temp views under a name of this engine's own, dropped with it.

Longer than most modules on purpose: the file schema, the per-file outcomes and the engine's
tables share the documented table's shape and change together.
"""

from __future__ import annotations

import datetime as dt
import re
import signal
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
from py4j.protocol import Py4JError
from pyspark import StorageLevel
from pyspark.errors import PySparkException
from pyspark.errors.exceptions.captured import CapturedException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from rightsizer.engine.base import ROWS_PER_BATCH, Engine, batch_stream, identifier, prepare
from rightsizer.engine.base import naming as _naming
from rightsizer.engine.cloudtrail_table import COLUMNS, DAY_FORMAT, DAY_PARTITION
from rightsizer.sources import open_source
from rightsizer.sources.base import Listing, LogFile

if TYPE_CHECKING:
    from rightsizer.config import Settings
    from rightsizer.window import Window

_ERRORS: tuple[type[Exception], ...] = (PySparkException, Py4JError)
# Every session of the engine: times in UTC without zone, as the store has them; SQL as
# DuckDB runs it (an index past a list's end is NULL, not an error); names as written
# (resources' `ARN` and `arn` are two fields of a file).
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.caseSensitive": "true",
}
# Spark checks the listed files (sizes) in a job of one task per file unless told otherwise;
# a few tasks per core do it as well, without thousands of tiny tasks.
_CHECKS_PER_CORE = 4
PATH_COLUMN = "$path"  # Athena's hidden column (its URI there; the key below the source here)

# The names CloudTrail writes where the documented table has them in lower case.
_CAMEL = (
    "eventVersion",
    "userIdentity",
    "principalId",
    "accountId",
    "invokedBy",
    "accessKeyId",
    "userName",
    "onBehalfOf",
    "userId",
    "identityStoreArn",
    "sessionContext",
    "mfaAuthenticated",
    "creationDate",
    "sessionIssuer",
    "ec2RoleDelivery",
    "webIdFederationData",
    "federatedProvider",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "requestID",
    "eventID",
    "readOnly",
    "eventType",
    "apiVersion",
    "recipientAccountId",
    "serviceEventDetails",
    "sharedEventID",
    "vpcEndpointId",
    "vpcEndpointAccountId",
    "eventCategory",
    "updatedFields",
    "originalRequestID",
    "originalEventID",
    "sessionCredentialFromConsole",
    "edgeDeviceDetails",
    "tlsDetails",
    "tlsVersion",
    "cipherSuite",
    "clientProvidedHostHeader",
)
_SPELLING = {name.lower(): name for name in _CAMEL}
# A resource's ARN and account as log files spell them, and the lower-case spellings seen in
# published samples (rightsizer.records reads both the same way).
_RESOURCE_FIELDS = ("ARN", "arn", "accountId", "accountid", "type")
_TOKEN_RE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|[<>,:])")

EMPTY = "empty file"
UNOPENED = "Spark could not read it: not gzip, or truncated or corrupt gzip"
NOT_JSON = "Spark could not parse it: invalid JSON, or a field of the wrong type"
NO_RECORDS = "no Records list at the top level"


def hive_type(text: str, spelling: Mapping[str, str] | None = None) -> T.DataType:
    """A documented Hive type (`STRUCT<arn:STRING>`) as Spark's type; `spelling` renames
    struct fields (to the names CloudTrail's files spell)."""
    tokens = _TOKEN_RE.findall(text)
    kind, rest = _parse(tokens, spelling or {})
    if rest:
        raise ValueError(f"trailing {rest} in {text!r}")
    return kind


def _parse(tokens: list[str], spelling: Mapping[str, str]) -> tuple[T.DataType, list[str]]:
    head, rest = tokens[0].upper(), tokens[1:]
    if head == "STRING":
        return T.StringType(), rest
    if rest[0] != "<":
        raise ValueError(f"{head} needs <...>")
    rest = rest[1:]
    if head == "ARRAY":
        item, rest = _parse(rest, spelling)
        return T.ArrayType(item), rest[1:]
    if head == "MAP":
        key, rest = _parse(rest, spelling)
        value, rest = _parse(rest[1:], spelling)
        return T.MapType(key, value), rest[1:]
    fields = []
    while rest[0] != ">":
        name, rest = rest[0], rest[2:]
        kind, rest = _parse(rest, spelling)
        fields.append(T.StructField(spelling.get(name, name), kind))
        rest = rest[1:] if rest[0] == "," else rest
    return T.StructType(fields), rest[1:]


def _record_type() -> T.StructType:
    """One record of a log file, as its JSON spells the documented columns."""
    fields = []
    for name, text in COLUMNS:
        kind = hive_type(text, _SPELLING)
        if name == "resources":
            kind = T.ArrayType(
                T.StructType([T.StructField(n, T.StringType()) for n in _RESOURCE_FIELDS])
            )
        fields.append(T.StructField(_SPELLING.get(name, name), kind))
    return T.StructType(fields)


FILE_SCHEMA = T.StructType(
    [
        T.StructField("Records", T.ArrayType(_record_type())),
        T.StructField("_corrupt_record", T.StringType()),
    ]
)
_RAW_TYPES = {name: hive_type(text) for name, text in COLUMNS}


def _lowered(column: Column, name: str) -> Column:
    """A record's field as the documented column `name`: structs cast to the lower-case names
    (field by field, in order), resources' two spellings made one."""
    if name == "resources":
        return F.transform(
            column,
            lambda r: F.struct(
                F.coalesce(r["ARN"], r["arn"]).alias("arn"),
                F.coalesce(r["accountId"], r["accountid"]).alias("accountid"),
                r["type"].alias("type"),
            ),
        ).alias(name)
    kind = _RAW_TYPES[name]
    return (column if isinstance(kind, T.StringType) else column.cast(kind)).alias(name)


class SparkEngine(Engine):
    """The queries on Spark SQL: each file transpiled by sqlglot (rightsizer.engine.base)."""

    dialect: ClassVar[str] = "spark"

    def __init__(
        self,
        spark: SparkSession,
        shared: Mapping[str, str],
        *,
        root: _Root | None = None,
    ) -> None:
        """Run in a new session of `spark`, reading the global temp views `shared` (table
        name → global view name). `root` is what the engine that made them must release."""
        self.spark = spark.newSession()
        for key, value in SESSION_CONF.items():
            self.spark.conf.set(key, value)
        self._shared = dict(shared)
        self._root = root
        self._staged: dict[str, DataFrame] = {}
        for name, view in self._shared.items():
            # Global views are shared by every session of the application; these names are ours.
            self.spark.sql(
                f"CREATE OR REPLACE TEMP VIEW {identifier(name)} AS "  # noqa: S608
                f"SELECT * FROM global_temp.{identifier(view)}"
            )

    @classmethod
    def over(
        cls,
        spark: SparkSession,
        tables: Mapping[str, DataFrame],
        *,
        owned: bool = False,
        summary: dict[str, Any] | None = None,
        holds: tuple[DataFrame, ...] = (),
    ) -> SparkEngine:
        """An engine reading `tables` (name → DataFrame, uncached when it closes, with the
        cached `holds` they were made from); `owned` stops `spark` with it; `summary` is what
        it read (`ingest_summary`)."""
        prefix = f"rightsizer_{uuid.uuid4().hex[:12]}"
        shared = {}
        for name, frame in tables.items():
            view = f"{prefix}_{identifier(name)}"
            frame.createOrReplaceGlobalTempView(view)
            shared[name] = view
        root = _Root(spark, [*tables.values(), *holds], owned=owned, summary=summary)
        return cls(spark, shared, root=root)

    def load_table(self, name: str, table: pa.Table) -> None:
        """Create (or replace) the temp view `name` holding `table`'s rows."""
        self._unstage(identifier(name))
        self.spark.createDataFrame(table).createOrReplaceTempView(name)

    def materialize(self, name: str, params: Mapping[str, Any] | None = None) -> None:
        """Compute queries/NAME.sql now and keep its rows as the temp view NAME (a staging
        step): a local checkpoint, so later queries read the rows, not the plan again (a view
        of a merely cached plan this large was planned anew by every query reading it)."""
        with naming(name, _ERRORS):
            frame = self._frame(name, params).localCheckpoint(eager=True)
        self._unstage(name)
        self._staged[name] = frame
        frame.createOrReplaceTempView(name)

    def rows(self, name: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run queries/NAME.sql and return its rows as tuples (through Arrow: the same Python
        values DuckDB gives)."""
        table = self.arrow(name, params)
        return list(zip(*(column.to_pylist() for column in table.columns), strict=True))

    def arrow(self, name: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run queries/NAME.sql and return its rows as an Arrow table."""
        with naming(name, _ERRORS):
            return _naive_times(self._frame(name, params).toArrow())

    def batches(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        *,
        rows_per_batch: int = ROWS_PER_BATCH,
    ) -> pa.RecordBatchReader:
        """Run queries/NAME.sql and hand its rows over in batches of at most `rows_per_batch`.

        Spark gives the (aggregated) result to the driver as one Arrow table; the batches are
        slices of it, so memory holds the result once, not once more per batch.
        """
        table = self.arrow(name, params)
        reader = pa.RecordBatchReader.from_batches(
            table.schema, table.to_batches(max_chunksize=rows_per_batch)
        )
        return batch_stream(name, reader, _ERRORS)

    def session(self) -> SparkEngine:
        """A new Spark session on the same tables, with temp views of its own."""
        return SparkEngine(self.spark, self._shared)

    def close(self) -> None:
        """Drop this session's staged tables; the engine that read the logs also drops the
        shared views, uncaches them, and stops Spark when it started it."""
        for name in list(self._staged):
            self._unstage(name)
        if self._root is not None:
            self._root.release(self._shared.values())
            self._root = None

    def ingest_summary(self) -> dict[str, Any] | None:
        """What the engine read, as the analysis's `ingest` block (None: made over tables)."""
        return self._root.summary if self._root is not None else None

    def _frame(self, name: str, params: Mapping[str, Any] | None) -> DataFrame:
        prepared = self.prepare(name, params)
        assert isinstance(prepared.args, dict)
        args = {key: _literal(value) for key, value in prepared.args.items()}
        return self.spark.sql(prepared.text, args=args)

    def _unstage(self, name: str) -> None:
        frame = self._staged.pop(name, None)
        if frame is not None:
            frame.unpersist()
        self.spark.catalog.dropTempView(name)


@contextmanager
def naming(name: str, errors: tuple[type[Exception], ...]) -> Iterator[None]:
    """rightsizer.engine.base.naming for Spark's errors, which are made from the JVM's."""
    try:
        with _naming(name, tuple(e for e in errors if e is not PySparkException)):
            yield
    except CapturedException as exc:
        where = f"queries/{name}.sql"
        if where in exc._desc:
            raise
        # Made from the JVM's error, it is made again from its text (the type is kept).
        raise type(exc)(desc=f"{where}: {exc._desc}", stackTrace=exc._stackTrace) from exc


def _literal(value: Any) -> Any:
    """A parameter as Spark takes it: a naive UTC time made explicitly UTC (PySpark would read
    a naive one in the driver's local time zone); the sessions compare in UTC."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


class _Root:
    """What the engine that read the logs holds: cached tables, the Spark it started, and
    what it read."""

    def __init__(
        self,
        spark: SparkSession,
        frames: list[DataFrame],
        *,
        owned: bool,
        summary: dict[str, Any] | None,
    ) -> None:
        self.spark = spark
        self.frames = frames
        self.owned = owned
        self.summary = summary

    def release(self, views: Any) -> None:
        for view in views:
            self.spark.catalog.dropGlobalTempView(view)
        for frame in self.frames:
            frame.unpersist()
        if self.owned:
            self.spark.stop()


def spark_path(spec: str, key: str) -> str:
    """The URI Spark reads a log file at: `key` below the source `spec`."""
    if "://" in spec:
        return f"{spec.rstrip('/')}/{key}"
    return (Path(spec).resolve() / key).as_uri()


def open_engine(settings: Settings, window: Window) -> SparkEngine:
    """The Spark engine over `settings.source`'s logs of `window`, in the application's
    Spark session (spark-submit's, a notebook's), or a local one it starts and stops."""
    assert settings.source is not None  # rightsizer.engine.open_engine checked it
    source = open_source(settings.source, profile=settings.profile, region=settings.region)
    try:
        listing = source.list_files(window)
    finally:
        source.close()
    active = SparkSession.getActiveSession()
    sigint = signal.getsignal(signal.SIGINT)
    # A session of its own draws no progress bars over the command's output.
    spark = active or (
        SparkSession.builder.appName("rightsizer")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    # A new SparkContext puts in a SIGINT handler of its own, whose call into the JVM from inside
    # a running call failed in tracebacks; the command's stays (rightsizer.interrupt).
    new_context = active is None and threading.current_thread() is threading.main_thread()
    if new_context and sigint is not None:
        signal.signal(signal.SIGINT, sigint)
    return read_logs(spark, settings.source, window, listing, owned=active is None)


def read_logs(
    spark: SparkSession, spec: str, window: Window, listing: Listing, *, owned: bool = False
) -> SparkEngine:
    """A Spark engine over the files of `listing` below `spec`, normalized for `window`
    (see the module); `owned` stops `spark` when the engine closes."""
    started = time.monotonic()
    session = spark.newSession()
    for key, value in SESSION_CONF.items():
        session.conf.set(key, value)
    session.conf.set(
        "spark.sql.sources.parallelPartitionDiscovery.parallelism",
        str(max(2, spark.sparkContext.defaultParallelism * _CHECKS_PER_CORE)),
    )
    readable = [f for f in listing.files if f.size > 0]
    parsed = _parse_files(session, [spark_path(spec, f.key) for f in readable])
    outcome = _file_outcomes(session, listing.files, parsed).persist(StorageLevel.MEMORY_AND_DISK)
    files = outcome.where(F.col("reason").isNull()).drop("reason")
    skipped = outcome.where(F.col("reason").isNotNull()).select(
        "source_key", "size_bytes", "reason"
    )
    _raw_records(parsed).createOrReplaceTempView("cloudtrail_raw")
    days = window.delivery_days()
    prepared = prepare(
        "cloudtrail_events",
        {"first_day": f"{days[0]:{DAY_FORMAT}}", "last_day": f"{days[-1]:{DAY_FORMAT}}"},
        SparkEngine.dialect,
    )
    with naming("cloudtrail_events", _ERRORS):
        events = session.sql(prepared.text, args=prepared.args)
        events = events.persist(StorageLevel.MEMORY_AND_DISK)
        stored = events.count()
    totals = files.agg(F.count("*"), F.sum("records"), F.sum("no_id"), F.sum("insight")).first()
    assert totals is not None
    read, records, no_id, insight = (int(value or 0) for value in totals)
    skipped_rows = sorted((row[0], row[1]) for row in skipped.drop("size_bytes").collect())
    summary = {
        "run_id": uuid.uuid4().hex,
        "source": spec,
        "window": window.as_dict(),
        "files_listed": len(listing.files),
        "files_already_ingested": 0,
        "files_skipped_before": 0,
        "files_read": read,
        "records": records,
        "events_added": 0,  # nothing is stored
        # Records with an eventID that did not become an event: another copy of an eventID
        # already read, or (rarely) an eventTime that is no time.
        "duplicates": records - no_id - insight - stored,
        "bad_records": no_id,
        "insight_records": insight,
        "skipped_files": [{"key": key, "reason": reason} for key, reason in skipped_rows],
        "non_log_objects": {"other": listing.other_files},
        "unexpected_folders": list(listing.unexpected_folders),
        "seconds": round(time.monotonic() - started, 3),
        "records_per_second": round(records / max(time.monotonic() - started, 1e-9)),
        "strict": False,
        "exit_code": 0,
        "interrupted": False,
        "engine": SparkEngine.dialect,
    }
    tables = {"events": events, "files": files.persist(), "skipped_files": skipped.persist()}
    return SparkEngine.over(session, tables, owned=owned, summary=summary, holds=(outcome,))


def _parse_files(spark: SparkSession, paths: list[str]) -> DataFrame:
    """One row per file Spark could open: its key, whether it parsed, and its Records."""
    if not paths:
        return spark.createDataFrame(
            [], T.StructType([T.StructField("source_key", T.StringType()), *FILE_SCHEMA.fields])
        ).select("source_key", F.lit(False).alias("corrupt"), "Records")
    frame = (
        spark.read.schema(FILE_SCHEMA)
        .option("multiLine", True)  # a log file is one JSON document
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", "_corrupt_record")
        # A file it cannot open yields no row; _file_outcomes finds it missing.
        .option("ignoreCorruptFiles", True)
        .json(paths)
    )
    return frame.select(
        _key(F.col("_metadata.file_path")).alias("source_key"),
        F.col("_corrupt_record").isNotNull().alias("corrupt"),
        "Records",
    )


def _key(path: Column) -> Column:
    """A file's key below the source: from `AWSLogs/` on, as the sources name it."""
    return F.regexp_extract(path, r"^(.*/)?(AWSLogs/.*)$", 2)


def _file_outcomes(spark: SparkSession, listed: list[LogFile], parsed: DataFrame) -> DataFrame:
    """Each listed file with its counts, or the reason it was skipped."""
    manifest = spark.createDataFrame(
        [(f.key, f.size, f.account, f.region, f.delivered_at) for f in listed],
        "source_key string, size_bytes bigint, account string, region string, "
        "delivered_at timestamp_ntz",
    )
    records = F.col("Records")
    counted = parsed.select(
        "source_key",
        F.lit(True).alias("opened"),
        "corrupt",
        F.when(records.isNotNull(), F.size(records)).alias("records"),
        F.size(F.filter(records, lambda r: F.coalesce(r["eventID"], F.lit("")) == "")).alias(
            "no_id"
        ),
        F.size(F.filter(records, lambda r: r["eventType"] == "AwsCloudTrailInsight")).alias(
            "insight"
        ),
    )
    reason = (
        F.when(F.col("size_bytes") == 0, F.lit(EMPTY))
        .when(F.col("opened").isNull(), F.lit(UNOPENED))
        .when(F.col("corrupt"), F.lit(NOT_JSON))
        .when(F.col("records").isNull(), F.lit(NO_RECORDS))
    )
    return (
        manifest.join(counted, on="source_key", how="left")
        .withColumn("reason", reason)
        .drop("opened", "corrupt")
    )


def _raw_records(parsed: DataFrame) -> DataFrame:
    """The records of the files that parsed, as rows of the documented CloudTrail table, with
    its day partition and Athena's `$path` (here: the key)."""
    good = parsed.where(~F.col("corrupt") & F.col("Records").isNotNull())
    rows = good.select("source_key", F.explode("Records").alias("r"))
    return rows.select(
        *(_lowered(F.col("r")[_SPELLING.get(name, name)], name) for name, _ in COLUMNS),
        F.regexp_extract("source_key", r"/([0-9]{4}/[0-9]{2}/[0-9]{2})/[^/]*$", 1).alias(
            DAY_PARTITION
        ),
        F.col("source_key").alias(PATH_COLUMN),
    )


def _naive_times(table: pa.Table) -> pa.Table:
    """`table` with its zoned timestamps as UTC without a zone, as DuckDB gives them: Spark
    types some results (date_trunc of a timestamp, for one) as TIMESTAMP with the session's
    zone, UTC here, and Python cannot compare those with the window's naive times."""
    fields = [
        field.with_type(pa.timestamp(field.type.unit))
        if pa.types.is_timestamp(field.type) and field.type.tz is not None
        else field
        for field in table.schema
    ]
    schema = pa.schema(fields, metadata=table.schema.metadata)
    return table if schema.equals(table.schema) else table.cast(schema)
