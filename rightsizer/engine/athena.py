"""The Athena engine: the usage queries run in Amazon Athena, where the trail's logs already are.

The logs are read through the CloudTrail table the Athena User Guide documents (partition
projection on the delivery day; `cloudtrail_table`), normalized once by
queries/cloudtrail_events.sql into a staging table `events`, and the usage queries run on that,
transpiled to Athena's SQL with their values as ExecutionParameters. Only aggregated rows come
back, through GetQueryResults (1,000 a page).

Staging. Athena has no temporary tables. A materialized query (`events`, then `s3_calls`) is
a CTAS table in --athena-database named `rightsizer_<run>_<name>`, its Parquet files under
--athena-output `rightsizer-staging/<run>/<name>/`: later queries read those files instead of
the logs again. The tables of values (`load_table`: the mapping, the roles in scope; a few
hundred rows) go into each statement that reads them as inline VALUES: no table, no upload.
`close()` drops the staging tables; their files stay under the output location with Athena's
own result files, for the workgroup's lifecycle rule. The ingest manifest tables (`files`,
`skipped_files`) do not exist here (Athena reads the files itself, and one it cannot read fails
the query): a query that reads only them runs on the local empty tables, and one that reads
them beside `events` (store_totals) gets them as empty VALUES.

Results. GetQueryResults gives every value as text; list and struct columns are asked for as
JSON and rebuilt with the types the same query has on DuckDB, which a schema-only DuckDB (the
store's tables, empty) tells. Cost: bytes scanned, at the Athena pricing page's USD 5 per TB
with its 10 MB minimum per query; a query that takes the run over --max-scan-gb is stopped.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from rightsizer.engine.athena_values import (
    cells,
    converter,
    literal,
    nested,
    text_leaves,
    values_table,
)
from rightsizer.engine.base import ROWS_PER_BATCH, Engine, Prepared, identifier
from rightsizer.engine.cloudtrail_table import DAY_FORMAT, ensure_table
from rightsizer.engine.duckdb import DuckDBEngine
from rightsizer.errors import ConfigError, QueryError
from rightsizer.window import Window

if TYPE_CHECKING:
    from rightsizer.config import Settings

# Athena SQL pricing (aws.amazon.com/athena/pricing): USD 5 per TB scanned, each query billed
# at least 10 MB, rounded up to the next MB; DDL statements and failed queries cost nothing.
USD_PER_TB = 5.0
TB = 10**12
MB = 10**6
MIN_BILLED_BYTES = 10 * MB
GB = 10**9
CATALOG = "AwsDataCatalog"
RAW_TABLE = "cloudtrail_raw"  # the name queries/cloudtrail_events.sql reads the logs by
MANIFEST_TABLES = frozenset({"files", "skipped_files"})
_NAME_RE = re.compile(r"^[a-z0-9_]{1,255}$")
_DONE = {"SUCCEEDED", "FAILED", "CANCELLED"}


@dataclass(frozen=True)
class AthenaOptions:
    """Where and how the queries run (the --athena-* options)."""

    database: str
    output: str  # s3://bucket/prefix/ for results and staging tables
    workgroup: str = "primary"
    table: str = "cloudtrail_logs"  # the CloudTrail table over the trail
    max_scan_gb: float | None = None  # stop above this many GB scanned in the run
    poll_seconds: float = 1.0

    def __post_init__(self) -> None:
        for flag, name in (("--athena-database", self.database), ("--athena-table", self.table)):
            if not _NAME_RE.match(name):
                raise ConfigError(
                    f"{flag} {name!r} is not an Athena name; use lower-case letters, digits, _"
                )
        if not self.output.startswith("s3://") or len(self.output) <= len("s3://"):
            raise ConfigError(
                f"--athena-output {self.output!r} is not an S3 location; use s3://bucket/prefix/"
            )
        if self.max_scan_gb is not None and self.max_scan_gb <= 0:
            raise ConfigError(f"--max-scan-gb must be more than 0 (got {self.max_scan_gb})")


@dataclass
class Spend:
    """What the run's queries scanned, and the price of it."""

    queries: int = 0
    scanned_bytes: int = 0
    billed_bytes: int = 0

    @property
    def cost_usd(self) -> float:
        return self.billed_bytes / TB * USD_PER_TB

    def add(self, scanned: int, ddl: bool) -> None:
        self.queries += 1
        self.scanned_bytes += scanned
        if not ddl:
            self.billed_bytes += max(math.ceil(scanned / MB) * MB, MIN_BILLED_BYTES)

    def as_dict(self) -> dict[str, Any]:
        return {
            "queries": self.queries,
            "scanned_bytes": self.scanned_bytes,
            "cost_usd": round(self.cost_usd, 6),
            "price": f"USD {USD_PER_TB:g} per TB scanned, 10 MB minimum per query",
        }


@dataclass
class _Run:
    """What an engine and its sessions share: the run id, the spend, the `events` table."""

    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    spend: Spend = field(default_factory=Spend)
    events: str | None = None
    created: list[str] = field(default_factory=list)


class AthenaEngine(Engine):
    """The queries in Athena over the CloudTrail table `options.table`, for `window`'s days."""

    dialect: ClassVar[str] = "athena"

    def __init__(
        self,
        client: Any,
        options: AthenaOptions,
        window: Window,
        *,
        sleep: Callable[[float], None] = time.sleep,
        _run: _Run | None = None,
    ) -> None:
        """`client` is a boto3 Athena client; nothing is called until a query runs."""
        from rightsizer import store  # the schema-only DuckDB that types the results

        self.client = client
        self.options = options
        self.window = window
        self._sleep = sleep
        self._run = _run or _Run()
        self._owner = _run is None
        self._values: dict[str, pa.Table] = {}
        self._staged: dict[str, str] = {}
        self._shadow = DuckDBEngine(store.connect(":memory:"), owned=True)
        self._started = time.monotonic()
        self.source = f"athena:{options.database}.{options.table}"

    @property
    def spend(self) -> Spend:
        """Queries run, bytes scanned and their cost so far (the engine and its sessions)."""
        return self._run.spend

    def ingest_summary(self) -> dict[str, Any]:
        """The `ingest` block: the window's logs as Athena read them (staged, not stored).

        `records` counts the events after ingest's rules; the records those rules left out
        (duplicates, bad, Insight) are not counted here: 0. `scanned_bytes` and `cost_usd`
        are those of reading the logs (the staging), the bulk of a run's scan.
        """
        ((files, events),) = self.rows("events_read")
        spend = self._run.spend
        seconds = time.monotonic() - self._started
        return {
            "run_id": self._run.run_id,
            "source": self.source,
            "window": self.window.as_dict(),
            "files_listed": files,
            "files_already_ingested": 0,
            "files_skipped_before": 0,
            "files_read": files,
            "records": events,
            "events_added": 0,
            "duplicates": 0,
            "bad_records": 0,
            "insight_records": 0,
            "skipped_files": [],
            "non_log_objects": {"other": 0},
            "unexpected_folders": [],
            "seconds": round(seconds, 3),
            "records_per_second": round(events / seconds) if seconds > 0 else 0,
            "strict": False,
            "exit_code": 0,
            "interrupted": False,
            "engine": "athena",
            "scanned_bytes": spend.scanned_bytes,
            "cost_usd": round(spend.cost_usd, 6),
        }

    def cost_note(self) -> str:
        """What the run's Athena queries scanned and what that costs."""
        spend = self._run.spend
        return (
            f"athena: {spend.queries} queries scanned {spend.scanned_bytes / GB:,.3f} GB, "
            f"about USD {spend.cost_usd:,.4f} (USD {USD_PER_TB:g} per TB scanned, 10 MB minimum "
            "per query: aws.amazon.com/athena/pricing)"
        )

    # --- the Engine interface ---------------------------------------------------------------

    def load_table(self, name: str, table: pa.Table) -> None:
        """Keep `table` to write into the statements that read `name` as VALUES."""
        self._values[identifier(name)] = table
        self._shadow.load_table(name, table)

    def materialize(self, name: str, params: Mapping[str, Any] | None = None) -> None:
        """Store queries/NAME.sql's result in a staging table (CTAS) the later queries read."""
        self._shadow.materialize(name, params)
        self._staged[name] = self._ctas(name, self.prepare(name, params))

    def rows(self, name: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run queries/NAME.sql in Athena; its rows as tuples."""
        table = self.arrow(name, params)
        return list(zip(*(column.to_pylist() for column in table.columns), strict=True))

    def arrow(self, name: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run queries/NAME.sql in Athena; its rows as an Arrow table typed as on DuckDB."""
        return self.batches(name, params).read_all()

    def batches(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        *,
        rows_per_batch: int = ROWS_PER_BATCH,
    ) -> pa.RecordBatchReader:
        """Run queries/NAME.sql in Athena; its rows in batches, one page group at a time."""
        schema = self._shadow.arrow(name, params).schema
        prepared = self.prepare(name, params)
        if _tables(prepared.text) <= MANIFEST_TABLES:
            return self._shadow.batches(name, params, rows_per_batch=rows_per_batch)
        text = self._statement(prepared.text, json_columns=schema)
        query_id = self._execute(name, text, prepared.args)
        return pa.RecordBatchReader.from_batches(
            schema, self._pages(query_id, schema, rows_per_batch)
        )

    def session(self) -> AthenaEngine:
        """An engine on the same run: the same `events` staging, its own other tables."""
        return AthenaEngine(
            self.client, self.options, self.window, sleep=self._sleep, _run=self._run
        )

    def close(self) -> None:
        """Drop the staging tables this engine made (the run's `events` with the first one)."""
        try:
            for table in [*self._staged.values(), *([self._run.events] if self._owner else [])]:
                if table and table in self._run.created:
                    self.run_ddl(f"DROP TABLE IF EXISTS `{self.options.database}`.`{table}`")
                    self._run.created.remove(table)
        finally:
            self._staged.clear()
            self._shadow.close()

    # --- statements -------------------------------------------------------------------------

    def _ctas(self, name: str, prepared: Prepared) -> str:
        table = f"rightsizer_{self._run.run_id}_{name}"
        location = (
            f"{self.options.output.rstrip('/')}/rightsizer-staging/{self._run.run_id}/{name}/"
        ).replace("'", "''")
        text = (
            f'CREATE TABLE "{self.options.database}"."{table}"'
            f" WITH (format = 'PARQUET', external_location = '{location}')"
            f" AS {self._statement(prepared.text)}"
        )
        self._execute(prepared.name, text, prepared.args)
        self._run.created.append(table)
        return table

    def _statement(self, text: str, json_columns: pa.Schema | None = None) -> str:
        """`text` with its tables resolved: staging tables by name, values inline, the logs'
        table as --athena-table; with `json_columns`, nested output columns as JSON text."""
        import sqlglot
        from sqlglot import exp

        tree = sqlglot.parse_one(text, read="athena")
        if "events" in _tables(tree):
            self._stage_events()
        qualified = {**self._staged, "events": self._run.events, RAW_TABLE: self.options.table}
        ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
        for table in list(tree.find_all(exp.Table)):
            if table.db or table.name in ctes:
                continue
            if table.name in self._values:
                table.replace(values_table(table.name, self._values[table.name], table.alias))
            elif table.name in MANIFEST_TABLES:  # empty here: Athena reads the files itself
                empty = self._shadow.conn.table(table.name).to_arrow_table()
                table.replace(values_table(table.name, empty, table.alias))
            elif qualified.get(table.name):
                table.set("this", exp.to_identifier(qualified[table.name]))
                table.set("db", exp.to_identifier(self.options.database))
        if json_columns is not None and isinstance(tree, exp.Select):
            for column, select in zip(json_columns, tree.selects, strict=True):
                if nested(column.type):
                    target = exp.DataType.build(text_leaves(column.type), dialect="athena")
                    value = select.this if isinstance(select, exp.Alias) else select
                    json = exp.cast(exp.cast(value.copy(), target), "JSON")
                    select.replace(exp.alias_(json, column.name))
        return tree.sql(dialect="athena")

    def _stage_events(self) -> None:
        """The run's `events`: the CloudTrail table normalized, for the window's day folders."""
        if self._run.events is not None:
            return
        days = self.window.delivery_days()
        params = {"first_day": f"{days[0]:{DAY_FORMAT}}", "last_day": f"{days[-1]:{DAY_FORMAT}}"}
        self._run.events = self._ctas("events", self.prepare("cloudtrail_events", params))

    # --- the API flow -----------------------------------------------------------------------

    def run_ddl(self, text: str) -> None:
        """Run a DDL statement (CREATE or DROP TABLE): free in Athena, but counted."""
        self._execute("ddl", text, [], ddl=True)

    def _execute(
        self, name: str, text: str, args: list[Any] | dict[str, Any], *, ddl: bool = False
    ) -> str:
        """Start a statement, wait for it, count what it scanned; its query execution id.

        Stops the query (StopQueryExecution) when the run goes over --max-scan-gb or the wait
        is interrupted (Ctrl-C); raises QueryError when it fails, is cancelled or stopped.
        """
        request: dict[str, Any] = {
            "QueryString": text,
            "QueryExecutionContext": {"Database": self.options.database, "Catalog": CATALOG},
            "WorkGroup": self.options.workgroup,
            "ResultConfiguration": {"OutputLocation": self.options.output},
        }
        if args:
            request["ExecutionParameters"] = [literal(value) for value in args]
        with aws_errors("Athena"):
            query_id: str = self.client.start_query_execution(**request)["QueryExecutionId"]
        where = "a DDL statement" if ddl else f"queries/{name}.sql"
        try:
            with aws_errors("Athena"):
                state, reason, scanned = self._wait(query_id)
        except BaseException:  # interrupted, or a call failed: the query must not run on
            self.client.stop_query_execution(QueryExecutionId=query_id)
            raise
        self._run.spend.add(scanned, ddl)
        if state == "OVER_BUDGET":
            self.client.stop_query_execution(QueryExecutionId=query_id)
            raise QueryError(
                f"{where} stopped in Athena (query {query_id}): the run scanned "
                f"{self._run.spend.scanned_bytes / GB:,.2f} GB, over --max-scan-gb "
                f"{self.options.max_scan_gb:g}; shorten --days or raise --max-scan-gb"
            )
        if state != "SUCCEEDED":
            raise QueryError(f"{where} {state.lower()} in Athena (query {query_id}): {reason}")
        return query_id

    def _wait(self, query_id: str) -> tuple[str, str, int]:
        """Poll until the query ends or the run's scan goes over the budget: (state, reason,
        bytes scanned); the state OVER_BUDGET for a query still running past the budget."""
        limit = self.options.max_scan_gb
        while True:
            execution = self.client.get_query_execution(QueryExecutionId=query_id)
            status = execution["QueryExecution"]["Status"]
            statistics = execution["QueryExecution"].get("Statistics", {})
            scanned = int(statistics.get("DataScannedInBytes", 0))
            state = status["State"]
            over = limit is not None and self._run.spend.scanned_bytes + scanned > limit * GB
            if over and state != "SUCCEEDED":
                return "OVER_BUDGET", "", scanned
            if state in _DONE:
                return state, status.get("StateChangeReason") or "no reason given", scanned
            self._sleep(self.options.poll_seconds)

    def _pages(
        self, query_id: str, schema: pa.Schema, rows_per_batch: int
    ) -> Iterator[pa.RecordBatch]:
        """The result's rows, page by page, converted to `schema`'s types."""
        convert = [converter(column.type) for column in schema]
        rows: list[dict[str, Any]] = []
        token: str | None = None
        first = True
        while True:
            with aws_errors("Athena"):
                page = self.client.get_query_results(
                    QueryExecutionId=query_id,
                    MaxResults=1000,
                    **({"NextToken": token} if token else {}),
                )
            data = page["ResultSet"]["Rows"]
            if first and data and cells(data[0]) == schema.names:
                data = data[1:]  # a SELECT's first row holds the column labels
            first = False
            for row in data:
                texts = cells(row)
                rows.append({c.name: f(v) for c, f, v in zip(schema, convert, texts, strict=True)})
                if len(rows) >= rows_per_batch:
                    yield pa.RecordBatch.from_pylist(rows, schema=schema)
                    rows = []
            token = page.get("NextToken")
            if not token:
                break
        if rows:
            yield pa.RecordBatch.from_pylist(rows, schema=schema)


def _tables(statement: Any) -> set[str]:
    """The tables a statement (text or sqlglot tree) reads, not its CTEs."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(statement, read="athena") if isinstance(statement, str) else statement
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table) if not t.db} - ctes


def open_engine(settings: Settings, window: Window) -> AthenaEngine:
    """The engine `--engine athena` runs: the --athena-* settings, AWS from --profile, and the
    CloudTrail table checked (created over the --source s3:// trail with --athena-create-table).
    """
    from rightsizer import aws
    from rightsizer.sources import open_source

    missing = [
        flag
        for flag, value in (
            ("--athena-database", settings.athena_database),
            ("--athena-output", settings.athena_output),
        )
        if not value
    ]
    if missing:
        raise ConfigError(
            f"--engine athena needs {' and '.join(missing)} (the database of the CloudTrail "
            "table, and s3://bucket/prefix/ for query results)"
        )
    options = AthenaOptions(
        database=settings.athena_database or "",
        output=settings.athena_output or "",
        workgroup=settings.athena_workgroup,
        table=settings.athena_table,
        max_scan_gb=settings.max_scan_gb,
    )
    session = aws.session(settings.profile, settings.region)
    engine = AthenaEngine(session.client("athena"), options, window)
    engine.source = settings.source or engine.source
    trail = None
    try:
        if settings.source and settings.source.startswith("s3://"):
            trail = open_source(settings.source, profile=settings.profile, region=settings.region)
        with aws_errors("the Glue Data Catalog"):
            ensure_table(
                session.client("glue"),
                trail,
                database=options.database,
                table=options.table,
                create=settings.athena_create_table,
                run_ddl=engine.run_ddl,
            )
    except BaseException:
        engine.close()
        raise
    finally:
        if trail is not None:
            trail.close()
    return engine


@contextmanager
def aws_errors(service: str) -> Iterator[None]:
    """An AWS error (denied, no credentials, unreachable) as one line naming `service`."""
    import botocore.exceptions as bce

    try:
        yield
    except bce.ClientError as exc:
        error = exc.response.get("Error", {})
        raise QueryError(
            f"{service}: {error.get('Code', 'error')}: {error.get('Message', exc)}; check the "
            "--athena-* settings and the permissions in the README"
        ) from None
    except bce.BotoCoreError as exc:
        raise QueryError(
            f"{service}: {exc}; check AWS credentials, --profile and the region"
        ) from None
