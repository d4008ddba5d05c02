"""Generalize the object keys a role used into the object prefixes a policy grants.

The keys of one bucket form a tree of `/`-separated segments. Walking it from the root, a
folder whose children are many, or look generated (dates, UUIDs, numbers, hashes), becomes
`folder/*`; so does a folder that holds only files. A file at the bucket root keeps its exact
name (granting the whole bucket for one file would be too much).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

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


def escape_key(key: str) -> str:
    """Write a key so IAM reads its `*`, `?` and `$` literally (policy version 2012-10-17)."""
    return key.replace("$", "${$}").replace("*", "${*}").replace("?", "${?}")


def looks_generated(segment: str) -> bool:
    """True for segment names that are values rather than structure."""
    stem = segment.rsplit(".", 1)[0] if "." in segment else segment
    return bool(_GENERATED.match(stem) or _GENERATED.match(segment))


def _collapse_here(children: dict[str, list[tuple[str, str | None]]], depth: int) -> bool:
    """Should every key under this folder be granted as `folder/*`?"""
    if len(children) > MAX_CHILDREN:
        return True
    if any(looks_generated(name) or _NUMBERED_FILE.search(name) for name in children):
        return True
    only_files = all(rest is None for entries in children.values() for _, rest in entries)
    return only_files and depth > 0


def generalize(keys: Iterable[str], granularity: str = "prefix") -> dict[str, str]:
    """Map each key to the (escaped) resource suffix that grants it: a key or `prefix/*`."""
    keys = sorted(set(keys))
    if granularity == "object":
        return {key: escape_key(key) for key in keys}
    if granularity == "bucket":
        return dict.fromkeys(keys, "*")
    if granularity != "prefix":
        raise ValueError(f"granularity must be one of {GRANULARITIES}, not {granularity!r}")
    result: dict[str, str] = {}
    # Walk the tree one level at a time; a collapsed folder's keys are never split further.
    stack: list[tuple[list[tuple[str, str | None]], list[str]]] = [
        ([(key, key) for key in keys], [])
    ]
    while stack:
        entries, path = stack.pop()
        children: dict[str, list[tuple[str, str | None]]] = {}
        for key, rest in entries:
            if rest is None:  # the folder name itself was also used as a key ("a", "a/b")
                result[key] = escape_key(key)
                continue
            head, slash, tail = rest.partition("/")
            children.setdefault(head, []).append((key, tail if slash else None))
        if not children:
            continue
        if _collapse_here(children, len(path)):
            prefix = "".join(escape_key(part) + "/" for part in path)
            for child_entries in children.values():
                for key, _ in child_entries:
                    result[key] = prefix + "*"
            continue
        for name, child_entries in children.items():
            if all(rest is None for _, rest in child_entries):
                for key, _ in child_entries:
                    result[key] = escape_key(key)
            else:
                stack.append((child_entries, [*path, name]))
    return result


def coarsen(suffix: str) -> str:
    """One step up the tree: `a/b/*` → `a/*`, `a/b/key` → `a/b/*`, `a/*` → `*`."""
    if suffix == "*":
        return "*"
    trimmed = suffix[:-2] if suffix.endswith("/*") else suffix
    if "/" not in trimmed:
        return "*"
    return trimmed.rsplit("/", 1)[0] + "/*"
