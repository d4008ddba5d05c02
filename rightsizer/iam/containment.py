"""Does one resource pattern cover another? The question "never more than today" asks.

Patterns here are IAM Resource patterns. A recommended pattern is written for a 2012-10-17
document (`${*}`, `${?}`, `${$}` are literal characters); a grant of today may come from a
2008-10-17 document, where `${` is plain text. The answers are sound: "yes" means every ARN
the pattern matches is matched by the grant; "no" may be conservative.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rightsizer.iam.matching import has_wildcard, resource_matches

_ANY, _ONE = "\x00", "\x01"  # a pattern's wildcards, kept apart from literal * and ?
_TOKEN = re.compile(r"\$\{([*?$])\}|(\$\{[^}]*\})|(\*)|(\?)|(.)", re.DOTALL)
# A grant's wildcards over `_pattern_text`: `?` is one character or a `?` of the pattern, never
# a `*` of it (one character never covers any run).
_WILD = {"*": ".*", "?": f"[^{_ANY}]"}


def _pattern_text(pattern: str) -> str:
    """A recommended (2012-10-17) pattern as text: escapes resolved, wildcards as markers."""
    out = []
    for escaped, variable, star, mark, char in _TOKEN.findall(pattern):
        out.append(escaped or variable or (_ANY if star else _ONE if mark else char))
    return "".join(out)


@lru_cache(maxsize=4096)
def _grant_regex(grant: str, variables: bool) -> re.Pattern[str] | None:
    """A grant pattern as a regex over `_pattern_text`; None when it holds a policy variable."""
    if not variables:  # 2008-10-17: `*` and `?` are the only special characters, `${` is text
        return re.compile("".join(_WILD.get(ch) or re.escape(ch) for ch in grant), re.DOTALL)
    out = []
    for escaped, variable, star, mark, char in _TOKEN.findall(grant):
        if escaped:
            out.append(re.escape(escaped))
        elif variable:
            return None  # resolved per request (${aws:username}): covers nothing for sure
        else:
            out.append(_WILD.get(star or mark) or re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def within(pattern: str, grant: str, *, variables: bool = True) -> bool:
    """Is every ARN that `pattern` (2012-10-17 syntax) matches also matched by `grant`?

    `variables` is False for grants of a 2008-10-17 document, where `${` is plain text.
    """
    if grant == "*":
        return True
    regex = _grant_regex(grant, variables)
    return regex is not None and regex.fullmatch(_pattern_text(pattern)) is not None


def as_2012(pattern: str, variables: bool) -> str:
    """A grant's pattern rewritten for a 2012-10-17 document (2008 has no `${` escapes)."""
    return pattern if variables else pattern.replace("$", "${$}")


def literal_prefix(pattern: str) -> str:
    """The text of a pattern before its first wildcard or `${`."""
    return re.split(r"[*?]|\$\{", pattern, maxsplit=1)[0]


def may_overlap(pattern: str, excluded: str, variables: bool) -> bool:
    """Could an ARN match both? Exact for a literal ARN (or the `*` of account-level actions,
    which is the request's literal resource); by literal prefixes for a wildcard pattern."""
    if pattern == "*" or not has_wildcard(pattern):
        arn = "*" if pattern == "*" else _pattern_text(pattern)
        return resource_matches(excluded, arn, variables=variables, unresolved="any")
    a, b = literal_prefix(pattern), literal_prefix(excluded)
    return a.startswith(b) or b.startswith(a)
