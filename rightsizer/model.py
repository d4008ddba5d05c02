"""The analysis as typed values: what `analyze` computes and every output reads.

Fields are declared in the order of the documented JSON (README, "The analysis JSON"), so
`Analysis.to_json()` is that document, key for key. Times stay `datetime` (naive UTC) and
dates `date` until `to_json()` writes them as text. `Analysis.from_json` reads a document
back (a saved `summary.json`); fields it lacks read as empty, since the contract only ever
adds fields.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from rightsizer.coverage import SkippedLog
from rightsizer.errors import ConfigError
from rightsizer.findings import Severity, severity_of
from rightsizer.model_json import NOT_IN_JSON, iso, json_value, read
from rightsizer.window import Window

# 2: ingest.non_log_objects counts only "other" (digest and insight folders are never listed).
SCHEMA_VERSION = 2


@dataclass(frozen=True)
class Finding:
    """A warning on a role: a catalogue code (rightsizer.findings) and what happened."""

    code: str
    message: str

    @property
    def severity(self) -> Severity:
        return severity_of(self.code)


@dataclass(frozen=True)
class UsedRow:
    """Permissions the role's successful calls needed, at the recommendation's granularity."""

    action: str
    resource: str
    count: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    functions: tuple[str, ...] = ()  # the functions whose calls needed it
    example_event_id: str = ""  # one of those calls


def percent(share: float) -> str:
    """A share as a whole percent that never reads 0% when something changed, nor 100% when
    something stayed: 0.004 is `1%`, 0.996 is `99%`."""
    whole = round(100 * share)
    if 0 < share < 1:
        whole = min(max(whole, 1), 99)
    return f"{whole}%"


def used_actions(rows: tuple[UsedRow, ...]) -> tuple[str, ...]:
    """The distinct S3 actions of used rows, sorted: the one meaning of "actions used"."""
    return tuple(sorted({row.action for row in rows}))


@dataclass(frozen=True)
class DeniedRow:
    action: str
    resource: str
    error_code: str
    event_name: str
    functions: tuple[str, ...]
    count: int
    last_seen: dt.datetime


@dataclass(frozen=True)
class UnknownItem:
    """A grant of today kept because the logs cannot show whether it is used."""

    action: str
    resource: str
    reason: str


@dataclass(frozen=True)
class NotGrantedRow:
    """Used, but allowed by a bucket policy rather than the role's identity policies."""

    action: str
    resource: str
    count: int


@dataclass(frozen=True)
class KmsKeyRow:
    """A KMS key S3 used on the role's behalf (SSE-KMS objects)."""

    key_arn: str
    operations: tuple[str, ...]
    buckets: tuple[str, ...]
    count: int
    last_seen: dt.datetime


@dataclass(frozen=True)
class ActivityDay:
    """The role's S3 calls on one UTC day."""

    day: dt.date
    calls: int
    denied: int


@dataclass(frozen=True)
class CurrentPolicy:
    name: str
    kind: str  # managed | inline
    arn: str | None
    document: Mapping[str, Any]


@dataclass(frozen=True)
class GrantRow:
    """One S3 grant: an action pattern on a resource pattern."""

    action: str
    resource: str


@dataclass(frozen=True)
class RemovedGrant:
    """A grant of today the recommendation drops, and what it keeps of it."""

    action: str
    resource: str
    narrowed_to: tuple[GrantRow, ...]


@dataclass(frozen=True)
class PolicyDiff:
    removed: tuple[RemovedGrant, ...]
    kept: tuple[GrantRow, ...]
    unknown: tuple[GrantRow, ...]
    unified: str


# What every output for people says of the wildcard figure it shows (README, "The figures").
WILDCARD_NOTE = (
    "wildcard actions: the actions of S3 and its family that some wildcard grant allows "
    "(wildcard_actions in the JSON), not the number of wildcard grants"
)


@dataclass(frozen=True)
class PolicyCounts:
    """The figures of one side of the diff, counted alike for today and the recommendation
    (rightsizer.diff.counts; README, "The figures")."""

    grants: int  # distinct S3 (action, resource) pairs of Allow statements, S3 family included
    s3_actions: int  # concrete S3 actions granted on any resource
    buckets: int  # buckets (or access points, bucket patterns) named
    all_buckets: bool  # a grant reaches every bucket (`*`, NotResource): shown as "all"
    wildcard_grants: int  # grants with an action pattern, or on every bucket
    # Concrete actions of S3 and the S3 family some wildcard grant allows: what people are
    # shown, since it cannot rise when a recommendation narrows (wildcard_grants can).
    wildcard_actions: int

    @property
    def buckets_label(self) -> str:
        """The bucket figure as people read it: "all" when a grant reaches every bucket."""
        return "all" if self.all_buckets else str(self.buckets)


@dataclass(frozen=True)
class Counts:
    """A role's figures: today's and the recommendation's, and what changes between them."""

    before: PolicyCounts
    after: PolicyCounts
    used_actions: int  # distinct S3 actions the window's successful calls needed
    removed_or_narrowed: int  # today's grants not kept as they are
    reduction: float | None  # removed_or_narrowed / before.grants; None without grants

    @property
    def reduction_label(self) -> str:
        """`80% (8 of 10)`: the share of today's grants removed or narrowed, and the count."""
        if self.reduction is None:
            return "-"
        return f"{percent(self.reduction)} ({self.removed_or_narrowed} of {self.before.grants})"


@dataclass(frozen=True)
class OutOfScope:
    """A statement carried over unchanged (not S3, a Deny, a NotAction)."""

    policy: str
    sid: str | None
    effect: str
    actions: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class Coarsening:
    """A resource the size limit made coarser: `from` → `to`."""

    from_: str = field(metadata={"json": "from"})
    to: str


@dataclass(frozen=True)
class Replay:
    """The window replayed against the recommendation (README: what each figure counts)."""

    calls: int
    permissions: int
    not_granted_today: int
    incomplete: int


@dataclass(frozen=True)
class Observed:
    """Successful calls of the window that needed a grant."""

    calls: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    functions: tuple[str, ...]
    example_event_id: str


@dataclass(frozen=True)
class CompanionRule:
    """Why a grant no call needed is kept: a rare path of calls the role made needs it."""

    with_calls: tuple[str, ...]  # the event names it accompanies (CreateMultipartUpload, ...)
    reason: str
    reference: str  # the mapping table's source, docs/s3-event-actions.md#...


@dataclass(frozen=True)
class UnknownReason:
    """What the logs cannot show about a grant, and how to close the gap."""

    code: str
    reason: str
    fix: str


@dataclass(frozen=True)
class GrantEvidence:
    """Why the recommendation grants `action` on `resource`: `basis` is observed, companion
    or unknown (the first that applies), and each part that applies is filled in."""

    action: str
    resource: str
    basis: str
    observed: Observed | None
    companion: CompanionRule | None
    unknown: tuple[UnknownReason, ...]

    @property
    def why(self) -> str:
        """The evidence in one line, as people read it on every output."""
        if self.basis == "observed" and self.observed is not None:
            seen = self.observed
            span = f"{iso(seen.first_seen)} to {iso(seen.last_seen)}"
            by = f" by {', '.join(seen.functions)}" if seen.functions else ""
            example = f" (e.g. event {seen.example_event_id})" if seen.example_event_id else ""
            return f"observed: {seen.calls:,} calls{by}, {span}{example}"
        if self.basis == "companion" and self.companion is not None:
            rule = self.companion
            return (
                f"companion of {', '.join(rule.with_calls)}, which the role called: "
                f"{rule.reason or 'a rare path of those calls needs it'} ({rule.reference})"
            )
        if self.unknown:
            return "; ".join(
                f"unknown ({gap.code}): {gap.reason}"
                + (f"; to close it: {gap.fix}" if gap.fix else "")
                for gap in self.unknown
            )
        return "no evidence recorded"


@dataclass(frozen=True)
class RoleAnalysis:
    """One Lambda role: its use, today's policies, the recommendation and its checks.

    `recommended_policy` is None when there is none: `refused` (the replay found a call it
    would deny) or no recommendation could be made (`replay` is None then). `changed` is
    False when the role needs no change: the recommendation is today's statements as they are.
    """

    role_arn: str
    role_name: str
    account: str
    functions: tuple[str, ...]
    lambda_role_source: str  # snapshot (trust policy) | user_agent (logs only)
    denied: tuple[DeniedRow, ...]
    kms_keys: tuple[KmsKeyRow, ...]
    activity: tuple[ActivityDay, ...]
    used: tuple[UsedRow, ...]
    unknown: tuple[UnknownItem, ...]
    not_granted_by_identity_policy: tuple[NotGrantedRow, ...]
    current_policies: tuple[CurrentPolicy, ...]
    # Attached managed policy ARNs the snapshot lacks: not read, not replaced, left attached.
    missing_policies: tuple[str, ...]
    permissions_boundary: str | None
    current_policy: Mapping[str, Any] | None
    recommended_policy: Mapping[str, Any] | None
    recommended_policy_size: int | None
    # False when the recommendation is today's document (empty diff); None without one.
    changed: bool | None
    diff: PolicyDiff
    counts: Counts | None
    out_of_scope: tuple[OutOfScope, ...]
    precision_given_up: tuple[Coarsening, ...]
    replay: Replay | None
    warnings: tuple[Finding, ...]
    evidence: tuple[GrantEvidence, ...] = ()  # one per S3 grant of the recommended policy
    refused: bool = field(default=False, metadata=NOT_IN_JSON)

    @property
    def used_actions(self) -> tuple[str, ...]:
        """The distinct S3 actions the role's successful calls needed: what "used" counts."""
        return used_actions(self.used)


@dataclass(frozen=True)
class CoverageRow:
    """Whether data events of an account and region are logged (covered | unknown)."""

    account: str | None
    region: str | None
    read: str
    write: str
    read_events: int
    write_events: int
    source: str  # inferred | selectors


@dataclass(frozen=True)
class UnmappedRow:
    """S3 calls the mapping table cannot turn into IAM actions."""

    event_source: str
    event_name: str
    reason: str
    count: int


@dataclass(frozen=True)
class SelectorFix:
    """The one command that makes a trail log the data events the analysis missed: its whole
    list of advanced event selectors, today's kept (rightsizer.trailfix)."""

    trail: str
    holes: tuple[str, ...]  # "read arn:aws:s3:::bucket/folder/" ("*": all of S3)
    advanced_event_selectors: tuple[Mapping[str, Any], ...]
    command: str
    note: str = ""  # when CloudTrail's 500-value quota widened the fix (or it cannot fit)


@dataclass(frozen=True)
class SkippedFile:
    key: str
    reason: str


@dataclass(frozen=True)
class IngestRun:
    """The ingest run before the analysis, as the ingest stage reports it
    (`IngestSummary.as_dict()`, also what `rightsizer ingest --format json` prints). A field
    added there is added here too: the README example's round trip (tests/cli/test_model.py)
    fails until it is."""

    run_id: str
    source: str
    window: Window
    files_listed: int
    files_already_ingested: int
    files_skipped_before: int
    files_read: int
    records: int
    events_added: int
    duplicates: int
    bad_records: int
    insight_records: int
    skipped_files: tuple[SkippedFile, ...]
    non_log_objects: Mapping[str, int]
    unexpected_folders: tuple[str, ...]
    seconds: float
    records_per_second: int
    strict: bool
    exit_code: int
    interrupted: bool
    # duckdb: the logs were ingested into the store; another engine read them in place
    # (nothing stored: events_added is 0) and the counts are what it read.
    engine: str
    # An engine that bills by the data it reads (athena): the bytes reading the logs scanned
    # and their price in USD; 0 for the store's ingest.
    scanned_bytes: int
    cost_usd: float

    @classmethod
    def from_json(cls, summary: Mapping[str, Any]) -> IngestRun:
        result: IngestRun = read(cls, summary, "ingest")
        return result


@dataclass(frozen=True)
class StoreTotals:
    files: int
    events: int
    skipped_files: int


@dataclass(frozen=True)
class Evidence:
    """The calls behind an activity finding: how many, when, and where they came from.

    `event_ids` are examples (the first and the last), not every call; `sessions` are the
    role session names (the function name, for Lambda's own sessions).
    """

    count: int
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    event_ids: tuple[str, ...]
    source_ips: tuple[str, ...]
    user_agents: tuple[str, ...]
    sessions: tuple[str, ...]

    def describe(self, agent_width: int = 100) -> str:
        """The evidence as one line of text (user agents cut to `agent_width` characters)."""
        parts = [f"{self.count:,} call{'s' if self.count != 1 else ''}"]
        first, last = self.first_seen, self.last_seen
        if first is not None and last is not None and first != last:
            parts.append(f"{first:%Y-%m-%d %H:%M:%S} to {last:%Y-%m-%d %H:%M:%S} UTC")
        elif last is not None:
            parts.append(f"{last:%Y-%m-%d %H:%M:%S} UTC")
        if self.event_ids:
            parts.append("event " + ", ".join(self.event_ids))
        if self.sessions:
            parts.append("session " + ", ".join(self.sessions))
        if self.source_ips:
            parts.append("from " + ", ".join(self.source_ips))
        if self.user_agents:
            cut = [
                a if len(a) <= agent_width else a[: agent_width - 3] + "..."
                for a in self.user_agents
            ]
            parts.append("user agent " + " | ".join(cut))
        return "; ".join(parts)


@dataclass(frozen=True)
class ActivityFinding:
    """Something a Lambda role's credentials did that a security engineer should see
    (rightsizer.watch; codes in rightsizer.watch.codes, apart from the warning codes).

    `subject` names what the finding is about in words that stay the same between runs (a
    bucket, a session and address, an hour), so a report can tell a new finding from one it
    showed before. `blocked_by` and `statement` belong to `denied-call`: which policy denies
    the call, and the smallest statement that would allow it (never added to the
    recommendation).
    """

    code: str
    # The code's, never given: written to the JSON beside it, not read back from it.
    severity: str = field(init=False)
    role_arn: str
    role_name: str
    subject: str
    message: str
    evidence: Evidence
    what_to_do: str
    blocked_by: str | None = None
    statement: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        # Imported here: the rightsizer.watch package imports this module.
        from rightsizer.watch.codes import activity_severity

        object.__setattr__(self, "severity", activity_severity(self.code))

    @property
    def statement_text(self) -> str:
        """The statement as one line of JSON, as the outputs show it; empty without one."""
        return json.dumps(dict(self.statement)) if self.statement is not None else ""

    @property
    def key(self) -> str:
        """What identifies the finding from one report to the next."""
        return f"{self.code} {self.role_arn} {self.subject}"


@dataclass(frozen=True)
class WatchBasis:
    """What the activity findings could judge: the history behind `first-seen`, the policy
    changes the store holds, whether source addresses could be placed, and the thresholds.

    `recent_start`: `first-seen` judges the calls from here to the window end against every
    call the store holds before it (`history_start` on, `history_days` days).
    """

    recent_start: dt.datetime
    history_start: dt.datetime | None
    history_days: int
    first_seen_judged: bool
    policy_change_events: int
    aws_ip_ranges: bool
    thresholds: Mapping[str, int]
    notes: tuple[str, ...]

    def describe(self) -> list[str]:
        """What the findings were judged on, as lines of text: history, thresholds, limits."""
        lines = []
        if self.first_seen_judged and self.history_start is not None:
            lines.append(
                f"first seen: calls since {self.recent_start:%Y-%m-%d %H:%M} UTC against "
                f"{self.history_days} days of history from {self.history_start:%Y-%m-%d} on"
            )
        lines.append("thresholds: " + ", ".join(f"{k} {v}" for k, v in self.thresholds.items()))
        lines.extend(self.notes)
        return lines


@dataclass(frozen=True)
class Scope:
    """Which Lambda roles an analysis covers: those named in `roles` (every one when empty),
    of the `accounts` given (any when empty); `only_changes`: only those whose policy changes.
    A report compares itself only with the previous report of the same scope."""

    roles: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    only_changes: bool = False

    @classmethod
    def of(cls, roles: Iterable[str], accounts: Iterable[str], only_changes: bool) -> Scope:
        """The scope of these filters, in a canonical order."""
        return cls(tuple(sorted(set(roles))), tuple(sorted(set(accounts))), only_changes)

    def describe(self) -> str:
        """The filters in words; empty for the whole scope."""
        parts = []
        if self.roles:
            parts.append("roles " + ", ".join(self.roles))
        if self.accounts:
            parts.append("accounts " + ", ".join(self.accounts))
        if self.only_changes:
            parts.append("only roles whose policy changes")
        return "; ".join(parts)


@dataclass(frozen=True)
class Analysis:
    """The analysis of a window: every Lambda role, and how far the logs can be trusted.

    `ingest` is None when the analysis ingested nothing first; `findings` are the activity
    findings of rightsizer.watch, `watch` what they could judge (None when not looked for).
    `warnings` hold for every role (a window too short to trust): said once, not per role.
    `scope`: the filters the roles were chosen with.
    """

    window: Window
    granularity: str
    ingest: IngestRun | None
    store: StoreTotals
    coverage: tuple[CoverageRow, ...]
    skipped_log_files: tuple[SkippedLog, ...]
    unmapped_events: tuple[UnmappedRow, ...]
    roles: tuple[RoleAnalysis, ...]
    selector_fixes: tuple[SelectorFix, ...] = ()  # one per trail with holes to close
    findings: tuple[ActivityFinding, ...] = ()
    watch: WatchBasis | None = None
    warnings: tuple[Finding, ...] = ()
    scope: Scope = Scope()  # the filters the analysis ran with

    @property
    def refused(self) -> tuple[str, ...]:
        """ARNs of the roles whose recommendation failed its replay."""
        return tuple(role.role_arn for role in self.roles if role.refused)

    @property
    def exit_code(self) -> int:
        return 3 if self.refused else 0

    def to_json(self) -> dict[str, Any]:
        """The documented JSON document, as Python values (json.dumps writes it)."""
        return {"schema_version": SCHEMA_VERSION, **json_value(self)}

    @cached_property
    def data(self) -> dict[str, Any]:
        """`to_json()`, computed once: what the notebook and scripts read."""
        return self.to_json()

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Analysis:
        """Read an analysis document; ConfigError names what does not fit the model."""
        version = document.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise ConfigError(
                f"analysis has schema_version {version!r}; this rightsizer reads "
                f"{SCHEMA_VERSION}: re-run `rightsizer analyze`"
            )
        analysis: Analysis = read(cls, document, "analysis")
        # A document marks a refusal as no policy after a replay that ran.
        roles = tuple(
            dataclasses.replace(r, refused=r.recommended_policy is None and r.replay is not None)
            for r in analysis.roles
        )
        return dataclasses.replace(analysis, roles=roles)


def as_analysis(value: Analysis | Mapping[str, Any]) -> Analysis:
    """The typed analysis, reading an analysis document when given one."""
    return value if isinstance(value, Analysis) else Analysis.from_json(value)
