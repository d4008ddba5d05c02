"""The mapping over real CloudTrail records written by others: every S3 call maps or is reported.

Every principal is in scope here (users, EC2 roles, ...): the point is the mapping, not the
Lambda filter. Each record gets its own eventID and, when its time is missing or unreadable, a
time inside the window: many published samples reuse IDs or lost their eventTime on the way,
and neither should hide a record from the mapping check.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
from conftest import CORPUS_DIR

from rightsizer.engine import as_engine
from rightsizer.ingest import load_records
from rightsizer.records import parse_event_time
from rightsizer.store import connect
from rightsizer.usage import stage_s3_calls
from rightsizer.window import Window

pytestmark = pytest.mark.corpus

WINDOW = Window(dt.datetime(1990, 1, 1), dt.datetime(2100, 1, 1))
S3_FAMILY = {
    "s3.amazonaws.com",
    "s3express.amazonaws.com",
    "s3-outposts.amazonaws.com",
    "s3tables.amazonaws.com",
}

# The calls the table cannot map today, by (source, eventName, reason): this list may only shrink.
EXPECTED_UNMAPPED = {
    # Hand-written detection-rule samples under the s3 event source.
    ("s3.amazonaws.com", "CreateServiceLinkedRole", "no_mapping"): 1,
    ("s3.amazonaws.com", "ListBucket", "no_mapping"): 1,
    ("s3.amazonaws.com", "SetQueueAttributes", "no_mapping"): 1,
    # Trimmed samples: no bucket or key logged (CopyObject: no x-amz-copy-source), or no ARN
    # anywhere in the record to take the partition from.
    ("s3.amazonaws.com", "CopyObject", "no_resource"): 2,
    ("s3.amazonaws.com", "DeleteObject", "no_resource"): 1,
    ("s3.amazonaws.com", "GetObject", "no_resource"): 6,
    ("s3.amazonaws.com", "PutBucketAcl", "no_resource"): 1,
    ("s3.amazonaws.com", "PutBucketPolicy", "no_resource"): 4,
    ("s3.amazonaws.com", "PutBucketPublicAccessBlock", "no_resource"): 2,
    ("s3.amazonaws.com", "PutObject", "no_resource"): 1,
    # Other S3 services are reported, never mapped to s3: actions.
    ("s3-outposts.amazonaws.com", "PutObject", "other_s3_service"): 1,
    ("s3express.amazonaws.com", "ListDirectoryBuckets", "other_s3_service"): 1,
}


def _corpus_records() -> Iterator[dict[str, Any]]:
    for path in sorted(CORPUS_DIR.glob("*.json")):
        records = json.loads(path.read_text(encoding="utf-8"))["Records"]
        for index, record in enumerate(records):
            if isinstance(record, dict):
                when = record.get("eventTime")
                readable = isinstance(when, str) and parse_event_time(when) is not None
                yield record | {
                    "eventID": f"{path.stem}#{index}",
                    "eventTime": when if readable else "2020-01-01T00:00:00Z",
                }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = connect(tmp_path_factory.mktemp("corpus") / "corpus.duckdb")
    load_records(conn, list(_corpus_records()))
    stage_s3_calls(conn, WINDOW, roles=None)
    yield conn
    conn.close()


def test_every_s3_api_call_of_the_corpus_is_staged(corpus: duckdb.DuckDBPyConnection) -> None:
    staged = {row[0] for row in corpus.execute("SELECT event_id FROM s3_calls").fetchall()}
    calls, not_calls = set(), set()
    for event_id, event_type in corpus.execute(
        "SELECT event_id, event_type FROM events WHERE event_source IN (SELECT unnest($s))",
        {"s": sorted(S3_FAMILY)},
    ).fetchall():
        is_call = event_type in (None, "AwsApiCall")
        (calls if is_call else not_calls).add(event_id)
    assert len(calls) > 100
    assert staged == calls
    # Service events and VPC-endpoint network activity are not calls a policy authorizes.
    assert len(not_calls) == 9


def test_every_s3_call_maps_or_is_reported_unmapped(corpus: duckdb.DuckDBPyConnection) -> None:
    unmapped = {(row[0], row[1], row[2]): row[3] for row in as_engine(corpus).rows("unmapped", {})}
    assert unmapped == EXPECTED_UNMAPPED
    mapped = corpus.execute(
        "SELECT count(*) FROM s3_calls WHERE status = 'mapped' AND len(needs) = 0"
    ).fetchall()
    assert mapped == [(0,)], "a mapped call needs at least one action"


def test_the_corpus_needs_the_actions_the_facts_sheet_names(
    corpus: duckdb.DuckDBPyConnection,
) -> None:
    pairs = {
        (event_name, need["action"], need["resource"])
        for event_name, needs in corpus.execute(
            "SELECT event_name, needs FROM s3_calls WHERE status = 'mapped'"
        ).fetchall()
        for need in needs
    }
    bucket = "arn:aws:s3:::mordors3stack-s3bucket-llp2yingx64a"
    # aws s3 ls (list-type 2) and a download by an EC2 role, from a real attack simulation.
    assert ("ListObjects", "s3:ListBucket", bucket) in pairs
    assert ("GetObject", "s3:GetObject", f"{bucket}/ring.txt") in pairs
    assert ("ListBuckets", "s3:ListAllMyBuckets", "*") in pairs
    # A real CopyObject: read the source object, write the destination.
    elastic = "arn:aws:s3:::elastic-cspm-cloudtrail-test-bucket/test-copy-object"
    assert ("CopyObject", "s3:GetObject", f"{elastic}/README.md") in pairs
    assert ("CopyObject", "s3:PutObject", f"{elastic}/README-copy.md") in pairs
    assert ("DeleteBucketReplication", "s3:PutReplicationConfiguration") in {
        (name, action) for name, action, _ in pairs
    }


def test_denied_corpus_calls_are_not_usage(corpus: duckdb.DuckDBPyConnection) -> None:
    def pairs(denied: bool) -> set[tuple[str, str, str]]:
        rows = corpus.execute(
            "SELECT c.role_arn, u.n.action, u.n.resource FROM s3_calls AS c, "
            "unnest(c.needs) AS u(n) WHERE c.denied = $denied",
            {"denied": denied},
        ).fetchall()
        return set(rows)

    only_denied = pairs(True) - pairs(False)
    assert only_denied, "the corpus holds AccessDenied S3 calls"
    used = [row[:3] for row in as_engine(corpus).rows("usage", {})]
    assert not only_denied & {tuple(row) for row in used}
