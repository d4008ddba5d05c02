"""Deployable forms of the recommendations: `analyze --out DIR --emit terraform,cloudformation,cli`.

Each form writes one file per role with a recommendation that changes it (none for a role
shown as "no change", whose policies a file would only restructure), into its own folder of
the --out folder: `terraform/<role>.tf`, `cloudformation/<role>.yaml`, `cli/<role>.sh`. Each
states the form the policy takes and the IAM limit that applies (rightsizer.emit.forms) and
what it replaces: every policy the role has today, since the recommendation is the replacement
for all of them (non-S3 statements and Denies are carried into it), except an attached managed
policy the IAM snapshot did not hold (`missing_policies`): its grants were never read, so no
form detaches it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rightsizer.emit import cli_script, cloudformation, terraform
from rightsizer.emit.forms import INLINE_POLICY_NAME, Deployment, Target, deployment
from rightsizer.errors import ConfigError
from rightsizer.iam.policy import policy_size
from rightsizer.model import RoleAnalysis
from rightsizer.window import Window

__all__ = ["EMIT_FORMS", "Deployment", "Target", "deployment", "emit_files", "parse_emit"]


@dataclass(frozen=True)
class EmitForm:
    """One deployable form: its folder in --out, its file extension and its writer."""

    name: str
    extension: str
    write: Callable[[Target], str]


EMIT_FORMS: dict[str, EmitForm] = {
    form.name: form
    for form in (
        EmitForm("terraform", "tf", terraform.write),
        EmitForm("cloudformation", "yaml", cloudformation.write),
        EmitForm("cli", "sh", cli_script.write),
    )
}


def parse_emit(value: str | None) -> tuple[str, ...]:
    """`terraform,cli` → ("terraform", "cli"); ConfigError naming the choices for another."""
    names = tuple(dict.fromkeys(n.strip() for n in (value or "").split(",") if n.strip()))
    unknown = [name for name in names if name not in EMIT_FORMS]
    if unknown:
        raise ConfigError(
            f"--emit {','.join(unknown)} is not one of {', '.join(EMIT_FORMS)}; "
            "give them separated by commas"
        )
    return names


def emit_files(
    roles: Iterable[tuple[RoleAnalysis, str]], forms: Sequence[str], window: Window
) -> dict[str, str]:
    """`<form>/<base>.<ext>` → text for every role with a recommendation that changes it, in
    each form."""
    files: dict[str, str] = {}
    for role, base in roles:
        # No change: the recommendation is today's statements as they are.
        if not forms or role.recommended_policy is None or role.changed is False:
            continue
        deployed = deployment(
            role.role_name,
            role.recommended_policy,
            inline_beside=sum(
                policy_size(policy.document)
                for policy in role.current_policies
                if policy.kind == "inline" and policy.name != INLINE_POLICY_NAME
            ),
            attached=sum(
                1
                for policy in role.current_policies
                if policy.kind == "managed"
                and not policy.name.startswith(f"{role.role_name}-{INLINE_POLICY_NAME}-")
            )
            + len(role.missing_policies),
        )
        target = Target(role, base, deployed, _header(role, deployed, window))
        for name in forms:
            form = EMIT_FORMS[name]
            files[f"{form.name}/{base}.{form.extension}"] = form.write(target)
    return files


def _header(role: RoleAnalysis, deployed: Deployment, window: Window) -> tuple[str, ...]:
    """What the recommendation is, the form and limit it is written for, and what it replaces."""
    span = window.as_dict()
    lines = [
        f"The policy rightsizer recommends for role {role.role_name} ({role.role_arn}),",
        f"from the CloudTrail logs of {span['start']} to {span['end']} ({span['days']} days).",
        f"Form: {deployed.describe()}.",
    ]
    if deployed.problem:
        lines.append(f"It cannot be applied as written: {deployed.problem}.")
    replaced = [
        f"  {policy.kind} policy {policy.arn or policy.name}" for policy in role.current_policies
    ]
    if replaced and not role.missing_policies:
        lines += ["It replaces every policy the role has today:", *replaced]
    elif replaced:
        lines += ["It replaces the policies of the role that the IAM snapshot held:", *replaced]
    if role.missing_policies:
        lines += [
            "It leaves attached, untouched, the managed policies the IAM snapshot did not hold:",
            *(f"  managed policy {arn}" for arn in role.missing_policies),
            "Their grants could not be read, so the recommendation cannot replace them.",
        ]
    # Comment lines of at most 98 characters; ARNs and names are never broken.
    return tuple(
        wrapped
        for line in lines
        for wrapped in textwrap.wrap(
            line, 96, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False
        )
    )
