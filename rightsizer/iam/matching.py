"""IAM wildcard matching for Action and Resource patterns, compiled once and cached.

Actions match case-insensitively; `*` is any run of characters and `?` one character.
Resources match case-sensitively and segment by segment: the first five colons split an ARN
into `arn:partition:service:region:account:` and the rest is one resource segment (S3 keys may
hold colons). Within the first five segments `*` and `?` do not cross a colon, except that a `*`
ending a segment may run past colons; in the resource segment they match any character,
including `/` and `:`. With `"Version": "2012-10-17"` the escapes `${*}`, `${?}` and `${$}`
stand for the literal characters, and other `${...}` are policy variables.

Policy variables (`${aws:username}`, `${aws:PrincipalTag/team}`, ...) take their value from the
request context, which CloudTrail does not record, so they cannot be resolved here. Callers pick
how an unresolved variable behaves: `"no_match"` (the pattern matches nothing: the narrow
reading, right for an Allow) or `"any"` (the variable matches any run: the broad reading, right
when a Deny must be assumed to apply).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Literal

Unresolved = Literal["no_match", "any"]

# Colons before the resource segment of an ARN: arn:partition:service:region:account:resource.
_PREFIX_COLONS = 5
_ESCAPES = {"*": "*", "?": "?", "$": "$"}
# str.translate does the escaping in C: one call per object key of a large store.
_ESCAPE_TABLE = str.maketrans({ch: "${" + ch + "}" for ch in _ESCAPES})


def action_matches(pattern: str, action: str) -> bool:
    """True when the IAM action pattern (`s3:Get*`, `*`) matches the action, ignoring case."""
    return compile_actions((pattern,)).fullmatch(action) is not None


def resource_matches(
    pattern: str, arn: str, *, variables: bool = True, unresolved: Unresolved = "no_match"
) -> bool:
    """True when the Resource pattern matches the ARN (case-sensitive, IAM wildcards).

    `variables` is True for `"Version": "2012-10-17"` documents, where `${...}` has meaning;
    older documents treat those characters literally.
    """
    regex = compile_resources((pattern,), variables, unresolved)
    return regex is not None and regex.fullmatch(arn) is not None


def escape_resource(text: str) -> str:
    """Escape `*`, `?` and `$` so the text matches only itself in a 2012-10-17 Resource."""
    return text.translate(_ESCAPE_TABLE)


def names_variable(pattern: str, variables: bool) -> bool:
    """Whether a Resource pattern holds a policy variable (not an escape) that IAM resolves:
    only under Version 2012-10-17 (`variables`)."""
    return variables and any(
        inner not in _ESCAPES for inner in re.findall(r"\$\{([^}]*)\}", pattern)
    )


def has_wildcard(pattern: str) -> bool:
    """True when a pattern contains an unescaped `*` or `?` (it can match more than one name)."""
    return "*" in pattern.replace("${*}", "") or "?" in pattern.replace("${?}", "")


@lru_cache(maxsize=65536)
def compile_actions(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One case-insensitive regex (use `fullmatch`) matching any of the action patterns."""
    parts = []
    for pattern in patterns:
        glob = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
        parts.append(f"(?:{glob})")
    return re.compile("|".join(parts), re.IGNORECASE | re.DOTALL)


@lru_cache(maxsize=65536)
def compile_resources(
    patterns: tuple[str, ...], variables: bool, unresolved: Unresolved
) -> re.Pattern[str] | None:
    """One regex (use `fullmatch`) matching any of the resource patterns; None if none can."""
    sources = [_resource_source(p, variables, unresolved) for p in patterns]
    parts = [f"(?:{source})" for source in sources if source is not None]
    if not parts:
        return None
    return re.compile("|".join(parts), re.DOTALL)


@lru_cache(maxsize=4096)
def resource_regex_re2(
    patterns: tuple[str, ...], variables: bool, unresolved: Unresolved
) -> str | None:
    """`compile_resources` as RE2 source, anchored (Arrow's regex functions, which test a whole
    column at once, speak RE2); None if none of the patterns can match."""
    sources = [_resource_source(p, variables, unresolved, _re2_literal) for p in patterns]
    parts = [f"(?:{source})" for source in sources if source is not None]
    if not parts:
        return None
    return "(?s)^(?:" + "|".join(parts) + ")$"


def _re2_literal(text: str) -> str:
    """`text` as RE2 source matching only itself: letters and digits as they are, any other
    character by its code point (no escaping rule of either regex dialect to get wrong)."""
    return "".join(
        ch if ch.isascii() and (ch.isalnum() or ch == "_") else f"\\x{{{ord(ch):x}}}" for ch in text
    )


def _resource_source(
    pattern: str,
    variables: bool,
    unresolved: Unresolved,
    literal: Callable[[str], str] = re.escape,
) -> str | None:
    """Translate one Resource pattern to regex source; None when it can never match."""
    out: list[str] = []
    colons = 0
    i, end = 0, len(pattern)
    while i < end:
        ch = pattern[i]
        if variables and ch == "$" and pattern.startswith("${", i):
            close = pattern.find("}", i + 2)
            if close != -1:
                inner = pattern[i + 2 : close]
                if inner in _ESCAPES:
                    out.append(literal(inner))
                elif unresolved == "any":
                    out.append(".*")
                else:
                    return None
                i = close + 1
                continue
        if ch == "*":
            following = pattern[i + 1] if i + 1 < end else ""
            spans_colons = colons >= _PREFIX_COLONS or following in ("", ":")
            out.append(".*" if spans_colons else "[^:]*")
        elif ch == "?":
            out.append("." if colons >= _PREFIX_COLONS else "[^:]")
        else:
            if ch == ":":
                colons += 1
            out.append(literal(ch))
        i += 1
    return "".join(out)
