"""Pattern containment: "does today's grant cover this recommended pattern?"."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from rightsizer.iam.containment import may_overlap, within
from rightsizer.iam.matching import resource_matches

B = "arn:aws:s3:::b"


def test_prefixes_and_wildcards() -> None:
    assert within(f"{B}/a/*", f"{B}/*")
    assert within(f"{B}/a/*", "*")
    assert not within(f"{B}/*", f"{B}/a/*")
    assert within(f"{B}/ab", f"{B}/a?")
    assert not within(f"{B}/a*", f"{B}/a?")  # one character never covers any run
    assert within(f"{B}/a?", f"{B}/a?")


def test_escapes_and_versions() -> None:
    assert within(f"{B}/${{*}}", f"{B}/*")  # a literal star is one of the keys `*` covers
    assert not within(f"{B}/x", f"{B}/${{*}}")
    assert not within(f"{B}/${{aws:username}}", f"{B}/${{aws:username}}")  # unresolvable
    assert within(f"{B}/${{$}}{{x}}/k", f"{B}/${{x}}/*", variables=False)  # 2008 document


def test_a_2008_grant_reads_star_and_mark_between_dollar_braces_as_wildcards() -> None:
    # 2008-10-17 has no escapes: `${*}` is the text `${`, any run, then `}`.
    assert within(f"{B}/${{$}}{{2026}}/k", f"{B}/${{*}}/*", variables=False)
    assert within(f"{B}/${{$}}{{x}}", f"{B}/${{?}}", variables=False)
    assert not within(f"{B}/${{$}}{{xy}}", f"{B}/${{?}}", variables=False)
    assert not within(f"{B}/${{*}}", f"{B}/${{*}}", variables=False)  # the key `*` has no braces
    assert within(f"{B}/${{$}}{{${{$}}{{x}}", f"{B}/${{${{*}}", variables=False)  # `${${` is text


def test_overlap_with_an_exclusion() -> None:
    assert not may_overlap(f"{B}/2026", f"{B}/2026/*", True)
    assert may_overlap(f"{B}/2026/x", f"{B}/2026/*", True)
    assert may_overlap(f"{B}/20*", f"{B}/2026/*", True)
    assert not may_overlap("*", f"{B}/*", True)  # the literal resource of account actions


part = st.text("ab/", min_size=0, max_size=3)
pattern = st.lists(st.one_of(part, st.sampled_from(["*", "?", "${*}"])), max_size=4).map("".join)


def concrete(pat: str, fill: str) -> str:
    """One ARN the pattern matches: wildcards filled with `fill` (or one char of it)."""
    out = pat.replace("${*}", "\x02")
    out = re.sub(r"\*", fill.replace("\\", ""), out)
    out = out.replace("?", (fill or "a")[0])
    return f"{B}/" + out.replace("\x02", "*")


@settings(max_examples=300, deadline=None)
@given(pattern, pattern, st.text("ab/*", max_size=3))
def test_within_is_sound(p: str, g: str, fill: str) -> None:
    if within(f"{B}/{p}", f"{B}/{g}"):
        assert resource_matches(f"{B}/{g}", concrete(p, fill)), (p, g, fill)
