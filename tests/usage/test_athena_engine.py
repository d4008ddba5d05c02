"""The Athena engine's API flow against moto_server (through tests/athena_proxy.py, which adds
Athena's paging and a query's failure or long scan): start, poll, page, fail, cancel, stop over
the scan budget, staging tables and their cleanup, the CloudTrail table and its consent flag.

moto runs no SQL: the rows are queued for each query, so these tests hold the flow and the
statements sent, not the queries' answers (tests/usage/test_cloudtrail_events.py holds those,
on DuckDB over a table shaped like Athena's). No test here reaches a live Athena.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlglot
from athena_proxy import AthenaProxy, athena_proxy
from aws_guard import setup_client
from trail_logs import build_tree, upload, write_tree
from usage_events import ROLE, WINDOW

from rightsizer.engine import columns_table
from rightsizer.engine.athena import AthenaEngine, AthenaOptions
from rightsizer.engine.athena_values import converter
from rightsizer.engine.cloudtrail_table import ensure_table
from rightsizer.errors import ConfigError, QueryError
from rightsizer.sources import open_source
from rightsizer.usage import window_params

PARAMS = window_params(WINDOW)
OUTPUT = "s3://athena-results/rightsizer/"


@pytest.fixture
def proxy(moto: str) -> Iterator[AthenaProxy]:
    with athena_proxy(moto) as running:
        yield running


def _engine(proxy: AthenaProxy, sleep: Any = None, **options: Any) -> AthenaEngine:
    client = boto3.client("athena", region_name="us-east-1", endpoint_url=proxy.url)
    settings = AthenaOptions(database="security", output=OUTPUT, **options)
    return AthenaEngine(client, settings, WINDOW, sleep=sleep or (lambda seconds: None))


def _moto_state(moto: str, query_id: str) -> str:
    athena = boto3.client("athena", region_name="us-east-1", endpoint_url=moto)
    return str(
        athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"]
    )


def test_a_query_is_started_polled_paged_and_typed_as_on_duckdb(proxy: AthenaProxy) -> None:
    header = ["account", "region", "days"]
    rows = [[f"{n:012d}", "eu-west-1", '["2026-10-01","2026-10-03"]'] for n in range(2_499)]
    proxy.queue_results([], [header, *rows])  # the events staging, then log_days
    with _engine(proxy) as engine:
        result = engine.rows("log_days", PARAMS)
        spend = engine.spend.as_dict()
    assert len(result) == 2_499
    assert result[7] == ("000000000007", "eu-west-1", [dt.date(2026, 10, 1), dt.date(2026, 10, 3)])
    # 2,500 rows with the header: three pages of at most 1,000.
    tokens = [call.get("NextToken") for call in proxy.calls("GetQueryResults")]
    assert tokens == [None, "1000", "2000"]
    staging, query, drop = proxy.calls("StartQueryExecution")
    events = staging["QueryString"].split('"')[3]
    assert events.startswith("rightsizer_") and events.endswith("_events")
    assert staging["QueryString"].startswith(f'CREATE TABLE "security"."{events}" WITH (')
    assert f"external_location = '{OUTPUT}rightsizer-staging/" in staging["QueryString"]
    assert "FROM security.cloudtrail_logs AS r" in staging["QueryString"]
    # The window's delivery day folders, as Athena takes values: SQL literals.
    assert staging["ExecutionParameters"] == ["'2026/10/01'", "'2026/11/02'"]
    assert query["ExecutionParameters"] == [
        "TIMESTAMP '2026-10-01 00:00:00.000000'",
        "TIMESTAMP '2026-11-01 00:00:00.000000'",
    ]
    assert f"FROM security.{events} AS e" in query["QueryString"]
    assert "AS JSON) AS days" in query["QueryString"]  # a list comes back as JSON text
    assert all(
        call["WorkGroup"] == "primary"
        and call["QueryExecutionContext"] == {"Database": "security", "Catalog": "AwsDataCatalog"}
        and call["ResultConfiguration"] == {"OutputLocation": OUTPUT}
        for call in (staging, query, drop)
    )
    for call in (staging, query):
        assert len(sqlglot.parse(call["QueryString"], read="athena")) == 1
    assert drop["QueryString"] == f"DROP TABLE IF EXISTS `security`.`{events}`"
    assert spend["queries"] == 2 and spend["scanned_bytes"] == 0


def test_a_failed_query_names_its_file_and_athena_reason(proxy: AthenaProxy) -> None:
    proxy.script(2, State="FAILED", StateChangeReason="SYNTAX_ERROR: line 1:8: bad")
    with _engine(proxy) as engine, pytest.raises(QueryError) as raised:
        engine.rows("lambda_sessions", PARAMS)
    query_id = proxy.started[1]
    assert str(raised.value) == (
        f"queries/lambda_sessions.sql failed in Athena (query {query_id}): "
        "SYNTAX_ERROR: line 1:8: bad"
    )
    assert raised.value.exit_code == 2
    assert proxy.calls("StopQueryExecution") == []
    # The staging table made before the failure is still dropped.
    assert proxy.calls("StartQueryExecution")[-1]["QueryString"].startswith("DROP TABLE")


def test_an_interrupted_wait_cancels_the_query(proxy: AthenaProxy, moto: str) -> None:
    proxy.script(1, State="RUNNING")

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    engine = _engine(proxy, sleep=interrupt)
    with pytest.raises(KeyboardInterrupt):
        engine.rows("coverage", PARAMS)
    engine.close()
    (stop,) = proxy.calls("StopQueryExecution")
    assert stop["QueryExecutionId"] == proxy.started[0]
    assert _moto_state(moto, proxy.started[0]) == "CANCELLED"


def test_a_scan_over_the_budget_is_stopped_and_counted(proxy: AthenaProxy, moto: str) -> None:
    proxy.script(1, State="RUNNING", DataScannedInBytes=1_500_000_000)
    with _engine(proxy, max_scan_gb=1) as engine:
        with pytest.raises(QueryError) as raised:
            engine.rows("coverage", PARAMS)
        spend = engine.spend
    assert str(raised.value) == (
        f"queries/cloudtrail_events.sql stopped in Athena (query {proxy.started[0]}): the run "
        "scanned 1.50 GB, over --max-scan-gb 1; shorten --days or raise --max-scan-gb"
    )
    assert [c["QueryExecutionId"] for c in proxy.calls("StopQueryExecution")] == proxy.started
    assert _moto_state(moto, proxy.started[0]) == "CANCELLED"
    assert spend.scanned_bytes == 1_500_000_000
    assert spend.cost_usd == pytest.approx(1.5e9 / 1e12 * 5)
    # Nothing was staged, so nothing is dropped.
    assert len(proxy.calls("StartQueryExecution")) == 1


def test_cost_is_billed_per_query_with_athena_minimum(proxy: AthenaProxy) -> None:
    proxy.script(1, DataScannedInBytes=250_000_000_000)  # the logs, scanned once
    proxy.script(2, DataScannedInBytes=3_000_000)  # a query on the staged events
    with _engine(proxy, max_scan_gb=300) as engine:
        engine.rows("lambda_sessions", PARAMS)
        spend = engine.spend.as_dict()
    assert spend == {
        "queries": 2,
        "scanned_bytes": 250_003_000_000,
        # 3 MB is billed as Athena's minimum of 10 MB.
        "cost_usd": round((250e9 + 10e6) / 1e12 * 5, 6),
        "price": "USD 5 per TB scanned, 10 MB minimum per query",
    }


def test_staging_tables_are_read_by_later_queries_and_dropped(proxy: AthenaProxy) -> None:
    with _engine(proxy) as engine:
        engine.load_table("scope_roles", columns_table({"role_arn": [ROLE, "it's"]}))
        engine.load_table(
            "s3_event_actions",
            columns_table(
                {"event_name": [], "action": [], "resource": [], "condition": [], "source": []}
            ),
        )
        engine.load_table("auth_error_codes", columns_table({"error_code": ["AccessDenied"]}))
        engine.materialize("s3_calls", {**PARAMS, "all_principals": False})
        with engine.session() as session:
            session.rows("lambda_sessions", PARAMS)  # the run's events: not staged again
        engine.rows("usage")
    texts = [call["QueryString"] for call in proxy.calls("StartQueryExecution")]
    events, s3_calls = (text.split('"')[3] for text in texts[:2])
    assert s3_calls.endswith("_s3_calls") and events.endswith("_events")
    assert f"FROM security.{events} AS e" in texts[1]
    # The values go inline, quotes doubled; an empty table keeps its columns and no row.
    roles = f"(VALUES (CAST('{ROLE}' AS VARCHAR)), (CAST('it''s' AS VARCHAR))) AS s(role_arn)"
    assert roles in texts[1]
    assert "WHERE FALSE) AS m" in texts[1] and "s3_event_actions" not in texts[1]
    assert f"FROM security.{events} AS e" in texts[2]  # the session's query
    assert f"FROM security.{s3_calls} AS c" in texts[3]
    assert texts[4:] == [
        f"DROP TABLE IF EXISTS `security`.`{s3_calls}`",
        f"DROP TABLE IF EXISTS `security`.`{events}`",
    ]


def test_a_query_of_the_ingest_manifest_runs_locally(proxy: AthenaProxy) -> None:
    with _engine(proxy) as engine:
        assert engine.rows("skipped_logs", PARAMS) == []
    assert proxy.calls("StartQueryExecution") == []


def _ensure(engine: AthenaEngine, glue: Any, trail: Any, *, create: bool) -> bool:
    options = engine.options
    return ensure_table(
        glue,
        trail,
        database=options.database,
        table=options.table,
        create=create,
        run_ddl=engine.run_ddl,
    )


def _glue(moto: str) -> Any:
    glue = boto3.client("glue", region_name="us-east-1")
    setup_client(glue).create_database(DatabaseInput={"Name": "security"})
    return glue


def test_a_missing_table_is_created_only_with_consent(
    proxy: AthenaProxy, moto: str, tmp_path: Path
) -> None:
    write_tree(tmp_path / "tree")
    upload(tmp_path / "tree", "trail-bucket", "prod/")
    trail = open_source("s3://trail-bucket/prod")
    glue = _glue(moto)
    with _engine(proxy) as engine:
        with pytest.raises(ConfigError, match=r"security\.cloudtrail_logs does not exist"):
            _ensure(engine, glue, trail, create=False)
        assert proxy.calls("StartQueryExecution") == []
        assert _ensure(engine, glue, trail, create=True)
    (ddl,) = [c["QueryString"] for c in proxy.calls("StartQueryExecution")]
    assert ddl.startswith("CREATE EXTERNAL TABLE IF NOT EXISTS `security`.`cloudtrail_logs` (")
    assert "`requestparameters` STRING" in ddl and "`readonly` STRING" in ddl
    assert "LOCATION 's3://trail-bucket/prod/AWSLogs/'" in ddl
    assert "'projection.account.values'='111122223333'" in ddl
    assert "'projection.region.values'='eu-west-1,us-east-1'" in ddl
    template = "s3://trail-bucket/prod/AWSLogs/${account}/CloudTrail/${region}/${timestamp}"
    assert f"'storage.location.template'='{template}'" in ddl
    assert "'projection.timestamp.format'='yyyy/MM/dd'" in ddl


def test_a_table_that_exists_is_used_as_it_is(proxy: AthenaProxy, moto: str) -> None:
    glue = _glue(moto)
    setup_client(glue).create_table(DatabaseName="security", TableInput={"Name": "cloudtrail_logs"})
    with _engine(proxy) as engine:
        assert not _ensure(engine, glue, None, create=True)
    assert proxy.calls("StartQueryExecution") == []


def test_the_table_needs_a_database_and_one_layout(
    proxy: AthenaProxy, moto: str, tmp_path: Path
) -> None:
    glue = boto3.client("glue", region_name="us-east-1")
    with _engine(proxy) as engine:
        with pytest.raises(ConfigError, match="database 'security' does not exist"):
            _ensure(engine, glue, None, create=True)
        glue = _glue(moto)
        build_tree(tmp_path / "tree")  # an account trail beside an organization trail
        upload(tmp_path / "tree", "mixed")
        with pytest.raises(ConfigError, match="s3://mixed has folders of 2 layouts"):
            _ensure(engine, glue, open_source("s3://mixed"), create=True)
        with pytest.raises(ConfigError, match="needs the trail: --source s3://"):
            _ensure(engine, glue, open_source(str(tmp_path / "tree")), create=True)
    assert proxy.calls("StartQueryExecution") == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("database", "Security-DB", "--athena-database 'Security-DB' is not an Athena name"),
        ("output", "athena-results/x", "--athena-output 'athena-results/x' is not an S3"),
        ("max_scan_gb", 0, "--max-scan-gb must be more than 0"),
    ],
)
def test_options_a_user_gets_wrong_are_named(field: str, value: Any, message: str) -> None:
    options: dict[str, Any] = {"database": "security", "output": OUTPUT, field: value}
    with pytest.raises(ConfigError, match=message):
        AthenaOptions(**options)


def test_json_of_a_row_comes_back_by_position_or_by_name() -> None:
    """Athena writes a ROW cast to JSON as an array of its fields (or, in newer engine
    versions, an object by name); both give the struct DuckDB gives."""
    import pyarrow as pa

    kind = pa.list_(pa.struct([("action", pa.string()), ("resource", pa.string())]))
    convert = converter(kind)
    expected = [{"action": "s3:GetObject", "resource": "arn:aws:s3:::b/k"}]
    assert convert(json.dumps([["s3:GetObject", "arn:aws:s3:::b/k"]])) == expected
    assert (
        convert(json.dumps([{"resource": "arn:aws:s3:::b/k", "action": "s3:GetObject"}]))
        == expected
    )
    assert convert(None) is None
