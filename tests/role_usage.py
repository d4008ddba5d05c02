"""One Lambda role's usage and policies made by hand, for the generate and simulator tests.

Not a test module itself.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rightsizer.coverage import Coverage, ObservedRegion
from rightsizer.iam.policy import parse_policy
from rightsizer.iam.snapshot import Role
from rightsizer.usage import Companion, RoleUsage, S3Call, UsedPermission

ACCOUNT = "111122223333"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/service-role/fn-role"
T0 = dt.datetime(2026, 11, 1, 12, 0, 0)
COVERED = Coverage(observed=(ObservedRegion(ACCOUNT, "us-east-1", 10, 10),))
NO_DATA_EVENTS = Coverage(observed=())


def role(*statements: dict[str, Any], name: str = "inline") -> Role:
    """The role `ROLE_ARN` with one inline policy of `statements`."""
    doc = parse_policy({"Version": "2012-10-17", "Statement": list(statements)}, name=name)
    return Role(arn=ROLE_ARN, name="fn-role", path="/service-role/", inline_policies={name: doc})


def usage(*pairs: tuple[str, str], companions: tuple[Companion, ...] = ()) -> RoleUsage:
    """The role's usage: one successful call per (action, resource) pair, at `T0`."""
    used = tuple(UsedPermission(a, r, 1, T0, T0) for a, r in pairs)
    calls = tuple(
        S3Call("fn", "us-east-1", a.split(":")[1], "success", ((a, r),), True, 1, T0, T0, f"e{i}")
        for i, (a, r) in enumerate(pairs)
    )
    return RoleUsage(
        ROLE_ARN, "fn-role", ACCOUNT, ("fn",), calls, used, (), (), companions, ("us-east-1",)
    )
