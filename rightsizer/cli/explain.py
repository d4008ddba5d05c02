"""`rightsizer explain ROLE [ACTION [RESOURCE]]`: why one role's recommendation holds what it
holds, from the same analysis `analyze` runs (same options)."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rightsizer.cli.analysis import _analysis
from rightsizer.cli.app import app
from rightsizer.cli.options import AnalysisOptions, bundled, flags
from rightsizer.config import load_settings
from rightsizer.errors import ConfigError

if TYPE_CHECKING:
    from rightsizer.model import Finding, GrantEvidence, RemovedGrant, RoleAnalysis


@app.command("explain")
@bundled
def explain_command(
    options: AnalysisOptions,
    role_name: Annotated[str, typer.Argument(metavar="ROLE", help="The role: its name or ARN.")],
    action: Annotated[
        str | None, typer.Argument(help="Only this permission: an action (s3:GetObject).")
    ] = None,
    resource: Annotated[
        str | None, typer.Argument(help="Only this resource of the action (an ARN or pattern).")
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> int:
    """Why the recommendation for one role grants each S3 permission: the calls that needed it,
    the companion rule that keeps it, or what the logs cannot show; and what it removes.

    Runs the same analysis as `analyze` (same options). Exit codes: 0 done, 2 an unknown role or
    permission (the message names those that exist), 3 the recommendation was refused.
    """
    if output_format not in ("text", "json"):
        raise ConfigError(f"--format {output_format!r} is not one of text, json")
    if options.role:
        raise ConfigError("explain takes the role as its argument; drop --role")
    settings = load_settings(flags(options))
    analysis = _analysis(
        settings, dataclasses.replace(options, role=[role_name]), quiet=not sys.stderr.isatty()
    )
    for analysed in analysis.roles:
        evidence, removed = _chosen(analysed, action, resource)
        if output_format == "json":
            document = _document(analysed, evidence, removed, analysis.warnings)
            typer.echo(json.dumps(document, indent=2))
        else:
            typer.echo(_text(analysed, evidence, removed, action, analysis.warnings))
    return analysis.exit_code


def _matches(pattern: str | None, value: str) -> bool:
    from rightsizer.iam.matching import action_matches

    # Either way round: `s3:Get*` asks about s3:GetObject, and s3:DeleteObject about `s3:*`.
    return pattern is None or action_matches(pattern, value) or action_matches(value, pattern)


def _chosen(
    role: RoleAnalysis, action: str | None, resource: str | None
) -> tuple[tuple[GrantEvidence, ...], tuple[RemovedGrant, ...]]:
    """The evidence and removed grants the permission asks about; ConfigError when none."""
    from rightsizer.iam.containment import within
    from rightsizer.iam.matching import has_wildcard
    from rightsizer.iam.s3 import expand_s3_actions, is_s3_action

    unknown_action = action and is_s3_action(action) and not has_wildcard(action)
    if unknown_action and not expand_s3_actions(action or ""):
        raise ConfigError(f"{action} is not an S3 action; name one such as s3:GetObject")

    def fits(grant_action: str, grant_resource: str) -> bool:
        if not _matches(action, grant_action):
            return False
        return resource is None or resource == grant_resource or within(resource, grant_resource)

    evidence = tuple(e for e in role.evidence if fits(e.action, e.resource))
    removed = tuple(r for r in role.diff.removed if fits(r.action, r.resource))
    if (action or resource) and not evidence and not removed:
        asked = " on ".join(filter(None, (action, resource)))
        granted = ", ".join(sorted({e.action for e in role.evidence})) or "no S3 permission"
        raise ConfigError(
            f"{asked} is neither granted nor removed by the recommendation for "
            f"{role.role_name}; it grants {granted}"
        )
    return evidence, removed


def _document(
    role: RoleAnalysis,
    evidence: tuple[GrantEvidence, ...],
    removed: tuple[RemovedGrant, ...],
    every_role: tuple[Finding, ...],
) -> dict[str, Any]:
    """The explanation as JSON: the analysis's own fields for this role, and its warnings that
    hold for every role (`analysis_warnings`)."""
    from rightsizer.model_json import json_value

    return {
        "role_arn": role.role_arn,
        "role_name": role.role_name,
        "counts": json_value(role.counts),
        "evidence": json_value(evidence),
        "removed": json_value(removed),
        "warnings": json_value(role.warnings),
        "analysis_warnings": json_value(every_role),
    }


def _text(
    role: RoleAnalysis,
    evidence: tuple[GrantEvidence, ...],
    removed: tuple[RemovedGrant, ...],
    action: str | None,
    every_role: tuple[Finding, ...],
) -> str:
    """The explanation for people: the role's figures, then each permission and its evidence."""
    from rightsizer.model import WILDCARD_NOTE

    lines = [f"{role.role_name} ({role.role_arn})"]
    lines.append(f"functions: {', '.join(role.functions) or 'none found'}")
    if role.counts is not None:
        c = role.counts
        lines.append(
            f"S3 grants {c.before.grants} → {c.after.grants}, S3 actions "
            f"{c.before.s3_actions} → {c.after.s3_actions}, buckets {c.before.buckets_label} → "
            f"{c.after.buckets_label}, wildcard actions {c.before.wildcard_actions} → "
            f"{c.after.wildcard_actions}, reduction {c.reduction_label}"
        )
        lines.append(WILDCARD_NOTE)
    if role.recommended_policy is None:
        lines.append("no recommended policy: see the warnings")
    for item in evidence:
        lines += ["", f"{item.action} on {item.resource}", f"  {item.why}"]
    for grant in removed:
        lines += ["", f"{grant.action} on {grant.resource} (today)"]
        kept = [n for n in grant.narrowed_to if _matches(action, n.action)]
        lines += [f"  narrowed to {n.action} on {n.resource}" for n in kept]
        if not kept:
            asked = f"{action}: " if action else ""
            lines.append(f"  {asked}removed, no call of the window needed it")
    if role.warnings or every_role:
        lines.append("")
        lines += [f"{w.severity} {w.code}: {w.message}" for w in role.warnings]
        lines += [f"{w.severity} {w.code} (every role): {w.message}" for w in every_role]
    return "\n".join(lines)
