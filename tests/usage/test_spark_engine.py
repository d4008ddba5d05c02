"""The Spark engine's own reading: only the window's day folders (organization trails too),
every unreadable file a skipped file with its reason, and what it read as the ingest block.

The engine contract and the queries are tested with the other engines in test_engine.py.
"""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path
from typing import Any

import pytest
from trail_logs import ORG, WINDOW, log_key, make_record, write_file, write_log

from rightsizer.sources import open_source
from rightsizer.usage import window_params

pytestmark = pytest.mark.usefixtures("spark")
PARAMS = window_params(WINDOW)
UNOPENED = "Spark could not read it: not gzip, or truncated or corrupt gzip"
NOT_JSON = "Spark could not parse it: invalid JSON, or a field of the wrong type"


def _engine(tree: Path) -> Any:
    from pyspark.sql import SparkSession

    from rightsizer.engine.spark import read_logs

    source = open_source(str(tree))
    listing = source.list_files(WINDOW)
    source.close()
    spark = SparkSession.getActiveSession()
    assert spark is not None
    return read_logs(spark, str(tree), WINDOW, listing)


def test_only_the_window_s_day_folders_are_read_organization_trails_included(
    tmp_path: Path,
) -> None:
    day = dt.datetime(2026, 10, 2, 10)
    write_log(tmp_path, log_key(day), [make_record("plain", day)])
    write_log(tmp_path, log_key(day, org=ORG, unique="Org0123456789ab"), [make_record("org", day)])
    # Delivered a week after the window (and its day of late delivery): never listed.
    late = dt.datetime(2026, 10, 12, 10)
    write_log(tmp_path, log_key(late, unique="Late0123456789a"), [make_record("late", late)])
    with _engine(tmp_path) as engine:
        ids = {row[0] for row in engine.spark.sql("SELECT event_id FROM events").collect()}
        summary = engine.ingest_summary()
    assert ids == {"plain", "org"}
    assert summary["files_listed"] == summary["files_read"] == 2
    assert summary["engine"] == "spark" and summary["events_added"] == 0


def test_a_file_spark_cannot_read_is_a_skipped_file_with_its_reason(tmp_path: Path) -> None:
    day = dt.datetime(2026, 10, 2, 10)
    good = log_key(day, unique="Good0123456789a")
    write_log(tmp_path, good, [make_record("a", day), make_record("a", day), {"eventTime": "x"}])
    bodies = {
        "Empty0123456789": b"",
        "NoGzip123456789": b"not gzip at all",
        "Trunc0123456789": gzip.compress(b'{"Records": []}' * 50)[:20],
        "NoJson123456789": gzip.compress(b'{"Records": ['),
        "NoRecs123456789": gzip.compress(b'{"Other": 1}'),
        "BadType12345678": gzip.compress(b'{"Records": [{"eventID": "b", "resources": 7}]}'),
    }
    keys = {unique: log_key(day, unique=unique) for unique in bodies}
    for unique, body in bodies.items():
        write_file(tmp_path, keys[unique], body)
    with _engine(tmp_path) as engine:
        skipped = {key: reason for key, reason, *_ in engine.rows("skipped_logs", PARAMS)}
        totals = engine.rows("store_totals")
        summary = engine.ingest_summary()
    assert skipped == {
        keys["Empty0123456789"]: "empty file",
        keys["NoGzip123456789"]: UNOPENED,
        keys["Trunc0123456789"]: UNOPENED,
        keys["NoJson123456789"]: NOT_JSON,
        keys["NoRecs123456789"]: "no Records list at the top level",
        keys["BadType12345678"]: NOT_JSON,
    }
    assert totals == [(1, 1, 6)]  # one file read, one event, six skipped
    assert sorted(f["key"] for f in summary["skipped_files"]) == sorted(keys.values())
    # Three records: one event, its second copy, and one without an eventID.
    assert (summary["records"], summary["duplicates"], summary["bad_records"]) == (3, 1, 1)
