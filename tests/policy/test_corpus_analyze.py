"""Every record of the real-world corpus is ingested and analyzed without a crash.

The snapshot makes every role that issued an assumed-role session in the corpus a Lambda role
holding `s3:*` on everything, so each S3 call of the corpus is a use to right-size, and the
replay inside `analyze` checks every recommendation against those calls.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS_DIR
from usage_events import LAMBDA_TRUST

from rightsizer.analyze import analyze
from rightsizer.iam.arn import parse_arn
from rightsizer.iam.policy import is_allowed, parse_policy
from rightsizer.iam.snapshot import AccountSnapshot, Role
from rightsizer.ingest import load_records
from rightsizer.render import render_markdown, to_json, write_outputs
from rightsizer.store import connect
from rightsizer.window import Window

pytestmark = pytest.mark.corpus

CORPUS_FILES = sorted(CORPUS_DIR.glob("*.json"))
S3_EVERYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


def is_role_arn(text: str) -> bool:
    arn = parse_arn(text)
    return arn is not None and arn.service == "iam" and arn.resource.startswith("role/")


def lambda_role(arn: str) -> Role:
    return Role(
        arn=arn,
        name=arn.rsplit("/", 1)[-1],
        trust_policy=parse_policy(LAMBDA_TRUST),
        inline_policies={"s3-everything": parse_policy(S3_EVERYTHING)},
    )


@pytest.fixture(scope="module")
def corpus_analysis(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    db = tmp_path_factory.mktemp("corpus") / "corpus.duckdb"
    conn = connect(db)
    added = 0
    for path in CORPUS_FILES:
        records = json.loads(path.read_bytes())["Records"]
        added += load_records(conn, records, source_key=path.name)
    ((first, last),) = conn.execute(
        "SELECT min(event_time), max(event_time) FROM events"
    ).fetchall()
    issuers = [
        arn
        for (arn,) in conn.execute(
            "SELECT DISTINCT role_arn FROM events "
            "WHERE principal_type = 'AssumedRole' AND role_arn IS NOT NULL ORDER BY 1"
        ).fetchall()
    ]
    # An IAM snapshot only ever lists real role ARNs; a redacted issuer ("...") stays in the
    # logs only, where the analysis must still cope with it.
    roles = [arn for arn in issuers if is_role_arn(arn)]
    snapshot = AccountSnapshot(roles={arn: lambda_role(arn) for arn in roles})
    window = Window(first, last + dt.timedelta(seconds=1))
    result = analyze(conn, window, snapshot)
    s3_calls = conn.execute(
        "SELECT count(*) FROM events WHERE event_source = 's3.amazonaws.com' "
        "AND principal_type = 'AssumedRole' AND error_code IS NULL"
    ).fetchall()[0][0]
    conn.close()
    return {
        "added": added,
        "roles": roles,
        "not_roles": [arn for arn in issuers if not is_role_arn(arn)],
        "s3_calls": s3_calls,
        "result": result,
        "window": window,
    }


def test_the_corpus_is_ingested(corpus_analysis: dict[str, Any]) -> None:
    assert len(CORPUS_FILES) >= 20
    assert corpus_analysis["added"] > 500
    assert len(corpus_analysis["roles"]) >= 10  # plenty of assumed-role sessions to analyze
    assert len(corpus_analysis["not_roles"]) <= 2  # redacted examples, not real issuers
    assert corpus_analysis["s3_calls"] > 0


def test_every_role_is_analyzed_and_no_recommendation_is_refused(
    corpus_analysis: dict[str, Any],
) -> None:
    result = corpus_analysis["result"]
    assert result.refused == ()
    analyzed = {role["role_arn"] for role in result.data["roles"]}
    assert analyzed >= set(corpus_analysis["roles"])
    for role in result.data["roles"]:
        codes = [w["code"] for w in role["warnings"]]
        assert "verification-failed" not in codes, (role["role_arn"], role["warnings"])
        if role["role_arn"] in corpus_analysis["roles"]:
            assert role["recommended_policy"] is not None


def test_every_used_permission_is_granted_by_the_recommendation(
    corpus_analysis: dict[str, Any],
) -> None:
    used = 0
    for role in corpus_analysis["result"].data["roles"]:
        if role["recommended_policy"] is None:
            continue
        policy = parse_policy(role["recommended_policy"])
        for row in role["used"]:
            used += 1
            assert is_allowed(policy, row["action"], row["resource"]), (role["role_arn"], row)
    assert used > 0  # the corpus holds S3 calls of these roles


def test_the_analysis_renders_and_writes(corpus_analysis: dict[str, Any], tmp_path: Path) -> None:
    data = corpus_analysis["result"].data
    assert json.loads(to_json(data))["roles"]
    assert "# S3 right-sizing" in render_markdown(data)
    out = tmp_path / "out"
    written = write_outputs(data, out)
    assert all(path.resolve().parent == out.resolve() for path in written)
    assert len({path.name for path in written}) == len(written)
