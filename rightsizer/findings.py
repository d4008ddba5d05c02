"""The catalogue of warning codes: each code once, with its severity and what it means.

Every warning an analysis carries names one of these codes (`{"code", "message"}` in the JSON;
the message says what happened to this role). The severity is the code's, not the message's:

- `error`: the role gets no recommendation (none could be made, or the replay refused it);
- `warning`: the recommendation keeps more than the role used, or needs care before it is
  applied;
- `info`: context a reader should know; nothing to close.

The README's table of warning codes is this catalogue (a test holds them equal).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


class CatalogueCode(StrEnum):
    """A code of a catalogue (the warning codes here, the activity findings in
    rightsizer.watch.codes). A member is its code string, so it compares and serializes as one;
    it is declared as `(code, severity, meaning)`, and each catalogue narrows `severity` to its
    own levels."""

    severity: str
    meaning: str

    def __new__(cls, code: str, severity: str, meaning: str) -> Self:
        member = str.__new__(cls, code)
        member._value_ = code
        member.severity = severity
        member.meaning = meaning
        return member


class Code(CatalogueCode):
    """A warning code."""

    severity: Severity

    COVERAGE_UNKNOWN = (
        "coverage-unknown",
        "warning",
        "the trail does not log the data (or management) events that would show these grants' "
        "use; kept",
    )
    EVIDENCE_GAP = (
        "evidence-gap",
        "warning",
        "a day without any event, an account without logs or a skipped log file; S3 grants kept",
    )
    UNMODELED_CALLS = (
        "unmodeled-calls",
        "warning",
        "successful calls whose IAM requests cannot be derived; grants that could allow them kept",
    )
    POLICY_VARIABLE = (
        "policy-variable",
        "warning",
        "a grant whose resource names a policy variable (${aws:...}) the logs cannot resolve; "
        "kept as it is",
    )
    S3_FAMILY_UNKNOWN = (
        "s3-family-unknown",
        "warning",
        "a grant of an S3 service beside s3: (s3-object-lambda, s3express, ...) kept unreduced",
    )
    NOT_GRANTED_BY_IDENTITY_POLICY = (
        "not-granted-by-identity-policy",
        "info",
        "used permissions a bucket policy allowed; reported, not added",
    )
    PERMISSIONS_BOUNDARY = (
        "permissions-boundary",
        "info",
        "the role has a permissions boundary, which still applies",
    )
    MIXED_WILDCARD = (
        "mixed-wildcard",
        "warning",
        "an action pattern grants S3 and other services; kept unchanged, S3 not reduced",
    )
    MISSING_POLICY = (
        "missing-policy",
        "warning",
        "an attached policy is not in the IAM snapshot; its grants were not considered; "
        "it is left attached",
    )
    POLICY_TOO_LARGE = (
        "policy-too-large",
        "warning",
        "the recommendation is over IAM's limit for a role's inline policies; split it",
    )
    OVER_MANAGED_POLICY_LIMIT = (
        "over-managed-policy-limit",
        "info",
        "the recommendation fits only as an inline policy (over a managed policy's limit)",
    )
    FRAGILE_GRANT = (
        "fragile-grant",
        "warning",
        "today's policy grants only exact keys in a folder the code keeps writing new keys to",
    )
    IDLE_ROLE = (
        "idle-role",
        "warning",
        "no S3 call in the window: the recommendation removes all of the role's S3 access",
    )
    LOW_EVIDENCE = (
        "low-evidence",
        "warning",
        "a window under 30 days (said once) or a role under --min-calls calls: "
        "rarer needs may be missing",
    )
    ROLE_NOT_IN_SNAPSHOT = (
        "role-not-in-snapshot",
        "error",
        "the logs show Lambda code using a role the IAM snapshot does not hold; no recommendation",
    )
    VERIFICATION_FAILED = (
        "verification-failed",
        "error",
        "the recommendation would deny a call of the window; refused",
    )


CATALOGUE: dict[str, Code] = {member.value: member for member in Code}


def severity_of(code: str) -> Severity:
    """The severity of a code; a code this version does not know (a newer analysis) warns."""
    known = CATALOGUE.get(code)
    return known.severity if known is not None else "warning"
