"""What a grant means for the report: S3 actions a pattern covers, and its risk.

An S3 *grant* is one (action pattern, resource pattern) pair of an Allow statement, the unit
the analysis diff classifies as removed, kept or unknown; the analysis counts them
(rightsizer.diff, README "The figures"), and the report reads those counts.
"""

from __future__ import annotations

from functools import cache

from rightsizer.iam.s3 import expand_s3_actions

# Action prefixes the report calls high-risk, besides `s3:*` and any grant on resource `*`.
_RISKY_ACTION_PREFIXES = ("s3:delete", "s3:put")


@cache  # a report asks about the same few patterns for every role
def actions_matching(pattern: str) -> frozenset[str]:
    """The S3 actions an IAM action pattern covers (`*`, `s3:*`, `s3:Get*`, `s3:GetObject`)."""
    return frozenset(expand_s3_actions(pattern))


def is_high_risk(action: str, resource: str) -> bool:
    """True for `s3:*`, a pattern covering any Delete or Put action, or anything on `*`."""
    if resource == "*":
        return True
    return any(a.lower().startswith(_RISKY_ACTION_PREFIXES) for a in actions_matching(action))
