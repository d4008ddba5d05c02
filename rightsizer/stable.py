"""Keep what does not change: today's statements that survive, with their Sid and position.

A statement of today survives when the recommendation keeps every grant it makes: then it is
written back exactly as it is (its Sid, its order of actions and resources), where it stood,
and only the rest of the recommendation is written as new statements. A role that needs no
change gets today's statements back, byte for byte, and an empty diff; a human-chosen Sid such
as `ReadAppConfig` never churns into a generated one.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rightsizer.iam.policy import PolicyDocument, Statement
from rightsizer.iam.s3 import is_s3_action
from rightsizer.unknown import Wanted

_TRAILING_NUMBER = re.compile(r"\d+$")


@dataclass(frozen=True)
class Survivors:
    """Today's S3 statements the recommendation keeps whole, and the grants still to write."""

    statements: list[Statement]
    rest: Wanted


def surviving(today: Sequence[Statement], wanted: Wanted) -> Survivors:
    """Today's S3 Allow statements every grant of which is in `wanted`, and `wanted` without
    the grants they make."""
    wanted_lower = {key: {a.lower(): a for a in actions} for key, actions in wanted.items()}
    kept: list[Statement] = []
    taken: dict[tuple[str, str | None], set[str]] = {}
    for st in today:
        if not _plain_s3_allow(st):
            continue
        keys = [(resource, st.condition_key) for resource in st.resources or ()]
        if all(a.lower() in wanted_lower.get(key, {}) for key in keys for a in st.actions or ()):
            kept.append(st)
            for key in keys:
                taken.setdefault(key, set()).update(
                    wanted_lower[key][a.lower()] for a in st.actions or ()
                )
    rest: Wanted = {}
    for key, actions in wanted.items():
        left = actions - taken.get(key, set())
        if left:
            rest[key] = set(left)
    return Survivors(kept, rest)


def arrange(today: Sequence[Statement], statements: Sequence[Statement]) -> PolicyDocument:
    """The recommended `statements` as one document: each equal to a statement of today where
    that one stood; the others (in their order) where the first statement of today that did
    not survive stood, or at the end. A new statement's Sid that a kept one (or an earlier new
    one) already uses is renumbered."""
    fresh = list(statements)
    slots: list[Statement | None] = []  # today's order; None where a statement did not survive
    for st in today:
        if st in fresh:
            fresh.remove(st)
            slots.append(st)
        else:
            slots.append(None)
    sids = {st.sid for st in slots if st is not None and st.sid}
    renamed = []
    for st in fresh:
        sid = _unused(st.sid, sids) if st.sid else None
        if sid:
            sids.add(sid)
        renamed.append(st if sid == st.sid else dataclasses.replace(st, sid=sid))
    out: list[Statement] = []
    for kept in slots:
        if kept is not None:
            out.append(kept)
        elif renamed:
            out.extend(renamed)
            renamed = []
    out.extend(renamed)
    return PolicyDocument(statements=tuple(out))


def _plain_s3_allow(st: Statement) -> bool:
    """An Allow listing S3 actions and resources (no NotAction, NotResource or other service)."""
    return (
        st.effect == "Allow"
        and st.actions is not None
        and st.resources is not None
        and all(is_s3_action(a) for a in st.actions)
    )


def _unused(sid: str, taken: set[str]) -> str:
    """`sid`, or the same name with the lowest number after it that no statement uses."""
    if sid not in taken:
        return sid
    base = _TRAILING_NUMBER.sub("", sid)
    number = 1
    while f"{base}{number}" in taken:
        number += 1
    return f"{base}{number}"
