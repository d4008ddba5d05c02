"""The IAM account snapshot: roles with their trust, inline, managed and boundary policies.

Sources: the JSON printed by `aws iam get-account-authorization-details` (one object, several
pages back to back, or a JSON list of pages), optionally with `aws lambda list-functions`
output to know which functions use which role; or the live account through boto3 (read-only).
Only managed policies some role references are parsed, in their default version.

Longer than most modules on purpose: the file and the live reader build the same `Role` through
the same validation, so a snapshot reads the same whichever way it came.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rightsizer.errors import PolicyError, SourceError
from rightsizer.iam.arn import names_role, parse_arn, role_name
from rightsizer.iam.policy import PolicyDocument, action_matches, parse_policy

if TYPE_CHECKING:
    import boto3

# Lambda@Edge roles must trust edgelambda as well as lambda; either makes a Lambda role.
LAMBDA_SERVICE_PRINCIPALS = frozenset({"lambda.amazonaws.com", "edgelambda.amazonaws.com"})
DETAILS_COMMAND = "aws iam get-account-authorization-details"
FUNCTIONS_COMMAND = "aws lambda list-functions"
_LIVE_FILTER = ["Role", "LocalManagedPolicy", "AWSManagedPolicy"]
_WHITESPACE = re.compile(r"\s*")
_ROLE_ARN = re.compile(r"^arn:[^:]+:iam::[0-9]*:role/")
_T = TypeVar("_T")


@dataclass(frozen=True)
class ManagedPolicy:
    """A managed policy (AWS or customer) in its default version."""

    arn: str
    name: str
    document: PolicyDocument
    version_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Role:
    """An IAM role and everything that decides what it may do."""

    arn: str
    name: str
    path: str = "/"
    role_id: str | None = None
    trust_policy: PolicyDocument | None = None
    inline_policies: Mapping[str, PolicyDocument] = field(default_factory=dict, hash=False)
    managed_policies: tuple[ManagedPolicy, ...] = ()
    permissions_boundary: ManagedPolicy | str | None = None  # str: the ARN, document not in hand
    functions: tuple[str, ...] = ()  # Lambda function names using the role, sorted
    missing_policies: tuple[str, ...] = ()  # attached managed policy ARNs the snapshot lacks

    @property
    def is_lambda_role(self) -> bool:
        """True when Lambda can assume the role (trust policy) or a function is known to use it."""
        return bool(self.functions) or _trusts_lambda(self.trust_policy)

    @property
    def policies(self) -> list[PolicyDocument]:
        """The identity policies: inline ones by name, then managed ones by ARN."""
        return [document for _, document in self.policy_sources]

    @property
    def policy_sources(self) -> list[tuple[str, PolicyDocument]]:
        """(label, document) of each identity policy; the label is the inline name or the ARN."""
        inline = [(name, self.inline_policies[name]) for name in sorted(self.inline_policies)]
        managed = sorted(self.managed_policies, key=lambda policy: policy.arn)
        return inline + [(policy.arn, policy.document) for policy in managed]

    @property
    def boundary_document(self) -> PolicyDocument | None:
        """The permissions boundary's document when the snapshot holds it."""
        boundary = self.permissions_boundary
        return boundary.document if isinstance(boundary, ManagedPolicy) else None


@dataclass(frozen=True)
class AccountSnapshot:
    """Roles by ARN, the managed policies they reference, and where the snapshot came from."""

    roles: Mapping[str, Role] = field(hash=False)
    managed_policies: Mapping[str, ManagedPolicy] = field(default_factory=dict, hash=False)
    source: str = "snapshot"
    # Function names whose execution role is not in this snapshot, by that role's ARN.
    unmatched_functions: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    def lambda_roles(self) -> list[Role]:
        """The roles Lambda can assume, sorted by ARN."""
        return [self.roles[arn] for arn in sorted(self.roles) if self.roles[arn].is_lambda_role]

    def find_role(self, name_or_arn: str) -> Role:
        """A role by ARN or by name (IAM role names are unique per account, ignoring case)."""
        if name_or_arn in self.roles:
            return self.roles[name_or_arn]
        for arn in sorted(self.roles):
            if names_role(name_or_arn, arn):
                return self.roles[arn]
        raise PolicyError(
            f"role {name_or_arn!r} is not in the IAM snapshot ({self.source}); check the name "
            "or refresh the snapshot"
        )


def _trusts_lambda(trust: PolicyDocument | None) -> bool:
    """Whether a trust policy lets a Lambda service principal call sts:AssumeRole."""
    if trust is None:
        return False
    allowed = False
    for st in trust.statements:
        principal = st.principal
        services = principal.get("Service", ()) if isinstance(principal, Mapping) else ()
        services = [services] if isinstance(services, str) else services
        if not any(str(s).lower() in LAMBDA_SERVICE_PRINCIPALS for s in services):
            continue
        if st.actions is not None:
            assumes = any(action_matches(p, "sts:AssumeRole") for p in st.actions)
        else:
            assumes = not any(action_matches(p, "sts:AssumeRole") for p in st.not_actions or ())
        if assumes and st.effect == "Deny" and not st.has_condition:
            return False
        allowed = allowed or (assumes and st.effect == "Allow")
    return allowed


# --- files ---------------------------------------------------------------------------------


def load_snapshot_file(path: str | Path) -> AccountSnapshot:
    """Load `aws iam get-account-authorization-details` output (pages merged)."""
    pages = _read_pages(Path(path), "IAM snapshot", DETAILS_COMMAND)
    return snapshot_from_pages(pages, source=str(path))


def load_lambda_functions_file(path: str | Path) -> dict[str, list[str]]:
    """Map role ARN → sorted function names from `aws lambda list-functions` output."""
    pages = _read_pages(Path(path), "Lambda functions", FUNCTIONS_COMMAND)
    if not any("Functions" in page for page in pages):
        raise PolicyError(
            f"{path} has no Functions list; save the output of `{FUNCTIONS_COMMAND}` unchanged"
        )
    return functions_by_role(pages)


def functions_by_role(pages: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Map role ARN → sorted, distinct function names from ListFunctions pages."""
    names: dict[str, set[str]] = {}
    for page in pages:
        for function in page.get("Functions") or ():
            if not isinstance(function, Mapping):
                continue
            role, name = function.get("Role"), function.get("FunctionName")
            if isinstance(role, str) and isinstance(name, str):
                names.setdefault(role, set()).add(name)
    return {role: sorted(found) for role, found in sorted(names.items())}


def attach_functions(
    snapshot: AccountSnapshot, functions: Mapping[str, Iterable[str]]
) -> AccountSnapshot:
    """A new snapshot whose roles list the functions using them.

    A function's role ARN is matched exactly, else by account and role name (Lambda keeps the
    ARN as it was given); functions of roles not in the snapshot go to `unmatched_functions`.
    """
    by_name = {(_account(arn), role.name.lower()): arn for arn, role in snapshot.roles.items()}
    found: dict[str, set[str]] = {}
    unmatched: dict[str, set[str]] = {k: set(v) for k, v in snapshot.unmatched_functions.items()}
    for role_arn, names in functions.items():
        target = role_arn if role_arn in snapshot.roles else None
        target = target or by_name.get((_account(role_arn), role_name(role_arn).lower()))
        (found if target else unmatched).setdefault(target or role_arn, set()).update(names)
    roles = {
        arn: replace(role, functions=tuple(sorted(found[arn].union(role.functions))))
        if arn in found
        else role
        for arn, role in snapshot.roles.items()
    }
    return replace(
        snapshot,
        roles=roles,
        unmatched_functions={arn: tuple(sorted(unmatched[arn])) for arn in sorted(unmatched)},
    )


def _account(arn: str) -> str:
    parsed = parse_arn(arn)
    return parsed.account if parsed else ""


def _read_pages(path: Path, what: str, command: str) -> list[dict[str, Any]]:
    """JSON pages from a file: one object, objects back to back, or a list of objects."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PolicyError(
            f"{what} file {path} not found; create it with `{command} > {path}`"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or "not UTF-8 text"
        raise PolicyError(
            f"cannot read {what} file {path} ({reason}); save `{command}` output there"
        ) from None
    decoder = json.JSONDecoder()
    pages: list[Any] = []
    pos = _skip_space(text, 0)
    while pos < len(text):
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise PolicyError(
                f"{what} file {path} is not valid JSON (line {err.lineno} column {err.colno}: "
                f"{err.msg}); save the output of `{command}` unchanged"
            ) from None
        pages.extend(value if isinstance(value, list) else [value])
        pos = _skip_space(text, pos)
    if not pages:
        raise PolicyError(f"{what} file {path} is empty; save the output of `{command}` there")
    for number, page in enumerate(pages, 1):
        if not isinstance(page, dict):
            raise PolicyError(
                f"{what} file {path}: page {number} is not a JSON object; save the output of "
                f"`{command}` unchanged"
            )
    return pages


def _skip_space(text: str, pos: int) -> int:
    match = _WHITESPACE.match(text, pos)
    return match.end() if match else pos


# --- pages to a snapshot -------------------------------------------------------------------


def snapshot_from_pages(
    pages: Sequence[Mapping[str, Any]], *, source: str = "snapshot"
) -> AccountSnapshot:
    """Merge GetAccountAuthorizationDetails pages (dicts) into a snapshot."""
    if not any("RoleDetailList" in page or "Policies" in page for page in pages):
        raise PolicyError(f"{source} has no RoleDetailList; give the output of `{DETAILS_COMMAND}`")
    policy_entries: dict[str, Mapping[str, Any]] = {}
    role_entries: dict[str, Mapping[str, Any]] = {}
    for page in pages:
        for entry in _list(page, "Policies", "page", source):
            policy_entries[_field(entry, "Arn", "managed policy", source)] = entry
        for entry in _list(page, "RoleDetailList", "page", source):
            arn = _field(entry, "Arn", "role", source)
            if not _ROLE_ARN.match(arn):
                raise PolicyError(f"{source}: role Arn {arn!r} is not an IAM role ARN")
            role_entries[arn] = entry
    managed: dict[str, ManagedPolicy] = {}

    def managed_policy(arn: str) -> ManagedPolicy | None:
        if arn not in managed and arn in policy_entries:
            managed[arn] = _managed_policy(policy_entries[arn], source)
        return managed.get(arn)

    roles = {arn: _role(entry, managed_policy, source) for arn, entry in role_entries.items()}
    return AccountSnapshot(
        roles=dict(sorted(roles.items())),
        managed_policies=dict(sorted(managed.items())),
        source=source,
    )


def _role(
    entry: Mapping[str, Any],
    managed_policy: Callable[[str], ManagedPolicy | None],
    source: str,
) -> Role:
    arn = _field(entry, "Arn", "role", source)
    name = entry.get("RoleName") or role_name(arn)
    trust_raw = entry.get("AssumeRolePolicyDocument")
    trust = None
    if trust_raw is not None:
        trust = _document(trust_raw, f"trust policy of role {name}", source)
    inline: dict[str, PolicyDocument] = {}
    for item in _list(entry, "RolePolicyList", f"role {name}", source):
        policy_name = _field(item, "PolicyName", f"inline policy of role {name}", source)
        raw = _field(item, "PolicyDocument", f"inline policy {policy_name}", source)
        inline[policy_name] = _document(raw, f"inline policy {policy_name} of role {name}", source)
    attached: list[ManagedPolicy] = []
    missing: list[str] = []
    for item in _list(entry, "AttachedManagedPolicies", f"role {name}", source):
        policy_arn = _field(item, "PolicyArn", f"attached policy of role {name}", source)
        policy = managed_policy(policy_arn)
        if policy is None:
            missing.append(policy_arn)
        else:
            attached.append(policy)
    boundary_entry = entry.get("PermissionsBoundary") or {}
    if not isinstance(boundary_entry, Mapping):
        raise PolicyError(f"{source}: PermissionsBoundary of role {name} is not an object")
    boundary_arn = _text(boundary_entry.get("PermissionsBoundaryArn"), source)
    boundary = (managed_policy(boundary_arn) or boundary_arn) if boundary_arn else None
    return Role(
        arn=arn,
        name=name,
        path=entry.get("Path") or "/",
        role_id=entry.get("RoleId"),
        trust_policy=trust,
        inline_policies=inline,
        managed_policies=tuple(sorted(attached, key=lambda policy: policy.arn)),
        permissions_boundary=boundary,
        missing_policies=tuple(sorted(missing)),
    )


def _managed_policy(entry: Mapping[str, Any], source: str) -> ManagedPolicy:
    """The default version of a Policies entry (IsDefaultVersion, else DefaultVersionId)."""
    arn = _field(entry, "Arn", "managed policy", source)
    name = entry.get("PolicyName") or arn.rsplit("/", 1)[-1]
    versions = _list(entry, "PolicyVersionList", f"managed policy {arn}", source)
    default = [v for v in versions if v.get("IsDefaultVersion") is True]
    default = default or [
        v for v in versions if v.get("VersionId") == entry.get("DefaultVersionId")
    ]
    if not default or "Document" not in default[0]:
        raise PolicyError(
            f"managed policy {arn} in {source} has no default version document; "
            f"save the full output of `{DETAILS_COMMAND}`"
        )
    document = _document(default[0]["Document"], f"managed policy {arn}", source)
    return ManagedPolicy(
        arn=arn, name=name, document=document, version_id=default[0].get("VersionId")
    )


def _document(raw: Any, what: str, source: str) -> PolicyDocument:
    """Parse a document (dict or URL-encoded text); errors say where it came from."""
    try:
        return parse_policy(raw, name=what)
    except PolicyError as err:
        raise PolicyError(f"{source}: {err}") from None


def _field(entry: Any, key: str, what: str, source: str) -> Any:
    if not isinstance(entry, Mapping) or entry.get(key) in (None, ""):
        raise PolicyError(
            f"{source}: a {what} entry has no {key}; save the output of `{DETAILS_COMMAND}` "
            "unchanged"
        )
    value = entry[key]
    if key in ("Arn", "PolicyArn", "PolicyName") and not isinstance(value, str):
        raise PolicyError(f"{source}: the {key} of a {what} entry is not text")
    return value


def _list(entry: Mapping[str, Any], key: str, what: str, source: str) -> list[Any]:
    """A list-valued field (absent means empty); anything else is a PolicyError."""
    value = entry.get(key) or []
    if not isinstance(value, list):
        raise PolicyError(f"{source}: {key} of {what} is not a list; save the output unchanged")
    return value


def _text(value: Any, source: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise PolicyError(f"{source}: expected text, found {type(value).__name__}")
    return value


# --- live account --------------------------------------------------------------------------


def load_live(session: boto3.Session, *, regions: Sequence[str] | None = None) -> AccountSnapshot:
    """Read the snapshot from the account with read-only calls.

    `iam:GetAccountAuthorizationDetails` (paginated) gives roles and policies;
    `lambda:ListFunctions` in each region (default: the session's region) gives functions.
    """
    iam = session.client("iam")
    pages = _aws_call(
        "iam:GetAccountAuthorizationDetails",
        partial(_all_pages, iam, "get_account_authorization_details", Filter=_LIVE_FILTER),
    )
    snapshot = snapshot_from_pages(pages, source="the live IAM account")
    regions = list(regions or ([session.region_name] if session.region_name else []))
    if not regions:
        raise SourceError(
            "no AWS region to list Lambda functions in; set AWS_DEFAULT_REGION or a profile region"
        )
    functions: dict[str, set[str]] = {}
    for region in regions:
        client = session.client("lambda", region_name=region)
        region_pages = _aws_call(
            "lambda:ListFunctions", partial(_all_pages, client, "list_functions"), region
        )
        for role_arn, names in functions_by_role(region_pages).items():
            functions.setdefault(role_arn, set()).update(names)
    return attach_functions(snapshot, functions)


def _all_pages(client: Any, operation: str, **params: Any) -> list[dict[str, Any]]:
    return list(client.get_paginator(operation).paginate(**params))


_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
_BAD_CREDENTIAL_CODES = frozenset(
    {"InvalidClientTokenId", "UnrecognizedClientException", "ExpiredToken", "ExpiredTokenException"}
)


def _aws_call(permission: str, call: Callable[[], _T], region: str | None = None) -> _T:
    """Run a boto3 call, turning its errors into one-line SourceErrors naming the permission."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    where = f" in {region}" if region else ""
    try:
        return call()
    except NoCredentialsError:
        raise SourceError(
            f"no AWS credentials to call {permission}; configure credentials or a profile, "
            "or pass --iam-details FILE"
        ) from None
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code in _DENIED_CODES:
            raise SourceError(
                f"access denied calling {permission}{where}; grant the caller {permission} "
                "(read-only) or pass --iam-details FILE"
            ) from None
        if code in _BAD_CREDENTIAL_CODES:
            raise SourceError(
                f"AWS rejected the credentials ({code}) calling {permission}; refresh them"
            ) from None
        raise SourceError(f"{permission}{where} failed: {code}: {err}") from None
    except BotoCoreError as err:
        raise SourceError(f"cannot call {permission}{where}: {err}") from None
