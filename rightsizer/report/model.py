"""The report model: what a reader needs of an analysis, as frozen dataclasses.

`build.py` makes a Report from an analysis; `changes.py` compares it with the previous
report's figures; `render.py`, `charts.py` and `message.py` read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rightsizer.model import ActivityFinding, Finding, GrantEvidence, SelectorFix, WatchBasis


@dataclass(frozen=True)
class Grant:
    """One S3 grant: an action pattern on a resource pattern."""

    action: str
    resource: str
    high_risk: bool = False
    narrowed_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoleGrant:
    """A grant named together with the role that holds it, and what the recommendation grants
    in its place (nothing: unused)."""

    role_name: str
    role_arn: str
    action: str
    resource: str
    narrowed_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class UsedAction:
    action: str
    resource: str
    count: int
    last_seen: str


@dataclass(frozen=True)
class BucketUsage:
    """The calls a role made on one bucket (`*` collects account-level calls)."""

    bucket: str
    calls: int
    last_seen: str
    actions: tuple[UsedAction, ...]


@dataclass(frozen=True)
class DeniedCall:
    action: str
    resource: str
    error_code: str
    count: int
    last_seen: str


@dataclass(frozen=True)
class UnknownUse:
    action: str
    resource: str
    reason: str


@dataclass(frozen=True)
class KmsKeyUse:
    """A KMS key the role used through S3 (SSE-KMS objects)."""

    key_arn: str
    operations: tuple[str, ...]
    count: int
    buckets: tuple[str, ...]


@dataclass(frozen=True)
class OutOfScope:
    policy: str
    sid: str | None
    actions: tuple[str, ...]


@dataclass(frozen=True)
class DayActivity:
    """A role's S3 calls on one UTC day (`day` as YYYY-MM-DD)."""

    day: str
    calls: int
    denied: int


@dataclass(frozen=True)
class RoleSection:
    """Everything the report says about one Lambda role."""

    role_name: str
    role_arn: str
    account: str
    anchor: str
    functions: tuple[str, ...]
    lambda_role_source: str
    buckets: tuple[BucketUsage, ...]
    calls: int
    kms_keys: tuple[KmsKeyUse, ...]
    denied: tuple[DeniedCall, ...]
    unknown: tuple[UnknownUse, ...]
    not_granted: tuple[UsedAction, ...]
    removed: tuple[Grant, ...]
    kept: tuple[Grant, ...]
    unknown_grants: tuple[Grant, ...]
    unified_diff: str
    current_policies: tuple[str, ...]
    permissions_boundary: str | None
    recommended_policy: Mapping[str, Any]
    recommended_policy_json: str
    recommended_policy_size: int
    grants_before: int
    grants_after: int
    grants_reduced: int  # today's grants removed or narrowed
    actions_held: int
    actions_recommended: int
    actions_used: int
    # Actions some wildcard grant allows (counts.wildcard_actions), today and recommended.
    wildcard_actions_before: int
    wildcard_actions_after: int
    warnings: tuple[Finding, ...]
    out_of_scope: tuple[OutOfScope, ...]
    precision_given_up: tuple[str, ...]
    activity: tuple[DayActivity, ...] = ()
    evidence: tuple[GrantEvidence, ...] = ()  # why each recommended S3 grant is there
    unchanged: bool = False  # the recommendation is today's document: nothing to apply
    refused: bool = False  # the replay refused the recommendation: the role keeps today's

    @property
    def held(self) -> tuple[Grant, ...]:
        """The S3 grants the role holds today."""
        return self.removed + self.kept + self.unknown_grants

    @property
    def idle(self) -> bool:
        return self.calls == 0


@dataclass(frozen=True)
class SkippedGroup:
    reason: str
    count: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class IngestHealth:
    """How the logs behind the analysis were read; `ran` is False when nothing was ingested."""

    ran: bool
    files_read: int
    records_added: int
    duplicates: int
    non_log_objects: int
    skipped: tuple[SkippedGroup, ...]
    skipped_total: int
    store_files: int
    store_events: int
    store_skipped_files: int


@dataclass(frozen=True)
class Coverage:
    account: str
    region: str
    read: str
    write: str
    source: str


@dataclass(frozen=True)
class UnmappedEvent:
    event_source: str
    event_name: str
    count: int


@dataclass(frozen=True)
class Summary:
    window_start: str
    window_end: str
    days: int
    granularity: str
    roles_analysed: int
    idle_roles: int
    grants_before: int
    grants_after: int
    grants_removed: int
    actions_held: int
    actions_recommended: int
    high_risk_before: int
    high_risk_removed: tuple[RoleGrant, ...]
    roles_unknown_coverage: tuple[str, ...]
    denied_calls: int
    wildcard_actions_before: int  # sum over roles, as actions_held
    wildcard_actions_after: int
    scope: str = ""  # the analysis's filters in words (Scope.describe); empty: every role

    @property
    def share_removed(self) -> float | None:
        """Share of today's S3 grants the recommendation removes or narrows."""
        return self.grants_removed / self.grants_before if self.grants_before else None

    @property
    def actions_share_removed(self) -> float | None:
        if not self.actions_held:
            return None
        return (self.actions_held - self.actions_recommended) / self.actions_held


@dataclass(frozen=True)
class FigureChange:
    label: str
    previous: int
    current: int

    @property
    def delta(self) -> int:
        return self.current - self.previous


@dataclass(frozen=True)
class Changes:
    """What moved since the previous report."""

    previous_window_start: str
    previous_window_end: str
    figures: tuple[FigureChange, ...]
    new_roles: tuple[str, ...]
    gone_roles: tuple[str, ...]
    new_grants: tuple[RoleGrant, ...]
    newly_unused: tuple[RoleGrant, ...]
    no_longer_held: tuple[RoleGrant, ...]
    # Keys (ActivityFinding.key) of the activity findings the previous report did not show;
    # `findings_compared` is False when its figures predate activity findings.
    new_findings: tuple[str, ...] = ()
    findings_compared: bool = False

    @property
    def anything(self) -> bool:
        moved = any(f.delta for f in self.figures)
        lists = (self.new_roles, self.gone_roles, self.new_grants, self.newly_unused)
        return moved or any(lists) or bool(self.no_longer_held) or bool(self.new_findings)


@dataclass(frozen=True)
class Report:
    summary: Summary
    ingest: IngestHealth
    coverage: tuple[Coverage, ...]
    unmapped_events: tuple[UnmappedEvent, ...]
    roles: tuple[RoleSection, ...]
    changes: Changes | None
    selector_fixes: tuple[SelectorFix, ...] = ()  # the analysis's, one command per trail
    findings: tuple[ActivityFinding, ...] = ()  # the activity findings (rightsizer.watch)
    watch: WatchBasis | None = None  # what they were judged on; None: not looked for
    warnings: tuple[Finding, ...] = ()  # the analysis's, true of every role: shown once
