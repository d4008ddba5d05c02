"""The used permissions as sets: the engine generalizes keys as rightsizer.prefixes does, and
the analysis placing whole groups recommends what placing every key recommends."""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from usage_events import ACCOUNT, LAMBDA_TRUST, WINDOW, object_resources, role_identity, s3_event

from rightsizer.analyze import analyze
from rightsizer.engine import as_engine
from rightsizer.generate import recommend
from rightsizer.iam.policy import parse_policy, to_dict
from rightsizer.iam.snapshot import AccountSnapshot, Role
from rightsizer.ingest import load_records
from rightsizer.mapping import load_mapping_tables
from rightsizer.prefixes import GRANULARITIES, generalize_with_fragile
from rightsizer.store import connect
from rightsizer.usage import compute_usage
from rightsizer.usedsets import EngineSets, stage_sets, staged_usage
from rightsizer.verify import replay

BASES = ("arn:aws:s3:::b1", f"arn:aws:s3:eu-west-1:{ACCOUNT}:accesspoint/ap/object")
# Names that collapse a folder and names that do not, wildcard characters IAM must see escaped,
# a digit Python's \d knows beyond ASCII, an empty name, and a trailing newline.
NAMES = st.sampled_from(
    [
        "a",
        "b",
        "data",
        "x*y",
        "q?",
        "$d",
        "2026",
        "07",
        "img.jpg",
        "f.json",
        "k=v",
        "deadbeef0123",
        "abcdefabcdef",
        "",
        "٣٤٥",
        "12\n",
        "x.123",
        "12.json",
        "deadbeef0123.gz",
        "a.b.c",
        "2026-11-01T10:00Z",
        "6f1c2b2e-1d1f-4a57-9a77-1b2c3d4e5f60",
    ]
)
KEY = st.lists(NAMES, min_size=1, max_size=4).map("/".join)


def _placed(rows: list[tuple[str, str]], granularity: str) -> dict[tuple[str, str], Any]:
    """(role, ARN) → (base, key, suffix, fragile) as the staged sets give them, over a staging
    table holding one GetObject per (role, ARN)."""
    conn = duckdb.connect()
    try:
        conn.execute(
            "CREATE TEMP TABLE s3_calls AS SELECT r.role_arn, FALSE AS denied,"
            " TIMESTAMP '2026-10-01' AS event_time, 'fn' AS function_name, 'e1' AS event_id,"
            " 's3.amazonaws.com' AS event_source, 'GetObject' AS event_name,"
            " r.arn AS auth_object_arn, NULL::VARCHAR AS auth_bucket_arn,"
            " NULL::VARCHAR AS auth_objects_base, NULL::VARCHAR AS copy_source_arn,"
            " [{'action': 's3:GetObject', 'resource': r.arn}] AS needs"
            " FROM (SELECT unnest($1) AS role_arn, unnest($2) AS arn) AS r",
            [[role for role, _ in rows], [arn for _, arn in rows]],
        )
        engine = as_engine(conn)
        load_mapping_tables(engine)
        stage_sets(engine, granularity)
        found = {}
        for role in sorted({role for role, _ in rows}):
            sets = EngineSets(engine, role)
            groups = list(sets.groups("used"))
            for group in groups:
                if group.base is None:  # no single object: the group names its resource
                    found[(role, group.resource)] = (None, None, group.suffix, group.fragile)
            for one in sets.keys("used", [g for g in groups if g.base is not None]):
                found[(role, one.resource)] = (one.base, one.key, one.suffix, one.fragile)
    finally:
        conn.close()
    return found


@settings(max_examples=60, deadline=None)
@given(
    first=st.sets(KEY, min_size=1, max_size=25),
    second=st.sets(KEY, max_size=8),
    granularity=st.sampled_from(GRANULARITIES),
)
def test_the_engine_generalizes_keys_as_prefixes_does(
    first: set[str], second: set[str], granularity: str
) -> None:
    # Keys equal to a folder name beside the keys below it ("a" and "a/b").
    first |= {key.rsplit("/", 1)[0] for key in first if "/" in key}
    trees = {("r1", BASES[0]): first, ("r1", BASES[1]): second, ("r2", BASES[0]): second}
    rows = [(role, f"{base}/{key}") for (role, base), keys in trees.items() for key in keys]
    rows += [("r1", "arn:aws:s3:::b1"), ("r1", "arn:aws:s3:::b1/*")]  # no single object: own
    got = _placed(rows, granularity)
    want: dict[tuple[str, str], Any] = {
        ("r1", "arn:aws:s3:::b1"): (None, None, "arn:aws:s3:::b1", False),
        ("r1", "arn:aws:s3:::b1/*"): (None, None, "arn:aws:s3:::b1/*", False),
    }
    for (role, base), keys in trees.items():
        suffixes, fragile = generalize_with_fragile(keys, granularity)
        for key in keys:
            want[(role, f"{base}/{key}")] = (base, key, suffixes[key], key in fragile)
    assert got == want


@pytest.mark.parametrize("name", ["12.json", "deadbeef0123.gz"])
def test_a_name_generated_only_before_its_extension_collapses_its_folder(name: str) -> None:
    """The stem counts as the name does (prefixes.looks_generated): at the root, where a
    folder of files alone does not collapse, only the stem makes the keys data."""
    keys = {name, "a/b"}
    suffixes, fragile = generalize_with_fragile(keys, "prefix")
    assert set(suffixes.values()) == {"*"} and fragile == keys
    got = _placed([("r1", f"arn:aws:s3:::b1/{key}") for key in keys], "prefix")
    assert got == {
        ("r1", f"arn:aws:s3:::b1/{key}"): ("arn:aws:s3:::b1", key, "*", True) for key in keys
    }


def test_a_companion_takes_its_objects_key_only_where_a_used_permission_names_it() -> None:
    """A companion on an object generalizes as that object's key does when one of the role's
    used permissions names the object: the one of its own call (every such companion with
    today's mapping table), or another call's; else its resource is its own target."""
    calls = [  # (event, object, what the call needed)
        ("PutObject", "in/own.json", "s3:PutObject"),  # its call needs the object too
        ("PutObject", "in/other.json", None),  # another call needs it
        ("GetObject", "in/other.json", "s3:GetObject"),
        ("PutObject", "in/none.json", None),  # no call needs it
    ]
    conn = duckdb.connect()
    try:
        conn.execute(
            "CREATE TEMP TABLE s3_calls AS SELECT 'r1' AS role_arn, FALSE AS denied,"
            " TIMESTAMP '2026-10-01' AS event_time, 'fn' AS function_name, 'e1' AS event_id,"
            " 's3.amazonaws.com' AS event_source, c.event_name,"
            " 'arn:aws:s3:::b1/' || c.key AS auth_object_arn,"
            " 'arn:aws:s3:::b1' AS auth_bucket_arn, 'arn:aws:s3:::b1' AS auth_objects_base,"
            " NULL::VARCHAR AS copy_source_arn,"
            " CASE WHEN c.action IS NULL THEN [] ELSE"
            " [{'action': c.action, 'resource': 'arn:aws:s3:::b1/' || c.key}] END AS needs"
            " FROM (SELECT unnest($1) AS event_name, unnest($2) AS key, unnest($3) AS action) c",
            [list(column) for column in zip(*calls, strict=True)],
        )
        engine = as_engine(conn)
        load_mapping_tables(engine)
        engine.materialize("role_perms")
        companions = conn.execute(
            "SELECT resource_arn, object_key, folder FROM role_perms"
            " WHERE kind = 'companion' AND action = 's3:PutObjectTagging' ORDER BY 1"
        ).fetchall()
    finally:
        conn.close()
    assert companions == [
        ("arn:aws:s3:::b1/in/none.json", None, None),
        ("arn:aws:s3:::b1/in/other.json", "in/other.json", "in"),
        ("arn:aws:s3:::b1/in/own.json", "in/own.json", "in"),
    ]


def test_a_folder_of_many_keys_is_one_group(tmp_path: Path) -> None:
    keys = [f"incoming/2026/10/0{1 + i % 9}/{uuid.UUID(int=i)}.json" for i in range(60)]
    conn = connect(tmp_path / "store.duckdb")
    try:
        load_records(conn, [_get(key) for key in keys])
        with staged_usage(
            conn, WINDOW, lambda_roles={_ROLE: ("fn",)}, selectors=None, granularity="prefix"
        ) as staged:
            groups = list(staged.sets(_ROLE).groups("used"))
            held = staged.report.roles[_ROLE].used
            checked = sum(batch.num_rows for batch in staged.sets(_ROLE).needs())
    finally:
        conn.close()
    assert held == ()  # no object per key: the keys stay in the engine
    assert [(g.target, g.keys, g.count) for g in groups] == [("arn:aws:s3:::b1/incoming/*", 60, 60)]
    assert checked == 60  # and the replay still sees every one


_ROLE = f"arn:aws:iam::{ACCOUNT}:role/fn-role"
_SEGMENTS = ["a", "b", "logs", "x*y", "q?", "$d", "2026", "07", "img.jpg", "k=v", "deadbeef0123"]
_ACTIONS = [("GetObject", True), ("PutObject", False), ("DeleteObject", False)]


def _get(key: str, name: str = "GetObject", role: str = _ROLE, when: int = 10) -> dict[str, Any]:
    return s3_event(
        name,
        {"bucketName": "b1", "key": key},
        resources=object_resources("b1", key),
        identity=role_identity(role, role.rsplit("/", 1)[-1].removesuffix("-role")),
        when=f"2026-10-{when:02d}T12:00:00Z",
        read_only=name == "GetObject",
    )


def _statements(rng: random.Random) -> list[dict[str, Any]]:
    """Today's policy: a wide, narrow, NotResource or conditional grant, exact keys, a Deny."""
    actions = rng.sample(
        ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:PutObjectTagging"],
        rng.randint(1, 4),
    )
    folder = rng.choice(_SEGMENTS)
    grant: dict[str, Any] = rng.choice(
        [
            {"Resource": "arn:aws:s3:::b1/*"},
            {
                "Resource": [
                    "arn:aws:s3:::b1/a/*",
                    f"arn:aws:s3:::b1/{folder}/*",
                    "arn:aws:s3:::b1/2",
                ]
            },
            {"NotResource": f"arn:aws:s3:::b1/{folder}/*"},
            {
                "Resource": "arn:aws:s3:::b1/*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
            },
        ]
    )
    statements = [{"Effect": "Allow", "Action": actions, **grant}]
    if rng.random() < 0.5:
        statements.append(
            {"Effect": "Allow", "Action": rng.choice(actions), "Resource": "arn:aws:s3:::b1/a/b"}
        )
    if rng.random() < 0.5:
        statements.append(
            {
                "Effect": "Deny",
                "Action": rng.choice([*actions, "s3:*"]),
                "Resource": f"arn:aws:s3:::b1/{rng.choice(_SEGMENTS)}/*",
            }
        )
    return statements


def test_placing_groups_recommends_what_placing_every_key_does(tmp_path: Path) -> None:
    for seed in range(12):
        rng = random.Random(seed)
        records, roles = [], {}
        for number in range(2):
            arn = f"arn:aws:iam::{ACCOUNT}:role/fn{number}-role"
            keys = {
                "/".join(rng.choice(_SEGMENTS) for _ in range(rng.randint(1, 3)))
                for _ in range(rng.randint(1, 30))
            }
            keys |= {f"data/{uuid.UUID(int=rng.getrandbits(128))}.json" for _ in range(9)}
            for key in sorted(keys):
                name = rng.choice(_ACTIONS)[0]
                records.append(_get(key, name, arn, rng.randint(1, 28)))
            policy = parse_policy({"Version": "2012-10-17", "Statement": _statements(rng)})
            roles[arn] = Role(
                arn=arn,
                name=arn.rsplit("/", 1)[-1],
                inline_policies={"p": policy},
                functions=(f"fn{number}",),
                trust_policy=parse_policy(LAMBDA_TRUST),
            )
        conn = connect(tmp_path / f"store{seed}.duckdb")
        try:
            load_records(conn, records)
            scope = {arn: role.functions for arn, role in roles.items()}
            usage = compute_usage(conn, WINDOW, lambda_roles=scope)
            for granularity in GRANULARITIES:
                analysis = analyze(conn, WINDOW, AccountSnapshot(roles), granularity=granularity)
                for found in analysis.data["roles"]:
                    role, role_usage = roles[found["role_arn"]], usage.roles[found["role_arn"]]
                    keywise = recommend(role, role_usage, usage.coverage, granularity=granularity)
                    check = replay(keywise.policy, role.policies, role_usage.used)
                    assert found["recommended_policy"] == to_dict(keywise.policy), seed
                    assert found["not_granted_by_identity_policy"] == keywise.not_granted
                    # The analysis adds its own findings after the recommendation's.
                    codes = [w["code"] for w in found["warnings"]]
                    assert codes[: len(keywise.warnings)] == [w["code"] for w in keywise.warnings]
                    assert found["replay"]["permissions"] == check.permissions
                    assert found["replay"]["not_granted_today"] == check.not_granted_today
        finally:
            conn.close()
