"""The warning-code catalogue and the activity-finding catalogue: every code the code base emits
is in its catalogue, and the README shows both."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from rightsizer.findings import CATALOGUE, SEVERITIES, Code, severity_of
from rightsizer.model import ActivityFinding, Evidence, Finding
from rightsizer.model_json import json_value, read
from rightsizer.watch.codes import ACTIVITY_CATALOGUE, ACTIVITY_SEVERITIES, Activity

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for p in (ROOT / "rightsizer").rglob("*.py") if p.name != "findings.py")


def _emitted_literals(tree: ast.AST) -> list[str]:
    """String literals used as a warning code: `{"code": "..."}`, `Finding("...", ...)`, and a
    catalogue code passed to any call (such as `kept.keep(..., "evidence-gap", why)`)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                code = isinstance(key, ast.Constant) and key.value == "code"
                if code and isinstance(value, ast.Constant):
                    found.append(str(value.value))
        elif isinstance(node, ast.Call):
            args = [*node.args, *(k.value for k in node.keywords)]
            literals = [a.value for a in args if isinstance(a, ast.Constant)]
            first = node.args[0] if node.args else None
            if getattr(node.func, "id", None) == "Finding" and isinstance(first, ast.Constant):
                found.append(str(first.value))
            found += [v for v in literals if v in CATALOGUE]
    return found


def test_warnings_are_emitted_with_catalogue_constants_only() -> None:
    spelled_out = {
        code: str(path.relative_to(ROOT))
        for path in SOURCES
        for code in _emitted_literals(ast.parse(path.read_text(encoding="utf-8")))
    }
    # A code spelled out is either outside the catalogue or a second copy of it.
    assert spelled_out == {}


def test_every_catalogue_code_is_emitted_somewhere() -> None:
    used = {
        node.attr
        for path in SOURCES
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "Code"
    }
    assert used == {member.name for member in Code}


def test_the_readme_table_is_the_catalogue() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("| code | severity | meaning |\n|---|---|---|\n", 1)[1].split("\n\n")[0]
    rows = [re.fullmatch(r"\| `([^`]+)` \| (\w+) \| (.+) \|", line) for line in block.splitlines()]
    assert all(rows), "a row of the README's warning-code table is malformed"
    documented = [m.groups() for m in rows if m]
    assert documented == [(c.value, c.severity, c.meaning) for c in Code]


def test_each_code_has_a_severity_and_one_line_meaning() -> None:
    for member in Code:
        assert member.severity in SEVERITIES
        assert member.meaning and "\n" not in member.meaning and len(member.meaning) <= 100
    assert Code.VERIFICATION_FAILED == "verification-failed"  # a member is its code string


def test_a_finding_takes_the_severity_of_its_code() -> None:
    assert Finding(Code.ROLE_NOT_IN_SNAPSHOT, "x").severity == "error"
    assert Finding("permissions-boundary", "x").severity == "info"
    # A code of a newer rightsizer, read from its JSON, is shown as a warning.
    assert severity_of("code-from-the-future") == "warning"


def test_an_activity_finding_takes_the_severity_of_its_code_and_writes_it() -> None:
    evidence = Evidence(2, None, None, ("e1",), (), (), ("exporter",))
    found = [
        ActivityFinding(member, "arn:r", "r", "s", "m", evidence, "look") for member in Activity
    ]
    assert [f.severity for f in found] == [member.severity for member in Activity]
    written = json_value(found[0])
    assert list(written)[:3] == ["code", "severity", "role_arn"]
    assert written["severity"] == "high"
    # Read back, the severity is the code's again, whatever the document said.
    assert read(ActivityFinding, {**written, "severity": "low"}, "finding") == found[0]
    assert read(ActivityFinding, {**written, "code": "code-from-the-future"}, "f").severity == (
        "medium"
    )


def test_the_readme_table_is_the_activity_catalogue() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("| finding | severity | meaning |\n|---|---|---|\n", 1)[1].split("\n\n")[0]
    rows = [re.fullmatch(r"\| `([^`]+)` \| (\w+) \| (.+) \|", line) for line in block.splitlines()]
    assert all(rows), "a row of the README's finding-code table is malformed"
    documented = [m.groups() for m in rows if m]
    assert documented == [(a.value, a.severity, a.meaning) for a in Activity]


def test_activity_codes_are_apart_from_warning_codes_and_each_is_emitted() -> None:
    assert not set(ACTIVITY_CATALOGUE) & set(CATALOGUE)
    used = {
        node.attr
        for path in SOURCES
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "Activity"
    }
    assert {member.name for member in Activity} <= used
    for member in Activity:
        assert member.severity in ACTIVITY_SEVERITIES
        assert member.meaning and "\n" not in member.meaning and len(member.meaning) <= 100
