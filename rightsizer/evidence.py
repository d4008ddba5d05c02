"""Why each grant of a recommendation is there: observed use, a companion rule, or unknown.

Attached after generation from what the analysis already holds: the `used` rows (placed on the
recommended resources, with their calls, functions and one example event), the role's
companions (queries/companions.sql, reasons from rightsizer/data/s3_event_actions.csv) and the
unknown items with the warnings that name their reasons.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from rightsizer.diff import s3_grants
from rightsizer.findings import Code
from rightsizer.iam.containment import within
from rightsizer.iam.matching import action_matches, escape_resource
from rightsizer.iam.policy import Grant, PolicyDocument
from rightsizer.model import (
    CompanionRule,
    Finding,
    GrantEvidence,
    Observed,
    UnknownItem,
    UnknownReason,
    UsedRow,
)
from rightsizer.usage import Companion

# How to close each kind of gap (README, "What unknown means").
FIXES: dict[str, str] = {
    Code.COVERAGE_UNKNOWN: "log S3 data events there (the selector the reason names), then "
    "analyze again; pass --event-selectors so coverage is exact",
    Code.EVIDENCE_GAP: "ingest the days or the file named, or choose a window the logs cover "
    "(--until, --days)",
    Code.UNMODELED_CALLS: "check the calls by their example event; a row in "
    "rightsizer/data/s3_event_actions.csv teaches rightsizer the event",
    Code.S3_FAMILY_UNKNOWN: "review the grant by hand: rightsizer does not map that service's "
    "calls, so its use cannot be measured",
}


def explain_grants(
    policy: PolicyDocument,
    used: Sequence[UsedRow],
    companions: Sequence[Companion],
    unknown: Sequence[UnknownItem],
    warnings: Sequence[Finding],
) -> tuple[GrantEvidence, ...]:
    """The evidence of every S3 grant of `policy`, sorted by action and resource."""
    observed = {(row.action.lower(), row.resource): row for row in used}
    by_action: dict[str, list[Companion]] = defaultdict(list)
    for companion in companions:
        by_action[companion.action.lower()].append(companion)
    code_of = {w.message: w.code for w in warnings}
    out = []
    for grant in s3_grants(policy).values():
        seen = observed.get((grant.action.lower(), grant.resource))
        rule = _companion(grant, by_action.get(grant.action.lower(), ()))
        gaps = tuple(
            UnknownReason(code, item.reason, FIXES.get(code, ""))
            for item in unknown
            if item.resource == grant.resource_label
            and action_matches(item.action, grant.action_label)
            for code in [code_of.get(item.reason, Code.S3_FAMILY_UNKNOWN)]
        )
        basis = "observed" if seen else "companion" if rule else "unknown" if gaps else ""
        out.append(
            GrantEvidence(
                action=grant.action_label,
                resource=grant.resource_label,
                basis=basis,
                observed=(
                    Observed(
                        seen.count,
                        seen.first_seen,
                        seen.last_seen,
                        seen.functions,
                        seen.example_event_id,
                    )
                    if seen
                    else None
                ),
                companion=rule,
                unknown=gaps,
            )
        )
    return tuple(sorted(out, key=lambda e: (e.action.lower(), e.resource)))


def _companion(grant: Grant, companions: Iterable[Companion]) -> CompanionRule | None:
    """The companion rule that placed `grant`: its action, on an object or bucket within it."""
    events: set[str] = set()
    sources: set[str] = set()
    for companion in companions:
        if within(escape_resource(companion.resource), grant.resource):
            events.update(companion.event_names)
            sources.add(companion.reason)
    if not events:
        return None
    reference, _, reason = min(sources).partition(": ")
    return CompanionRule(tuple(sorted(events)), reason, reference)
