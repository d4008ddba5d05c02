"""IAM policy documents: parse them as IAM accepts them, evaluate a request, render, measure.

Strictness: keys IAM does not know (a top-level `Statements`, a statement `Resources`) raise
PolicyError instead of being dropped, because IAM rejects them and a silently dropped key would
change what the document grants.

Conditions are kept and rendered but never evaluated: CloudTrail does not record the request
context they test. `evaluate` therefore counts a conditional Allow as an Allow (a conditional
grant is still a grant the role holds today), and lets the caller choose for a conditional Deny:

- `conditional_deny="apply"` (default): a Deny that might apply does apply. Use it to ask "does
  the current policy grant this?", so a recommendation never grants more than today.
- `conditional_deny="ignore"`: only unconditional Denies count. Use it to replay calls that
  succeeded, whose Deny conditions evidently did not hold.

Resource patterns holding policy variables (`${aws:username}`) are treated the same way: they
never widen an Allow, and they widen a Deny under "apply" only.

Longer than most modules on purpose: parsing, evaluating and rendering must agree on every
element of a statement, and tests/iam/test_iam_simulate.py judges them as one engine.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import json
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from rightsizer.errors import PolicyError
from rightsizer.iam.matching import (
    action_matches,
    compile_actions,
    compile_resources,
    escape_resource,
    has_wildcard,
    resource_matches,
    resource_regex_re2,
)
from rightsizer.iam.s3 import expand_s3_actions  # re-exported: part of the policy API

__all__ = [
    "VERSION_2008",
    "VERSION_2012",
    "ConditionalDeny",
    "Decision",
    "Evaluator",
    "Grant",
    "PolicyDocument",
    "Statement",
    "action_matches",
    "canonical_json",
    "escape_resource",
    "evaluate",
    "expand_s3_actions",
    "grants",
    "has_wildcard",
    "is_allowed",
    "parse_policy",
    "policy_size",
    "resource_matches",
    "to_dict",
]

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"
_DOCUMENT_KEYS = ("Version", "Id", "Statement")
# IAM's usual order; canonical_json writes statement keys in this order.
_STATEMENT_KEYS = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)
_LIST_FIELDS = {
    "Action": "actions",
    "NotAction": "not_actions",
    "Resource": "resources",
    "NotResource": "not_resources",
}

ConditionalDeny = Literal["apply", "ignore"]


class Decision(enum.Enum):
    """The outcome of evaluating one request against identity policies."""

    ALLOW = "allow"
    DENY = "deny"  # an explicit Deny statement applies
    IMPLICIT_DENY = "implicit_deny"  # no Allow applies


@dataclass(frozen=True, kw_only=True)
class Statement:
    """One policy statement. Exactly one of actions/not_actions is set; resources and
    not_resources are both None only in statements naming a Principal (trust policies)."""

    effect: str
    sid: str | None = None
    actions: tuple[str, ...] | None = None
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    not_resources: tuple[str, ...] | None = None
    condition: dict[str, Any] | None = field(default=None, hash=False)
    principal: Any = field(default=None, hash=False)
    not_principal: Any = field(default=None, hash=False)

    def __post_init__(self) -> None:
        for name in _LIST_FIELDS.values():
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, (value,))
            elif value is not None and not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        problem = _statement_problem(self)
        if problem is not None:
            raise _InvalidStatement(problem, self.sid)

    @property
    def has_condition(self) -> bool:
        """True when the statement only applies under a Condition (not evaluated here)."""
        return bool(self.condition)

    @property
    def condition_key(self) -> str | None:
        """The Condition as canonical JSON (None: none), to tell conditions apart."""
        return json.dumps(self.condition, sort_keys=True) if self.condition else None


def statement_as_2012(st: Statement, variables: bool) -> Statement:
    """`st` as a 2012-10-17 document must write it to mean what it means in its own. A document
    that reads no variables (2008-10-17, or no Version) reads `${...}` as text; in 2012 that
    text would be a variable, so every `$` of a Resource, NotResource or Condition value is
    escaped as `${$}`."""
    if variables:
        return st

    def escaped(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("$", "${$}")
        if isinstance(value, list | tuple):
            return type(value)(escaped(v) for v in value)
        if isinstance(value, dict):
            return {k: escaped(v) for k, v in value.items()}
        return value

    parts = (st.resources, st.not_resources, st.condition)
    if "$" not in json.dumps(parts):
        return st
    return dataclasses.replace(
        st,
        resources=escaped(st.resources),
        not_resources=escaped(st.not_resources),
        condition=escaped(st.condition),
    )


class _InvalidStatement(PolicyError):
    """A Statement built with values IAM rejects; `problem` says what, for parse's message."""

    def __init__(self, problem: str, sid: str | None) -> None:
        label = _sid_label(sid) if isinstance(sid, str) else ""
        super().__init__(f"invalid policy statement{label}: {problem}")
        self.problem = problem


@dataclass(frozen=True)
class PolicyDocument:
    """A policy: its Version (None when the document has none), statements in order, Id."""

    version: str | None = VERSION_2012
    statements: tuple[Statement, ...] = ()
    id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.statements, tuple):
            object.__setattr__(self, "statements", tuple(self.statements))
        if self.version not in (VERSION_2012, VERSION_2008, None):
            raise PolicyError(
                f'policy Version {self.version!r} is not "{VERSION_2012}" or "{VERSION_2008}"'
            )

    @property
    def reads_variables(self) -> bool:
        """True when `${...}` in a Resource is a variable or an escape: only under Version
        2012-10-17; without a Version IAM reads the document as 2008-10-17, `${` as text."""
        return self.version == VERSION_2012


class Grant(NamedTuple):
    """One (action pattern, resource pattern) pair of a statement, flattened.

    A NotAction statement yields action "*" with `except_actions`; likewise NotResource.
    """

    effect: str
    action: str
    resource: str
    has_condition: bool
    sid: str | None
    except_actions: tuple[str, ...] = ()
    except_resources: tuple[str, ...] = ()
    statement_index: int = 0

    @property
    def action_label(self) -> str:
        """The action as shown to people: its pattern, or `* except ...` for NotAction."""
        return f"* except {', '.join(self.except_actions)}" if self.except_actions else self.action

    @property
    def resource_label(self) -> str:
        """The resource as shown to people: its pattern, or `* except ...` for NotResource."""
        if self.except_resources:
            return f"* except {', '.join(self.except_resources)}"
        return self.resource


# --- parsing -------------------------------------------------------------------------------


def parse_policy(
    doc: Mapping[str, Any] | str | bytes | PolicyDocument, *, name: str = "policy"
) -> PolicyDocument:
    """Parse a policy given as a dict, JSON text or URL-encoded JSON text (as IAM returns it).

    Raises PolicyError naming `name` and the problem when IAM would reject the document.
    """
    if isinstance(doc, PolicyDocument):
        return doc
    data = _decode(doc, name) if isinstance(doc, (str, bytes)) else doc
    if not isinstance(data, Mapping):
        raise PolicyError(f"policy {name!r} is not a JSON object; give a policy document")
    unknown = [key for key in data if key not in _DOCUMENT_KEYS]
    if unknown:
        raise PolicyError(
            f"policy {name!r} has unknown key {unknown[0]!r}; IAM accepts only "
            f"{', '.join(_DOCUMENT_KEYS)}"
        )
    version, policy_id = data.get("Version"), data.get("Id")
    if version not in (VERSION_2012, VERSION_2008, None):
        raise PolicyError(
            f'policy {name!r} has Version {version!r}; use "{VERSION_2012}" (or "{VERSION_2008}")'
        )
    if policy_id is not None and not isinstance(policy_id, str):
        raise PolicyError(f"policy {name!r} has a non-string Id; make it a string or remove it")
    if "Statement" not in data:
        raise PolicyError(f"policy {name!r} has no Statement; add one")
    raw = data["Statement"]
    raw_statements = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(raw_statements, list):
        raise PolicyError(f"policy {name!r}: Statement must be an object or a list of objects")
    statements = tuple(_parse_statement(item, name, i) for i, item in enumerate(raw_statements, 1))
    return PolicyDocument(version=version, statements=statements, id=policy_id)


def _decode(text: str | bytes, name: str) -> Any:
    """JSON text or URL-encoded JSON text (IAM's GetRolePolicy returns the latter) to data."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyError(f"policy {name!r} is not UTF-8 text; save it as UTF-8") from None
    stripped = text.strip()
    if not stripped.startswith("{") and "%" in stripped:
        stripped = urllib.parse.unquote(stripped).strip()
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as err:
        raise PolicyError(
            f"policy {name!r} is not valid JSON (line {err.lineno} column {err.colno}: "
            f"{err.msg}); fix the document"
        ) from None


def _parse_statement(item: Any, name: str, index: int) -> Statement:
    """One statement object to a Statement; errors name the policy, the index and the Sid."""
    sid = item.get("Sid") if isinstance(item, Mapping) else None
    where = f"policy {name!r} statement {index}{_sid_label(sid if isinstance(sid, str) else None)}"
    if not isinstance(item, Mapping):
        raise PolicyError(f"{where} is not a JSON object; each statement must be one")
    for key in item:
        if key not in _STATEMENT_KEYS:
            raise PolicyError(
                f"{where} has unknown key {key!r}; IAM accepts only {', '.join(_STATEMENT_KEYS)}"
            )
    if "Effect" not in item:
        raise PolicyError(f'{where} has no Effect; add "Effect": "Allow" or "Deny"')
    values: dict[str, Any] = {}
    for key, attr in _LIST_FIELDS.items():
        if key in item:
            values[attr] = _strings(item[key], key, where)
    for key in ("Sid", "Effect"):
        if key in item and not isinstance(item[key], str):
            raise PolicyError(f"{where}: {key} must be a string, got {item[key]!r}")
    condition = item.get("Condition")
    if condition is not None and not (
        isinstance(condition, Mapping) and all(isinstance(v, Mapping) for v in condition.values())
    ):
        raise PolicyError(
            f'{where}: Condition must map operators to key/value objects, e.g. {{"StringEquals":'
            ' {"aws:SourceAccount": "123456789012"}}'
        )
    for key in ("Principal", "NotPrincipal"):
        principal = item.get(key)
        if principal is not None and principal != "*" and not isinstance(principal, Mapping):
            raise PolicyError(f'{where}: {key} must be "*" or an object such as {{"AWS": ARN}}')
    try:
        return Statement(
            effect=item["Effect"],
            sid=item.get("Sid"),
            condition=copy.deepcopy(dict(condition)) if condition is not None else None,
            principal=copy.deepcopy(item.get("Principal")),
            not_principal=copy.deepcopy(item.get("NotPrincipal")),
            **values,
        )
    except _InvalidStatement as err:
        raise PolicyError(f"{where}: {err.problem}") from None


def _strings(value: Any, key: str, where: str) -> tuple[str, ...]:
    """A string or a list of strings, as IAM allows for Action/Resource and their Not forms."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise PolicyError(f"{where}: {key} must be a string or a list of strings, got {value!r}")
    return tuple(items)


def _statement_problem(st: Statement) -> str | None:
    """What IAM would reject in this statement, or None."""
    if st.effect not in ("Allow", "Deny"):
        return f'Effect must be "Allow" or "Deny" (case-sensitive), not {st.effect!r}'
    if st.sid is not None and not isinstance(st.sid, str):
        return f"Sid must be a string, not {st.sid!r}"
    if (st.actions is None) == (st.not_actions is None):
        return "needs exactly one of Action and NotAction" + (
            "; it has both" if st.actions is not None else "; it has neither"
        )
    if st.resources is not None and st.not_resources is not None:
        return "has both Resource and NotResource; keep one"
    if st.principal is not None and st.not_principal is not None:
        return "has both Principal and NotPrincipal; keep one"
    names_principal = st.principal is not None or st.not_principal is not None
    if st.resources is None and st.not_resources is None and not names_principal:
        return "has neither Resource nor NotResource; add the ARNs it applies to"
    for key, patterns in (("Action", st.actions), ("NotAction", st.not_actions)):
        problem = _patterns_problem(key, patterns, _bad_action)
        if problem:
            return problem
    for key, patterns in (("Resource", st.resources), ("NotResource", st.not_resources)):
        problem = _patterns_problem(key, patterns, lambda p: "" if p else "an empty string")
        if problem:
            return problem
    return None


def _patterns_problem(key: str, patterns: Sequence[Any] | None, check: Any) -> str | None:
    """The first bad pattern in an Action/Resource list, described, or None."""
    if patterns is None:
        return None
    if not patterns:
        return f"{key} is an empty list; name at least one"
    for pattern in patterns:
        if not isinstance(pattern, str):
            return f"{key} entries must be strings, got {pattern!r}"
        reason = check(pattern)
        if reason:
            return f"{key} {pattern!r} is {reason}"
    return None


def _bad_action(pattern: str) -> str:
    """Why an action pattern is malformed, or "" when it is fine (`*` or `service:action`)."""
    if pattern == "*":
        return ""
    service, colon, name = pattern.partition(":")
    if not colon or not service or not name or any(ch.isspace() for ch in pattern):
        return 'not "service:action" (e.g. "s3:GetObject") or "*"'
    return ""


def _sid_label(sid: str | None) -> str:
    return f" (Sid {sid!r})" if sid else ""


# --- evaluation ----------------------------------------------------------------------------


def evaluate(
    policies: PolicyDocument | Iterable[PolicyDocument],
    action: str,
    resource: str,
    *,
    conditional_deny: ConditionalDeny = "apply",
) -> Decision:
    """Evaluate a request against identity policies: an explicit Deny wins, else any Allow.

    See the module docstring for how Conditions and policy variables are treated.
    """
    return Evaluator(policies, conditional_deny=conditional_deny)(action, resource)


def is_allowed(
    policies: PolicyDocument | Iterable[PolicyDocument],
    action: str,
    resource: str,
    *,
    conditional_deny: ConditionalDeny = "apply",
) -> bool:
    """True when `evaluate` returns ALLOW."""
    decision = evaluate(policies, action, resource, conditional_deny=conditional_deny)
    return decision is Decision.ALLOW


# How a statement's Resource/NotResource matches a resource: (fullmatch or None, negate).
_ResourceTest = tuple["Callable[[str], object] | None", bool]
# A resource test as RE2 source (None: matches nothing) and whether it is negated.
Re2Test = tuple[str | None, bool]


class Evaluator:
    """`evaluate` for many requests against the same policies.

    Resource patterns are compiled once and the statements whose Action matches are looked
    up once per action, so replaying hundreds of thousands of calls costs one regex match per
    applicable statement.
    """

    def __init__(
        self,
        policies: PolicyDocument | Iterable[PolicyDocument],
        *,
        conditional_deny: ConditionalDeny = "apply",
    ) -> None:
        docs = (policies,) if isinstance(policies, PolicyDocument) else tuple(policies)
        broad = conditional_deny == "apply"
        self._statements: list[tuple[Statement, _ResourceTest]] = []
        self._readings: dict[int, tuple[bool, bool]] = {}  # statement → (variables, broad)
        for doc in docs:
            variables = doc.reads_variables
            for st in doc.statements:
                if st.effect == "Deny" and not broad and st.has_condition:
                    continue
                # A Deny under "apply" reads unresolved variables widely; an Allow never does.
                wide = broad and st.effect == "Deny"
                self._readings[len(self._statements)] = (variables, wide)
                self._statements.append((st, _resource_test(st, variables, broad=wide)))
        self._by_action: dict[str, tuple[list[_ResourceTest], list[_ResourceTest]]] = {}

    def _for_action(self, action: str) -> tuple[list[_ResourceTest], list[_ResourceTest]]:
        cached = self._by_action.get(action)
        if cached is None:
            denies: list[_ResourceTest] = []
            allows: list[_ResourceTest] = []
            for st, test in self._statements:
                if _action_applies(st, action):
                    (denies if st.effect == "Deny" else allows).append(test)
            cached = self._by_action[action] = (denies, allows)
        return cached

    def __call__(self, action: str, resource: str) -> Decision:
        denies, allows = self._for_action(action)
        for test in denies:
            if _matches(test, resource):
                return Decision.DENY
        for test in allows:
            if _matches(test, resource):
                return Decision.ALLOW
        return Decision.IMPLICIT_DENY

    def allows(self, action: str, resource: str) -> bool:
        return self(action, resource) is Decision.ALLOW

    def re2_tests(self, action: str) -> tuple[list[Re2Test], list[tuple[Re2Test, str | None]]]:
        """The Deny and the Allow statements that apply to `action`, each as the RE2 source of
        its resource test (None: no pattern can match) and whether the test is negated
        (NotResource): what a caller needs to decide a whole column of ARNs at once in RE2.
        Each Allow comes with its `Statement.condition_key`.
        """
        denies: list[Re2Test] = []
        allows: list[tuple[Re2Test, str | None]] = []
        for index, (st, _) in enumerate(self._statements):
            if _action_applies(st, action):
                variables, broad = self._readings[index]
                test = _re2_test(st, variables, broad)
                if st.effect == "Deny":
                    denies.append(test)
                else:
                    # As a 2012 document (a recommendation) writes it: comparable with one.
                    allows.append((test, statement_as_2012(st, variables).condition_key))
        return denies, allows


def _action_applies(st: Statement, action: str) -> bool:
    if st.actions is not None:
        return compile_actions(st.actions).fullmatch(action) is not None
    return st.not_actions is not None and compile_actions(st.not_actions).fullmatch(action) is None


def _resource_test(st: Statement, variables: bool, *, broad: bool) -> _ResourceTest:
    """Compile a statement's Resource; `broad` reads unresolved variables widely."""
    if st.resources is not None:
        regex = compile_resources(st.resources, variables, "any" if broad else "no_match")
        return (regex.fullmatch if regex is not None else None), False
    if st.not_resources is not None:
        # The excluded set is read the other way: narrow statement = wide exclusion.
        regex = compile_resources(st.not_resources, variables, "no_match" if broad else "any")
        return (regex.fullmatch if regex is not None else None), True
    return None, False  # no Resource: a trust-policy statement, which grants no identity request


def _re2_test(st: Statement, variables: bool, broad: bool) -> Re2Test:
    """`_resource_test` as RE2 source: the same reading of variables and of NotResource."""
    if st.resources is not None:
        return resource_regex_re2(st.resources, variables, "any" if broad else "no_match"), False
    if st.not_resources is not None:
        return resource_regex_re2(st.not_resources, variables, "no_match" if broad else "any"), True
    return None, False


def _matches(test: _ResourceTest, resource: str) -> bool:
    fullmatch, negate = test
    if fullmatch is None:
        return negate  # NotResource that excludes nothing matches all; no Resource matches none
    return (fullmatch(resource) is None) if negate else (fullmatch(resource) is not None)


# --- rendering and size --------------------------------------------------------------------


def to_dict(doc: PolicyDocument, *, as_held: bool = False) -> dict[str, Any]:
    """The document as JSON-ready data in canonical key order (one value → a plain string).
    `as_held`: Condition and Principal keep the order of the document read, as IAM holds it
    (what a deploy script compares with), instead of sorted keys."""
    order = (lambda value: value) if as_held else _sorted_keys
    out: dict[str, Any] = {}
    if doc.version is not None:
        out["Version"] = doc.version
    if doc.id is not None:
        out["Id"] = doc.id
    out["Statement"] = [_statement_dict(st, order) for st in doc.statements]
    return out


def _statement_dict(st: Statement, order: Callable[[Any], Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if st.sid is not None:
        out["Sid"] = st.sid
    out["Effect"] = st.effect
    for key, value in (("Principal", st.principal), ("NotPrincipal", st.not_principal)):
        if value is not None:
            out[key] = order(value)
    for key, attr in _LIST_FIELDS.items():
        patterns = getattr(st, attr)
        if patterns is not None:
            out[key] = patterns[0] if len(patterns) == 1 else list(patterns)
    if st.condition is not None:
        out["Condition"] = order(st.condition)
    return out


def _sorted_keys(value: Any) -> Any:
    """Mappings with keys sorted at every level (Condition and Principal have no IAM order)."""
    if isinstance(value, Mapping):
        return {key: _sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]
    return value


def canonical_json(doc: PolicyDocument | Mapping[str, Any] | str, *, indent: int | None = 2) -> str:
    """Deterministic JSON text of a policy: same document, byte-identical text.

    `indent=None` gives the compact form IAM measures. Statement and pattern order are kept.
    """
    data = to_dict(parse_policy(doc))
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(data, indent=indent, separators=separators, ensure_ascii=False)


def policy_size(doc: PolicyDocument | Mapping[str, Any] | str) -> int:
    """Characters IAM counts against its size limits (the JSON without whitespace).

    A PolicyDocument is measured in its canonical form (what rightsizer writes); a mapping or
    text is measured as given.
    """
    if isinstance(doc, PolicyDocument):
        return len(canonical_json(doc, indent=None))
    data = _decode(doc, "policy") if isinstance(doc, str) else doc
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False))


# --- helpers for generation ----------------------------------------------------------------


def grants(doc: PolicyDocument) -> list[Grant]:
    """Every (action pattern × resource pattern) of the document's statements, in order.

    Statements without Resource/NotResource (trust policies) are skipped.
    """
    out: list[Grant] = []
    for index, st in enumerate(doc.statements):
        if st.resources is None and st.not_resources is None:
            continue
        actions = st.actions if st.actions is not None else ("*",)
        resources = st.resources if st.resources is not None else ("*",)
        for action in actions:
            for resource in resources:
                out.append(
                    Grant(
                        effect=st.effect,
                        action=action,
                        resource=resource,
                        has_condition=st.has_condition,
                        sid=st.sid,
                        except_actions=st.not_actions or (),
                        except_resources=st.not_resources or (),
                        statement_index=index,
                    )
                )
    return out
