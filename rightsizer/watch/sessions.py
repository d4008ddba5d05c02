"""Credentials used outside Lambda: calls made with a Lambda role's session from somewhere a
function does not run.

A function's code calls AWS with its SDK, whose user agent carries `exec-env/AWS_Lambda_<rt>`,
under a session named after the function. A call with the role's session whose user agent
lacks that mark, or whose session name is no function of the role, or (with AWS's published
address ranges at hand) whose source IP is public and outside them, is the pattern of
credentials taken from a function and used elsewhere.

The limit, said in the README too: AWS's address ranges are not known offline. Without
`--aws-ip-ranges` (the `ip-ranges.json` AWS publishes) a public source IP is shown as evidence
but decides nothing; private addresses (a VPC) and AWS service names are never outside.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rightsizer.engine import Engine
from rightsizer.errors import ConfigError
from rightsizer.model import ActivityFinding, Evidence
from rightsizer.watch.codes import Activity
from rightsizer.window import Window

LAMBDA_MARK = "exec-env/AWS_Lambda"
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Addresses a VPC (or a network peered with one) uses; documentation ranges count as public,
# as the addresses examples are written with.
_PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
        "::1/128",
    )
)


@dataclass(frozen=True)
class AwsIpRanges:
    """AWS's published address ranges (`ip-ranges.json`), asked "is this address AWS's?"."""

    networks: tuple[IpNetwork, ...]

    @classmethod
    def load(cls, path: str | Path) -> AwsIpRanges:
        """Read `ip-ranges.json`; ConfigError naming the file when it is not that document."""
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
            prefixes = [p["ip_prefix"] for p in document["prefixes"]]
            prefixes += [p["ipv6_prefix"] for p in document.get("ipv6_prefixes", [])]
            networks = [ipaddress.ip_network(prefix) for prefix in prefixes]
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"aws_ip_ranges {path}: not AWS's ip-ranges.json ({exc}); download it from "
                "https://ip-ranges.amazonaws.com/ip-ranges.json"
            ) from None
        v4 = ipaddress.collapse_addresses(n for n in networks if n.version == 4)
        v6 = ipaddress.collapse_addresses(n for n in networks if n.version == 6)
        return cls((*v4, *v6))

    def holds(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in network for network in self.networks)


@dataclass(frozen=True)
class _Source:
    """One row of queries/watch_sessions.sql."""

    role_arn: str
    session_name: str
    source_ip: str
    user_agent: str
    lambda_agent: bool
    known_session: bool | None
    calls: int
    first_seen: Any
    last_seen: Any
    first_event_id: str
    last_event_id: str
    event_names: Sequence[str]


def place(source_ip: str, ranges: AwsIpRanges | None) -> str:
    """Where an address is: `private`, `aws`, `outside-aws`, `public` (ranges not known) or
    `not-an-address` (a service name CloudTrail writes instead)."""
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return "not-an-address"
    if any(address in network for network in _PRIVATE):
        return "private"
    if ranges is None:
        return "public"
    return "aws" if ranges.holds(address) else "outside-aws"


def outside_lambda(
    engine: Engine,
    window: Window,
    role_names: Mapping[str, str],
    ranges: AwsIpRanges | None,
) -> list[ActivityFinding]:
    """`credentials-outside-lambda` findings: one per role, session and source address."""
    rows = engine.rows(
        "watch_sessions",
        {
            "window_start": window.start,
            "window_end": window.end,
            "every_source": ranges is not None,
        },
    )
    groups: dict[tuple[str, str, str], list[tuple[_Source, list[str]]]] = {}
    for row in rows:
        source = _Source(*row)
        reasons = _reasons(source, ranges)
        if reasons:
            key = (source.role_arn, source.session_name, source.source_ip)
            groups.setdefault(key, []).append((source, reasons))
    return [
        _finding(role_names[role_arn], role_arn, session, ip, sources, ranges)
        for (role_arn, session, ip), sources in sorted(groups.items())
    ]


def _reasons(source: _Source, ranges: AwsIpRanges | None) -> list[str]:
    reasons = []
    if not source.lambda_agent:
        reasons.append(f"a user agent without {LAMBDA_MARK}")
    if source.known_session is False:
        reasons.append(f"a session name, {source.session_name!r}, that is no function of the role")
    if place(source.source_ip, ranges) == "outside-aws":
        reasons.append(f"a source IP, {source.source_ip}, outside AWS's published ranges")
    return reasons


def _finding(
    role_name: str,
    role_arn: str,
    session: str,
    ip: str,
    sources: list[tuple[_Source, list[str]]],
    ranges: AwsIpRanges | None,
) -> ActivityFinding:
    reasons = sorted({reason for _, why in sources for reason in why})
    calls = [s for s, _ in sources]
    first = min(calls, key=lambda s: (s.first_seen, s.first_event_id))
    last = max(calls, key=lambda s: (s.last_seen, s.last_event_id))
    where = place(ip, ranges)
    address = {
        "public": f"{ip} (public; without --aws-ip-ranges rightsizer cannot tell if it is AWS's)",
        "private": f"{ip} (a private address: a VPC, or a network peered with one)",
        "aws": f"{ip} (in AWS's published ranges)",
        "outside-aws": f"{ip} (outside AWS's published ranges)",
    }.get(where, ip or "none")
    names = sorted({name for s in calls for name in s.event_names})
    count = sum(s.calls for s in calls)
    return ActivityFinding(
        code=Activity.CREDENTIALS_OUTSIDE_LAMBDA,
        role_arn=role_arn,
        role_name=role_name,
        subject=f"session {session or '-'} from {ip or '-'}",
        message=(
            f"{count} call{'s' if count != 1 else ''} ({', '.join(names[:5])}"
            f"{', ...' if len(names) > 5 else ''}) with the role's session {session!r} from "
            f"{address}, with " + "; ".join(reasons)
        ),
        evidence=Evidence(
            count=count,
            first_seen=first.first_seen,
            last_seen=last.last_seen,
            event_ids=tuple(dict.fromkeys([first.first_event_id, last.last_event_id])),
            source_ips=(ip,) if ip else (),
            user_agents=tuple(sorted({s.user_agent for s in calls}))[:5],
            sessions=(session,) if session else (),
        ),
        what_to_do=(
            "if no one you know made these calls, treat the role's credentials as stolen: "
            "revoke its active sessions (IAM console: Revoke active sessions, a Deny on "
            "aws:TokenIssueTime), find how they left the function (environment, logs, a "
            "dependency), and check what the calls touched"
        ),
    )
