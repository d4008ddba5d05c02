"""Generalize the object keys a role used into the object prefixes a policy grants.

The keys of one bucket form a tree of `/`-separated segments. Walking it from the root, a
folder whose children are many, or look generated (dates, UUIDs, numbers, hashes), becomes
`folder/*`; so does a folder that holds only files. A file at the bucket root keeps its exact
name (granting the whole bucket for one file would be too much).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rightsizer.iam.matching import escape_resource

GRANULARITIES = ("object", "prefix", "bucket")
# More children than this under one folder means the names are data, not structure.
MAX_CHILDREN = 6

_GENERATED = re.compile(
    r"""^(
        \d+                                         # numbers, years, months, days
      | \d{4}-\d{2}(-\d{2})?([T_ ]?\d{2}[:\-]?\d{2}([:\-]?\d{2})?Z?)?  # dates and timestamps
      | [0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}          # UUIDs
      | (?=[a-f]*\d)[0-9a-f]{12,}                   # hashes
      | [A-Za-z_]+=.*                               # hive partitions: dt=2026-11-01
    )$""",
    re.VERBOSE,
)
_NUMBERED_FILE = re.compile(r"\d{3,}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}")


def looks_generated(segment: str) -> bool:
    """True for segment names that are values rather than structure."""
    stem = segment.rsplit(".", 1)[0] if "." in segment else segment
    return bool(_GENERATED.match(stem) or _GENERATED.match(segment))


def _collapse_here(children: dict[str, list[tuple[str, str | None]]], depth: int) -> str | None:
    """Why every key under this folder is granted as `folder/*`: "data" (its names are many or
    generated), "files" (it holds only files), or None (walk on)."""
    if len(children) > MAX_CHILDREN:
        return "data"
    if any(looks_generated(name) or _NUMBERED_FILE.search(name) for name in children):
        return "data"
    only_files = all(rest is None for entries in children.values() for _, rest in entries)
    return "files" if only_files and depth > 0 else None


def generalize(keys: Iterable[str], granularity: str = "prefix") -> dict[str, str]:
    """Map each key to the (escaped) resource suffix that grants it: a key or `prefix/*`."""
    keys = sorted(set(keys))
    if granularity == "object":
        return {key: escape_resource(key) for key in keys}
    if granularity == "bucket":
        return dict.fromkeys(keys, "*")
    if granularity != "prefix":
        raise ValueError(f"granularity must be one of {GRANULARITIES}, not {granularity!r}")
    return _walk(keys)[0]


def fragile_keys(keys: Iterable[str]) -> frozenset[str]:
    """The keys under a folder whose names are data (many, or generated): the code writes new
    keys there, so a grant of only the keys seen denies the next one."""
    return frozenset(_walk(sorted(set(keys)))[1])


def generalize_with_fragile(
    keys: Iterable[str], granularity: str = "prefix"
) -> tuple[dict[str, str], frozenset[str]]:
    """`generalize` of the keys and their `fragile_keys` from one walk of their tree; no
    fragile keys at "object" granularity, where exact keys are what was asked."""
    keys = sorted(set(keys))
    if granularity == "object":
        return generalize(keys, granularity), frozenset()
    mapping, fragile = _walk(keys)
    if granularity != "prefix":
        mapping = generalize(keys, granularity)  # "bucket", or a ValueError naming the choices
    return mapping, frozenset(fragile)


def _walk(keys: list[str]) -> tuple[dict[str, str], set[str]]:
    """The prefix generalization of `keys`, and the keys collapsed because names are data."""
    result: dict[str, str] = {}
    fragile: set[str] = set()
    # Walk the tree one level at a time; a collapsed folder's keys are never split further.
    stack: list[tuple[list[tuple[str, str | None]], list[str]]] = [
        ([(key, key) for key in keys], [])
    ]
    while stack:
        entries, path = stack.pop()
        children: dict[str, list[tuple[str, str | None]]] = {}
        for key, rest in entries:
            if rest is None:  # the folder name itself was also used as a key ("a", "a/b")
                result[key] = escape_resource(key)
                continue
            head, slash, tail = rest.partition("/")
            children.setdefault(head, []).append((key, tail if slash else None))
        if not children:
            continue
        reason = _collapse_here(children, len(path))
        if reason is not None:
            prefix = "".join(escape_resource(part) + "/" for part in path)
            for child_entries in children.values():
                for key, _ in child_entries:
                    result[key] = prefix + "*"
                    if reason == "data":
                        fragile.add(key)
            continue
        for name, child_entries in children.items():
            if all(rest is None for _, rest in child_entries):
                for key, _ in child_entries:
                    result[key] = escape_resource(key)
            else:
                stack.append((child_entries, [*path, name]))
    return result, fragile


def coarsen(suffix: str) -> str:
    """One step up the tree: `a/b/*` → `a/*`, `a/b/key` → `a/b/*`, `a/*` → `*`."""
    if suffix == "*":
        return "*"
    trimmed = suffix[:-2] if suffix.endswith("/*") else suffix
    if "/" not in trimmed:
        return "*"
    return trimmed.rsplit("/", 1)[0] + "/*"


def folders_below(suffix: str, key: str) -> list[str]:
    """The folders of an escaped key under the prefix `suffix`, widest first: for `a/*` and
    `a/b/c/key`, [`a/b/*`, `a/b/c/*`]; none when `suffix` is not a prefix of the key."""
    if suffix != "*" and not suffix.endswith("/*"):
        return []
    base = suffix[:-1]  # "a/" of "a/*", "" of "*"
    if not key.startswith(base):
        return []
    parts = key[len(base) :].split("/")[:-1]
    return [base + "".join(part + "/" for part in parts[: i + 1]) + "*" for i in range(len(parts))]
