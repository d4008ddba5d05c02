"""Today's identity-policy Allow grants of one role, asked "does this stay within them?".

The recommendation (rightsizer.generate) and the rules for what the logs cannot show
(rightsizer.unknown) both place permissions against these grants; "never more than today"
is decided here.
"""

from __future__ import annotations

from dataclasses import dataclass

from rightsizer.iam.containment import may_overlap, within
from rightsizer.iam.matching import action_matches
from rightsizer.iam.policy import Evaluator, Grant, Statement, grants, statement_as_2012
from rightsizer.iam.s3 import could_be_s3
from rightsizer.iam.snapshot import Role


@dataclass(frozen=True)
class HeldAllow:
    """One Allow grant of today, its statement, and whether its document reads `${...}`."""

    grant: Grant
    statement: Statement
    variables: bool

    def applies_to(self, action: str) -> bool:
        g = self.grant
        return action_matches(g.action, action) and not any(
            action_matches(a, action) for a in g.except_actions
        )

    @property
    def condition(self) -> str | None:
        """The Condition as canonical JSON, to carry into the recommendation."""
        return self.statement.condition_key


@dataclass(frozen=True)
class Cover:
    """A current Allow grant that covers a recommended (action, resource)."""

    condition: str | None  # JSON of the grant's Condition, carried into the recommendation


class CurrentGrants:
    """Today's identity-policy Allow grants of one role, asked "does this stay within them?"."""

    def __init__(self, role: Role) -> None:
        self._covers: dict[tuple[str, str], tuple[str | None, ...]] = {}
        self._acts: dict[str, bool] = {}
        # A call is granted today when the identity policies allow it; a call that succeeded
        # evidently met the conditions of any conditional Deny, hence "ignore".
        self.today = Evaluator(role.policies, conditional_deny="ignore")
        self.allows: list[HeldAllow] = []
        # Every statement of today, in the order of the merged document the diff compares with,
        # as a 2012 document writes it (the recommendation is one).
        self.statements = tuple(
            statement_as_2012(st, doc.reads_variables)
            for doc in role.policies
            for st in doc.statements
        )
        # Today's Denies as `today` reads them (unconditional only), with their documents'
        # reading of `${...}`.
        self._denies: list[tuple[Statement, bool]] = []
        self._deny_reach: dict[tuple[str, str], bool] = {}
        for _, doc in role.policy_sources:
            variables = doc.reads_variables
            for grant in grants(doc):
                if grant.effect == "Allow":
                    self.allows.append(
                        HeldAllow(
                            grant,
                            statement_as_2012(doc.statements[grant.statement_index], variables),
                            variables,
                        )
                    )
            self._denies.extend(
                (st, variables)
                for st in doc.statements
                if st.effect == "Deny" and not st.has_condition
            )

    def cover(self, action: str, resource: str) -> Cover | None:
        """A grant allowing `action` on every ARN `resource` matches: an unconditional one when
        there is one, else the first conditional one."""
        found = self.conditions(action, resource)
        if not found:
            return None
        return Cover(None) if None in found else Cover(found[0])

    def cover_under(self, action: str, resource: str, condition: str | None) -> Cover | None:
        """A grant allowing `action` on every ARN `resource` matches with no condition, else
        with exactly `condition`: granting it there under `condition` stays within today."""
        found = self.conditions(action, resource)
        if None in found:
            return Cover(None)
        return Cover(condition) if condition in found else None

    def conditions(self, action: str, resource: str) -> tuple[str | None, ...]:
        """The Conditions (canonical JSON; None: none) of every grant allowing `action` on
        every ARN `resource` matches, in the order of today's statements."""
        key = (action, resource)
        if key not in self._covers:
            self._covers[key] = self._find_conditions(action, resource)
        return self._covers[key]

    def sole_condition(self, action: str, resource: str, condition: str | None) -> bool:
        """Whether no grant of `action` under another condition (or none) can reach an ARN
        `resource` matches: then every call there was allowed under `condition` alone."""
        return not any(
            allow.condition != condition
            and (
                bool(allow.grant.except_resources)
                or may_overlap(resource, allow.grant.resource, allow.variables)
            )
            for allow in self.allows
            if allow.applies_to(action)
        )

    def may_deny(self, action: str, resource: str) -> bool:
        """Whether a Deny of today (as `today` reads them) might reach an ARN `resource` matches:
        by its literal prefix for a wildcard pattern, always for a NotResource Deny."""
        key = (action, resource)
        if key not in self._deny_reach:
            self._deny_reach[key] = any(
                st.not_resources is not None
                or any(may_overlap(resource, r, variables) for r in st.resources or ())
                for st, variables in self._denies
                if _deny_applies(st, action)
            )
        return self._deny_reach[key]

    def grants_action(self, action: str) -> bool:
        """False when no Allow grant of today applies to `action`, so none covers any resource."""
        if action not in self._acts:
            self._acts[action] = any(allow.applies_to(action) for allow in self.allows)
        return self._acts[action]

    def _find_conditions(self, action: str, resource: str) -> tuple[str | None, ...]:
        found: dict[str | None, None] = {}
        for allow in self.allows:
            grant = allow.grant
            if not allow.applies_to(action):
                continue
            if grant.except_resources:
                if any(may_overlap(resource, r, allow.variables) for r in grant.except_resources):
                    continue
            elif not within(resource, grant.resource, variables=allow.variables):
                continue
            found[allow.condition] = None
        return tuple(found)

    def s3_grants(self) -> list[HeldAllow]:
        """Allow grants whose action pattern can reach S3."""
        return [a for a in self.allows if could_be_s3(a.grant.action)]


def _deny_applies(st: Statement, action: str) -> bool:
    if st.actions is not None:
        return any(action_matches(a, action) for a in st.actions)
    return not any(action_matches(a, action) for a in st.not_actions or ())
