"""The recommendation as Terraform: `terraform/<role>.tf`.

An `aws_iam_role_policy` (or, over the inline limit, `aws_iam_policy` parts attached with
`aws_iam_role_policy_attachment`; or none, for a recommendation without statements), and the
detachments it replaces as resources, not comments: `aws_iam_role_policies_exclusive` and
`aws_iam_role_policy_attachments_exclusive` (hashicorp/aws 5.72 or later) leave the role exactly
the policies of this file, so applying it cannot leave today's wider grants in place beside the
recommendation; an attached policy the IAM snapshot did not hold is listed in `policy_arns`, so
it stays attached. The policy is a heredoc holding the
same JSON as `<role>.policy.json`, with Terraform's template sequences escaped.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rightsizer.emit.forms import Target

# Characters a role's file name may hold that a Terraform identifier may not.
_SPELLED = {"+": "_plus_", "=": "_eq_", ",": "_comma_", ".": "_dot_", "@": "_at_"}


def identifier(base: str) -> str:
    """A Terraform resource name from a role's file name (letters, digits, `_`, `-`)."""
    name = re.sub(r"[^A-Za-z0-9_-]", lambda m: _SPELLED.get(m.group(), "_"), base)
    return name if re.match(r"[A-Za-z_]", name) else f"role_{name}"


def _escape(text: str) -> str:
    """Text Terraform reads literally: `${` and `%{` would start a template."""
    return text.replace("${", "$${").replace("%{", "%%{")


def _string(text: str) -> str:
    return _escape(json.dumps(text))


def _heredoc(document: object) -> str:
    return f"<<EOT\n{_escape(json.dumps(document, indent=2))}\nEOT"


def write(target: Target) -> str:
    """The Terraform file of one role's recommendation."""
    name = identifier(target.base)
    role = _string(target.role.role_name)
    lines = [f"# {line}".rstrip() for line in target.header]
    lines += [
        "#",
        "# Applying this file gives the role exactly the policies below: the two *_exclusive",
        "# resources delete every other inline policy and detach every other managed policy of",
        "# the role (they need the hashicorp/aws provider 5.72 or later). Remove the policies it",
        "# replaces from the configuration that declares them as well, or each apply there puts",
        "# them back.",
    ]
    if target.role.missing_policies:
        lines += [
            "# The managed policies the IAM snapshot did not hold are in policy_arns below, so",
            "# they stay attached.",
        ]
    lines += [""]
    deployed = target.deployment
    if deployed.form == "none":
        lines += [
            "# The recommendation holds no statement, and IAM refuses a policy without one: this",
            "# file adds no policy, it only removes today's.",
            "",
        ]
    managed: list[str] = []
    inline: list[str] = []
    added: list[str] = []  # the resources that put the recommendation in place
    if deployed.form == "inline":
        part = deployed.parts[0]
        lines += [
            f'resource "aws_iam_role_policy" "{name}" {{',
            f"  name   = {_string(part.name)}",
            f"  role   = {role}",
            f"  policy = {_heredoc(part.document)}",
            "}",
            "",
        ]
        inline = [f"aws_iam_role_policy.{name}.name"]
        added = [f"aws_iam_role_policy.{name}"]
    elif deployed.form == "managed":
        for number, part in enumerate(deployed.parts, start=1):
            policy = f"{name}_{number}"
            managed.append(f"aws_iam_policy.{policy}.arn")
            added.append(f"aws_iam_role_policy_attachment.{policy}")
            lines += [
                f'resource "aws_iam_policy" "{policy}" {{',
                f"  name   = {_string(part.name)}",
                f"  policy = {_heredoc(part.document)}",
                "}",
                "",
                f'resource "aws_iam_role_policy_attachment" "{policy}" {{',
                f"  role       = {role}",
                f"  policy_arn = aws_iam_policy.{policy}.arn",
                "}",
                "",
            ]
    # Not read, so not replaced: listed, they stay attached.
    managed += [_string(arn) for arn in target.role.missing_policies]
    # Terraform runs resources in parallel unless one depends on another: the removals wait for
    # the recommendation to be in place, so the role never holds less than either.
    after = f"[{', '.join(added)}]"
    lines += [
        f'resource "aws_iam_role_policies_exclusive" "{name}" {{',
        f"  role_name    = {role}",
        f"  policy_names = [{', '.join(inline)}]",
        *([f"  depends_on   = {after}"] if added else []),
        "}",
        "",
        f'resource "aws_iam_role_policy_attachments_exclusive" "{name}" {{',
        f"  role_name   = {role}",
        f"  policy_arns = [{', '.join(managed)}]",
        *([f"  depends_on  = {after}"] if added else []),
        "}",
    ]
    return "\n".join(lines) + "\n"
