"""The recommendation as a CloudFormation template: `cloudformation/<role>.yaml`.

An `AWS::IAM::RolePolicy` on the existing role (or, over the inline limit, one
`AWS::IAM::ManagedPolicy` per part, attached to it; or, for a recommendation without statements,
no policy and a placeholder resource). A stack cannot detach policies it does not own, so the
policies the recommendation replaces are named in the template's comments and removed where
they are declared, or by the CLI script. The YAML is written here in block style
with every string as a JSON string (a valid YAML scalar), so no value can change its type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rightsizer.emit.forms import Target


# Keys written unquoted: plain words that YAML 1.1 does not read as a boolean or null.
_PLAIN_KEY = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_NOT_PLAIN = {"y", "n", "yes", "no", "true", "false", "on", "off", "null"}


def _key(key: str) -> str:
    plain = _PLAIN_KEY.fullmatch(key) and key.lower() not in _NOT_PLAIN
    return key if plain else json.dumps(key)


def _yaml(value: Any, depth: int) -> Iterator[str]:
    """Block-style YAML lines of a mapping or list, indented `depth` levels."""
    pad = "  " * depth
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, Mapping | list) and item:
                yield f"{pad}{_key(key)}:"
                yield from _yaml(item, depth + 1)
            else:
                yield f"{pad}{_key(key)}: {json.dumps(item)}"
        return
    for item in value:
        if isinstance(item, Mapping | list) and item:
            first, *rest = _yaml(item, depth + 1)
            yield f"{pad}- {first.lstrip()}"
            yield from rest
        else:
            yield f"{pad}- {json.dumps(item)}"


def write(target: Target) -> str:
    """The CloudFormation template of one role's recommendation."""
    role = target.role.role_name
    deployed = target.deployment
    resources: dict[str, Any] = {}
    notes: list[str] = []
    if deployed.form == "none":
        # A template needs a resource; this one creates nothing in IAM.
        resources["NoPolicy"] = {"Type": "AWS::CloudFormation::WaitConditionHandle"}
        notes = [
            "# The recommendation holds no statement, and IAM refuses a policy without one: this",
            "# template adds no policy (its one resource, a WaitConditionHandle, is a placeholder",
            "# a template needs).",
        ]
    elif deployed.form == "inline":
        part = deployed.parts[0]
        resources["RightsizedPolicy"] = {
            "Type": "AWS::IAM::RolePolicy",
            "Properties": {
                "RoleName": role,
                "PolicyName": part.name,
                "PolicyDocument": part.document,
            },
        }
    elif deployed.form == "managed":
        for number, part in enumerate(deployed.parts, start=1):
            resources[f"RightsizedPolicy{number}"] = {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "ManagedPolicyName": part.name,
                    "Roles": [role],
                    "PolicyDocument": part.document,
                },
            }
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"The policy rightsizer recommends for role {role}",
        "Resources": resources,
    }
    lines = [f"# {line}".rstrip() for line in target.header]
    lines += [
        "#",
        "# A stack cannot detach policies it does not own: once it is deployed, remove the",
        "# policies it replaces (listed above) where they are declared, such as the role's own",
        "# template.",
        *notes,
        *_yaml(template, 0),
    ]
    return "\n".join(lines) + "\n"
