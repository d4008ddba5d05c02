"""The catalogue of activity findings: each code once, with its severity and what it means.

Activity findings are about what a role's credentials did (rightsizer.watch), not about the
recommendation: they are kept apart from the warning codes of rightsizer.findings, in the
analysis JSON (`findings`, not a role's `warnings`) and in this catalogue. The severities:

- `high`: the role's credentials may be in someone else's hands; look now;
- `medium`: something changed or broke; look before the next review;
- `low`: context for the next review (a new bucket, a denied call and its cause).

The README's table of finding codes is this catalogue (a test holds them equal).
"""

from __future__ import annotations

from typing import Literal

from rightsizer.findings import CatalogueCode

ActivitySeverity = Literal["high", "medium", "low"]
ACTIVITY_SEVERITIES: tuple[ActivitySeverity, ...] = ("high", "medium", "low")


class Activity(CatalogueCode):
    """An activity finding code."""

    severity: ActivitySeverity

    CREDENTIALS_OUTSIDE_LAMBDA = (
        "credentials-outside-lambda",
        "high",
        "the role's session called AWS from somewhere its functions do not run",
    )
    DENIED_BURST = (
        "denied-burst",
        "medium",
        "denied calls in an hour far above the role's usual rate",
    )
    DENIED_AFTER_POLICY_CHANGE = (
        "denied-after-policy-change",
        "medium",
        "denied calls rose in the hours after a change to the role's or a bucket's policy",
    )
    FIRST_SEEN = (
        "first-seen",
        "low",
        "an action, bucket, prefix or region the role never used before in the store's history",
    )
    DENIED_CALL = (
        "denied-call",
        "low",
        "a denied call: which policy blocks it, and the smallest statement that would allow it",
    )


ACTIVITY_CATALOGUE: dict[str, Activity] = {member.value: member for member in Activity}


def activity_severity(code: str) -> ActivitySeverity:
    """The severity of a finding's code; a code this version does not know (a newer analysis)
    is medium."""
    known = ACTIVITY_CATALOGUE.get(code)
    return known.severity if known is not None else "medium"
