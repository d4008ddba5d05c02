"""Step 4 of generate: today's statements that the recommendation carries over unchanged.

Only S3 is right-sized. Every Deny statement is kept whole, every non-S3 action of an Allow is
kept as it is (a NotAction statement gains `s3:*` in its NotAction), and grants of the S3-family
services rightsizer does not map (s3-object-lambda, s3express, ...) are kept and reported as
unknown.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from rightsizer.findings import Code
from rightsizer.iam.matching import action_matches
from rightsizer.iam.policy import Statement, grants, statement_as_2012
from rightsizer.iam.s3 import could_be_s3, is_s3_action, s3_family_service
from rightsizer.iam.snapshot import Role


@dataclass(frozen=True)
class Carried:
    """Today's statements carried over unchanged , and the `out_of_scope` rows."""

    statements: list[Statement]
    out_of_scope: list[dict[str, Any]]
    warnings: list[dict[str, str]]


def carry_over(role: Role) -> Carried:
    """The non-S3 parts of today's statements, unchanged; Deny statements whole."""
    carried: list[Statement] = []
    out_of_scope: list[dict[str, Any]] = []
    warnings: list[dict[str, str]] = []
    for label, doc in role.policy_sources:
        for st in (statement_as_2012(s, doc.reads_variables) for s in doc.statements):
            if st.effect == "Deny":
                carried.append(st)
                out_of_scope.append(_scope_entry(label, st, "deny statement kept unchanged"))
                continue
            if st.not_actions is not None:
                if not any(
                    action_matches(a, "s3:*") or a.lower() == "s3:*" for a in st.not_actions
                ):
                    st = dataclasses.replace(st, not_actions=(*st.not_actions, "s3:*"))
                carried.append(st)
                out_of_scope.append(_scope_entry(label, st, "NotAction statement; S3 excluded"))
                continue
            actions = st.actions or ()
            other = [a for a in actions if not could_be_s3(a)]
            broad = [a for a in actions if could_be_s3(a) and not is_s3_action(a)]
            if any(a in ("*", "*:*") for a in broad):
                kept = dataclasses.replace(st, actions=None, not_actions=("s3:*",))
                carried.append(kept)
                out_of_scope.append(_scope_entry(label, kept, "all actions except S3"))
                continue
            if broad:
                other += broad
                warnings.append(
                    {
                        "code": Code.MIXED_WILDCARD,
                        "message": f"{label}: {', '.join(broad)} grants S3 and other services; "
                        "kept unchanged, so S3 access through it is not reduced",
                    }
                )
            if other:
                kept = dataclasses.replace(st, actions=tuple(other))
                carried.append(kept)
                family = sorted({s for a in other if (s := s3_family_service(a))})
                note = "not S3"
                if family:
                    note = f"kept unchanged; {', '.join(family)} is not right-sized (unknown)"
                out_of_scope.append(_scope_entry(label, kept, note))
    return Carried(carried, out_of_scope, warnings)


def s3_family_kept(role: Role) -> list[dict[str, str]]:
    """Unknown items for today's grants of S3-family services beyond `s3:` (s3-object-lambda,
    s3express, ...): carried over unchanged, since rightsizer does not map their calls."""
    items: dict[tuple[str, str], str] = {}
    for _, doc in role.policy_sources:
        for grant in grants(doc):
            service = s3_family_service(grant.action)
            if grant.effect != "Allow" or service is None:
                continue
            items[(grant.action, grant.resource_label)] = (
                f"rightsizer does not right-size {service}: its calls are not mapped to IAM "
                "actions, so today's grant is kept as it is"
            )
    return [{"action": a, "resource": r, "reason": why} for (a, r), why in sorted(items.items())]


def _scope_entry(label: str, st: Statement, note: str) -> dict[str, Any]:
    actions = (
        st.actions if st.actions is not None else tuple(f"NOT {a}" for a in st.not_actions or ())
    )
    return {
        "policy": label,
        "sid": st.sid,
        "effect": st.effect,
        "actions": list(actions),
        "note": note,
    }
