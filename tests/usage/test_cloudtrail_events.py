"""queries/cloudtrail_events.sql: Athena's CloudTrail table gives the rows ingest stores.

The same records go both ways: through ingest into the store, and into a DuckDB table shaped
like Athena's (tests/athena_tables.py) that the query normalizes. Every `events` column must
agree, and the query's result must have the store's column types. Athena's table has no
ARNPrefix in resources, so the stored `arn_prefix` is cleared before comparing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
from athena_tables import load_raw, records_document
from trail_logs import make_record
from usage_events import kms_event, object_resources, role_identity, s3_event

from rightsizer import synth
from rightsizer.analyze import analyze, load_snapshot
from rightsizer.engine import DuckDBEngine, prepare
from rightsizer.ingest import ingest, load_records
from rightsizer.records import EVENT_SCHEMA
from rightsizer.sources import open_source
from rightsizer.store import connect
from rightsizer.window import Window

DAY = "2026/10/10"
EVENT_COLUMNS = "SELECT * EXCLUDE (event_key) FROM events"


def _days(window: Window) -> dict[str, str]:
    days = window.delivery_days()
    return {"first_day": f"{days[0]:%Y/%m/%d}", "last_day": f"{days[-1]:%Y/%m/%d}"}


def _normalized(conn: duckdb.DuckDBPyConnection, params: dict[str, str]) -> None:
    """`athena_events`: the query's rows from `cloudtrail_raw`, as a table."""
    DuckDBEngine(conn).materialize("cloudtrail_events", params)
    conn.execute("CREATE OR REPLACE TABLE athena_events AS SELECT * FROM cloudtrail_events")


def _column_differences(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per `events` column, how many events differ between the store and the query."""
    stored = conn.sql(EVENT_COLUMNS).columns
    assert conn.sql("SELECT * FROM athena_events").columns == stored
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE stored AS SELECT * REPLACE ("
        " list_transform(resources, lambda r: struct_update(r, arn_prefix := NULL::VARCHAR))"
        " AS resources) FROM events"
    )
    differences = {}
    for column in stored:
        (count,) = conn.execute(
            f"SELECT count(*) FROM stored AS s FULL JOIN athena_events AS a USING (event_id)"
            f' WHERE s."{column}" IS DISTINCT FROM a."{column}"'
            f" OR s.event_id IS NULL OR a.event_id IS NULL"
        ).fetchone() or (0,)
        if count:
            differences[column] = count
    return differences


def _types(conn: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in conn.execute(f"DESCRIBE {relation}").fetchall()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[synth.SynthDataset, Path]:
    """The demo's week of logs (duplicates, late and early records, Insight file) ingested."""
    dataset = synth.generate(tmp_path_factory.mktemp("synth"), days=7)
    db = tmp_path_factory.mktemp("db") / "r.duckdb"
    window = Window.ending(dataset.until, dataset.days)
    with connect(db) as conn:
        ingest(conn, open_source(str(dataset.logs)), window, workers=1)
    return dataset, db


def test_the_demo_logs_give_the_stored_events_column_by_column(
    demo: tuple[synth.SynthDataset, Path],
) -> None:
    dataset, db = demo
    window = Window.ending(dataset.until, dataset.days)
    with connect(db) as conn:
        keys = [
            key for (key,) in conn.execute("SELECT source_key FROM files ORDER BY 1").fetchall()
        ]
        files = [(key, (dataset.logs / key).read_bytes()) for key in keys]
        assert load_raw(conn, files) > conn.execute("SELECT count(*) FROM events").fetchone()[0]
        _normalized(conn, _days(window))
        assert _column_differences(conn) == {}
        assert _types(conn, "athena_events") == _types(conn, EVENT_COLUMNS)
        (events,) = conn.execute("SELECT count(*) FROM athena_events").fetchone() or (0,)
    assert events >= dataset.events_in_window > 4_000


def _record(event_id: str, **fields: Any) -> dict[str, Any]:
    """trail_logs' data event with managementEvent, which CloudTrail writes with eventCategory
    (Athena's table has no managementEvent: the query derives it from eventcategory)."""
    return make_record(
        event_id, dt.datetime(2026, 10, 10, 12), **{"managementEvent": False, **fields}
    )


def _scenario_records() -> list[dict[str, Any]]:
    """The usage tests' kinds of records, and the edge cases of ingest's rules."""
    other = role_identity("arn:aws:iam::111122223333:role/jobs/batch-role", "batch")
    user = {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLE",
        "arn": "arn:aws:iam::111122223333:user/alice",
        "accountId": "111122223333",
    }
    service = {"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}
    federated = {
        "type": "AssumedRole",
        "principalId": "AROAFED:alice@example.com",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::1:role/f"}},
    }
    not_a_role = {**role_identity(), "sessionContext": {"sessionIssuer": {"type": "User"}}}
    records = [
        s3_event(
            "GetObject",
            {"bucketName": "photos", "key": "a.jpg"},
            resources=object_resources("photos", "a.jpg"),
        ),
        s3_event(
            "ListObjects",
            {"bucketName": "raw", "prefix": "in/"},
            resources=[{"type": "AWS::S3::Object", "ARNPrefix": "arn:aws:s3:::raw/in/"}],
        ),
        s3_event(
            "PutObject",
            {"bucketName": "out", "key": "b", "x-amz-acl": "private"},
            identity=other,
            read_only=False,
            error_code="AccessDenied",
        ),
        s3_event("ListBuckets", None, category="Management", identity=user),
        s3_event(
            "GetBucketLocation",
            {"bucketName": "photos"},
            category="Management",
            identity=service,
            sharedEventID="shared-1",
            recipient="444455556666",
        ),
        s3_event("HeadObject", {"bucketName": "p", "key": "k"}, identity=federated),
        s3_event("HeadObject", {"bucketName": "p", "key": "k"}, identity=not_a_role),
        kms_event("Decrypt", "arn:aws:s3:::photos/a.jpg"),
        _record("strings", readOnly="TRUE ", managementEvent="false"),
        _record("no-flags", readOnly="maybe", eventCategory=None, managementEvent=None),
        _record("no-resources", resources=None, requestParameters=None),
        _record("empty-resources", resources=[]),
        _record("json-null", requestParameters=None, additionalEventData={"x": 1}),
        # Times ingest reads: offsets, fractions, a space, no zone; and ones it refuses.
        _record("offset", eventTime="2026-10-10T14:30:00+02:30"),
        _record("offset-west", eventTime="2026-10-10T07:00:00-0500"),
        _record("fraction", eventTime="2026-10-10T12:00:00.1234567Z"),
        _record("comma", eventTime=" 2026-10-10 12:00:00,5 "),
        _record("no-zone", eventTime="2026-10-10T12:00:00"),
        _record("feb-30", eventTime="2026-02-30T12:00:00Z"),
        _record("hour-24", eventTime="2026-10-10T24:00:00Z"),
        _record("year-0", eventTime="0000-10-10T12:00:00Z"),
        _record("garbage", eventTime="yesterday"),
        _record("no-time", eventTime=None),
        _record(""),
        _record("insight", eventType="AwsCloudTrailInsight"),
        # The same eventID twice in one file (CloudTrail's copies are alike): kept once.
        _record("twice", eventName="GetObject"),
        _record("twice", eventName="GetObject"),
        # A bad time does not take the good copy's place.
        _record("late-good", eventTime="never"),
        _record("late-good"),
    ]
    records.append({k: v for k, v in _record("no-id").items() if k != "eventID"})
    return records


def test_the_scenarios_and_ingest_rules_give_the_stored_events(tmp_path: Path) -> None:
    records = _scenario_records()
    with connect(tmp_path / "t.duckdb") as conn:
        added = load_records(conn, records)
        load_raw(
            conn,
            [
                (
                    f"AWSLogs/111122223333/CloudTrail/us-east-1/{DAY}/f.json.gz",
                    records_document(records),
                )
            ],
        )
        conn.execute(
            "UPDATE events SET source_file = 'AWSLogs/111122223333/CloudTrail/"
            f"us-east-1/{DAY}/f.json.gz'"
        )
        _normalized(conn, {"first_day": DAY, "last_day": DAY})
        assert _column_differences(conn) == {}
        assert conn.execute("SELECT count(*) FROM athena_events").fetchone() == (added,)
        times = dict(
            conn.execute(
                "SELECT event_id, event_time FROM athena_events WHERE event_id IN "
                "('offset', 'offset-west', 'fraction', 'comma')"
            ).fetchall()
        )
    assert times == {
        "offset": dt.datetime(2026, 10, 10, 12, 0),
        "offset-west": dt.datetime(2026, 10, 10, 12, 0),
        "fraction": dt.datetime(2026, 10, 10, 12, 0, 0, 123456),
        "comma": dt.datetime(2026, 10, 10, 12, 0, 0, 500000),
    }


def test_only_the_window_day_folders_are_read(tmp_path: Path) -> None:
    record = make_record("e1", dt.datetime(2026, 10, 10, 12))
    with connect(tmp_path / "t.duckdb") as conn:
        load_raw(
            conn,
            [
                (f"AWSLogs/1/CloudTrail/us-east-1/{day}/f.json.gz", records_document([record]))
                for day in ("2026/10/09", "2026/10/10", "2026/10/12")
            ],
        )
        _normalized(conn, {"first_day": "2026/10/10", "last_day": "2026/10/11"})
        rows = conn.execute("SELECT event_id, source_file FROM athena_events").fetchall()
    assert rows == [("e1", "AWSLogs/1/CloudTrail/us-east-1/2026/10/10/f.json.gz")]


@pytest.mark.parametrize("dialect", ["trino", "athena", "spark"])
def test_the_query_transpiles_with_its_parameters_bound(dialect: str) -> None:
    prepared = prepare("cloudtrail_events", {"first_day": DAY, "last_day": DAY}, dialect)
    statement = sqlglot.parse_one(prepared.text, read=dialect)
    assert isinstance(statement, sqlglot.exp.Select)
    assert statement.named_selects == EVENT_SCHEMA.names
    # JSON stays text: a cast of text to JSON would be one JSON string in Trino.
    assert "AS JSON" not in prepared.text.upper() and "TO_JSON" not in prepared.text.upper()
    if dialect == "spark":
        assert prepared.args == {"first_day": DAY, "last_day": DAY}
    else:
        assert prepared.args == [DAY, DAY]


def test_the_athena_shaped_logs_give_the_native_analysis(
    demo: tuple[synth.SynthDataset, Path], tmp_path: Path
) -> None:
    """The demo's week through Athena's table and cloudtrail_events.sql, analyzed on DuckDB,
    gives the roles, policies, coverage and findings the ingested store gives."""
    dataset, native_db = demo
    window = Window.ending(dataset.until, dataset.days)
    snapshot = load_snapshot(str(dataset.iam_details), str(dataset.lambda_functions))
    with connect(native_db) as conn:
        keys = [
            key for (key,) in conn.execute("SELECT source_key FROM files ORDER BY 1").fetchall()
        ]
        native = analyze(conn, window, snapshot).to_json()
    with connect(tmp_path / "athena.duckdb") as conn:
        load_raw(conn, [(key, (dataset.logs / key).read_bytes()) for key in keys])
        DuckDBEngine(conn).materialize("cloudtrail_events", _days(window))
        conn.execute(
            "INSERT INTO events BY NAME"
            " SELECT *, hash(event_id) AS event_key FROM cloudtrail_events"
        )
        shaped = analyze(conn, window, snapshot).to_json()
    assert native["roles"] and any(role["recommended_policy"] for role in native["roles"])
    # The store block counts the ingest's files, which the Athena path has none of.
    assert {k: v for k, v in shaped.items() if k != "store"} == {
        k: v for k, v in native.items() if k != "store"
    }
