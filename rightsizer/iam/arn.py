"""ARN pieces: split an ARN, name a role from its ARN, build S3 bucket and object ARNs."""

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


def s3_bucket_arn(bucket: str, partition: str = "aws") -> str:
    """`arn:P:s3:::bucket`, the resource of bucket-level actions such as s3:ListBucket."""
    return f"arn:{partition}:s3:::{bucket}"


def s3_object_arn(bucket: str, key: str, partition: str = "aws") -> str:
    """`arn:P:s3:::bucket/key` (the raw key; escape it before using it as a pattern)."""
    return f"arn:{partition}:s3:::{bucket}/{key}"
