"""Why each grant of a recommendation is there: observed use, a companion rule, or unknown.

Attached after generation from what the analysis already holds: the `used` rows (placed on the
recommended resources, with their calls, functions and one example event), the grants the
recommendation kept as companions with the calls that make each action one
(queries/companion_rules.sql, reasons from rightsizer/data/s3_event_actions.csv) and the
unknown items with the warnings that name their reasons.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rightsizer.diff import s3_grants
from rightsizer.findings import Code
from rightsizer.generate import Item
from rightsizer.iam.matching import action_matches
from rightsizer.iam.policy import PolicyDocument
from rightsizer.model import (
    CompanionRule,
    Finding,
    GrantEvidence,
    Observed,
    UnknownItem,
    UnknownReason,
    UsedRow,
)
from rightsizer.usage import CompanionSource

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
    companions: Collection[Item],
    sources: Sequence[CompanionSource],
    unknown: Sequence[UnknownItem],
    warnings: Sequence[Finding],
) -> tuple[GrantEvidence, ...]:
    """The evidence of every S3 grant of `policy`, sorted by action and resource.

    `companions` holds the grants the recommendation kept as companions
    (`Recommendation.companions`), `sources` the calls that make each action one.
    """
    observed = {(row.action.lower(), row.resource): row for row in used}
    placed = {(item.action.lower(), item.resource) for item in companions}
    rules = {source.action.lower(): _rule(source) for source in sources}
    code_of = {w.message: w.code for w in warnings}
    out = []
    for grant in s3_grants(policy).values():
        key = (grant.action.lower(), grant.resource)
        seen = observed.get(key)
        rule = rules.get(key[0]) if key in placed else None
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


def _rule(source: CompanionSource) -> CompanionRule:
    reference, _, reason = source.reason.partition(": ")
    return CompanionRule(source.event_names, reason, reference)
