"""Generalize the object keys a role used into the object prefixes a policy grants.

The keys of one bucket form a tree of `/`-separated segments. Walking it from the root, a
folder whose children are many, or look generated (dates, UUIDs, numbers, hashes), becomes
`folder/*`; so does a folder that holds only files. A file at the bucket root keeps its exact
name (granting the whole bucket for one file would be too much).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

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


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    is_key: bool = False  # a key ends here (a file)


def _build(keys: Iterable[str]) -> _Node:
    root = _Node()
    for key in keys:
        node = root
        for segment in key.split("/"):
            node = node.children.setdefault(segment, _Node())
        node.is_key = True
    return root


def _collapse_here(node: _Node, depth: int) -> bool:
    """Should every key under this folder be granted as `folder/*`?"""
    names = list(node.children)
    if len(names) > MAX_CHILDREN:
        return True
    if any(looks_generated(name) or _NUMBERED_FILE.search(name) for name in names):
        return True
    only_files = all(not child.children for child in node.children.values())
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

    def walk(node: _Node, path: list[str]) -> None:
        prefix = "".join(escape_key(part) + "/" for part in path)
        if node.is_key:
            # the folder name itself was also used as a key (e.g. "a" and "a/b")
            result["/".join(path)] = escape_key("/".join(path))
        if not node.children:
            return
        if _collapse_here(node, len(path)):
            for key in _keys_under(node, path):
                result[key] = prefix + "*"
            return
        for name, child in node.children.items():
            if child.children:
                walk(child, [*path, name])
            elif child.is_key:
                result["/".join([*path, name])] = escape_key("/".join([*path, name]))

    walk(_build(keys), [])
    return result


def _keys_under(node: _Node, path: list[str]) -> Iterable[str]:
    for name, child in node.children.items():
        child_path = [*path, name]
        if child.is_key:
            yield "/".join(child_path)
        yield from _keys_under(child, child_path)


def coarsen(suffix: str) -> str:
    """One step up the tree: `a/b/*` → `a/*`, `a/b/key` → `a/b/*`, `a/*` → `*`."""
    if suffix == "*":
        return "*"
    trimmed = suffix[:-2] if suffix.endswith("/*") else suffix
    if "/" not in trimmed:
        return "*"
    return trimmed.rsplit("/", 1)[0] + "/*"
