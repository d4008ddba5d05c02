"""Object keys generalized into prefixes: dates, UUIDs, numbers and many siblings collapse."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rightsizer.iam.containment import within
from rightsizer.iam.matching import escape_resource
from rightsizer.iam.policy import resource_matches
from rightsizer.prefixes import (
    coarsen,
    folders_below,
    fragile_keys,
    generalize,
    generalize_with_fragile,
    looks_generated,
)


def test_dated_folders_collapse_to_the_stable_prefix() -> None:
    keys = [
        "incoming/2026/11/01/6f1c2b2e-1d1f-4a57-9a77-1b2c3d4e5f60.jpg",
        "incoming/2026/11/02/0a1b2c3d-1d1f-4a57-9a77-1b2c3d4e5f60.jpg",
    ]
    assert set(generalize(keys).values()) == {"incoming/*"}


def test_files_in_a_folder_become_the_folder() -> None:
    assert generalize(["app/settings.json"]) == {"app/settings.json": "app/*"}
    mapping = generalize(["app/settings.json", "other/x/readme.md"])
    assert mapping == {"app/settings.json": "app/*", "other/x/readme.md": "other/x/*"}


def test_root_files_stay_exact_until_there_are_many() -> None:
    assert generalize(["keys.txt"]) == {"keys.txt": "keys.txt"}
    many = [f"file{c}.txt" for c in "abcdefgh"]
    assert set(generalize(many).values()) == {"*"}


def test_separate_structure_is_kept_apart() -> None:
    mapping = generalize(["thumbs/a.jpg", "raw/b.jpg"])
    assert mapping == {"thumbs/a.jpg": "thumbs/*", "raw/b.jpg": "raw/*"}


def test_granularity_object_and_bucket() -> None:
    assert generalize(["a/b*c"], "object") == {"a/b*c": "a/b${*}c"}
    assert generalize(["a/b", "c"], "bucket") == {"a/b": "*", "c": "*"}


def test_wildcard_characters_in_keys_are_escaped() -> None:
    assert generalize(["we*rd/x.txt"]) == {"we*rd/x.txt": "we${*}rd/*"}


def test_generated_names() -> None:
    for name in [
        "2026",
        "11",
        "2026-11-01",
        "6f1c2b2e-1d1f-4a57-9a77-1b2c3d4e5f60",
        "dt=2026",
        "a3f9c2d81b7e4f60",
        "12345.csv",
    ]:
        assert looks_generated(name), name
    for name in ["incoming", "thumbs", "settings.json", "final"]:
        assert not looks_generated(name), name


def test_coarsen_walks_up_to_the_bucket() -> None:
    assert coarsen("a/b/key") == "a/b/*"
    assert coarsen("a/b/*") == "a/*"
    assert coarsen("a/*") == "*"
    assert coarsen("key") == "*"


def test_keys_under_data_named_folders_are_fragile() -> None:
    tenants = [f"data/tenant-{t}/inbox/msg.json" for t in range(8)]  # many siblings
    dated = ["logs/2026/11/01/run.txt"]  # generated names
    files = ["app/settings.json", "app/features.json", "keys.txt"]  # structure
    assert fragile_keys([*tenants, *dated, *files]) == {*tenants, *dated}


def test_folders_below_a_prefix_widest_first() -> None:
    assert folders_below("a/*", "a/b/c/key") == ["a/b/*", "a/b/c/*"]
    assert folders_below("*", "a/key") == ["a/*"]
    assert folders_below("a/*", "a/key") == []
    assert folders_below("a/key", "a/key") == []  # an exact key has nothing below it
    assert folders_below("ab/*", "a/b/key") == []
    assert folders_below("w${*}/*", "w${*}/x/k") == ["w${*}/x/*"]


keys_strategy = st.lists(
    st.lists(st.text("ab1-*?$.", min_size=1, max_size=4), min_size=1, max_size=4).map("/".join),
    min_size=1,
    max_size=20,
)


@given(keys_strategy, st.sampled_from(["object", "prefix", "bucket"]))
def test_every_key_is_covered_by_its_pattern(keys: list[str], granularity: str) -> None:
    mapping = generalize(keys, granularity)
    assert set(mapping) == set(keys)
    for key, suffix in mapping.items():
        arn = f"arn:aws:s3:::bucket/{key}"
        assert resource_matches(f"arn:aws:s3:::bucket/{suffix}", arn)
        assert resource_matches(f"arn:aws:s3:::bucket/{coarsen(suffix)}", arn)


@given(keys_strategy)
def test_folders_below_lie_between_the_prefix_and_the_key(keys: list[str]) -> None:
    for key, suffix in generalize(keys).items():
        arn = f"arn:aws:s3:::bucket/{key}"
        for folder in folders_below(suffix, escape_resource(key)):
            pattern = f"arn:aws:s3:::bucket/{folder}"
            assert resource_matches(pattern, arn) and within(
                pattern, f"arn:aws:s3:::bucket/{suffix}"
            )


@given(keys_strategy, st.sampled_from(["object", "prefix", "bucket"]))
def test_one_walk_gives_what_generalize_and_fragile_keys_give(
    keys: list[str], granularity: str
) -> None:
    mapping, fragile = generalize_with_fragile(keys, granularity)
    assert mapping == generalize(keys, granularity)
    # Exact keys were asked at "object": none is fragile there.
    assert fragile == (frozenset() if granularity == "object" else fragile_keys(keys))
