"""ARN pieces: split an ARN and name a role from its ARN (S3 ARNs: `rightsizer.iam.s3`)."""

from __future__ import annotations

from typing import NamedTuple


class Arn(NamedTuple):
    """`arn:partition:service:region:account:resource`; the resource may hold colons."""

    partition: str
    service: str
    region: str
    account: str
    resource: str


def parse_arn(text: str) -> Arn | None:
    """Split an ARN on its first five colons; None when the text is not an ARN."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2]:
        return None
    return Arn(*parts[1:])


def role_name(role_arn: str) -> str:
    """The role name of `arn:P:iam::A:role/path/name` (the last path segment)."""
    arn = parse_arn(role_arn)
    resource = arn.resource if arn is not None else role_arn
    return resource.rsplit("/", 1)[-1]


def names_role(name_or_arn: str, role_arn: str) -> bool:
    """True when `name_or_arn` is the role's ARN or its name (IAM role names ignore case)."""
    return name_or_arn == role_arn or name_or_arn.lower() == role_name(role_arn).lower()
