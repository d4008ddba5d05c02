"""Imports flow one way: no module of rightsizer.report is part of an import circle, and the
report is built without reaching the store.

The graph is read from the source, every import statement counted: at the top, inside a
function or under TYPE_CHECKING, since a lazy import hides a circle without removing it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import rightsizer

PACKAGE = Path(rightsizer.__file__).parent


def import_graph(folder: Path, package: str) -> dict[str, set[str]]:
    """Each module of the package → the names it imports (its own modules by full name)."""
    modules: dict[str, Path] = {}
    for path in folder.rglob("*.py"):
        parts = [package, *path.relative_to(folder).with_suffix("").parts]
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                for alias in node.names:
                    # `from pkg import mod` imports the module; `from pkg import name`, pkg.
                    sub = f"{base}.{alias.name}"
                    found.add(sub if sub in modules else base)
        graph[name] = found - {name}
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every name `start` imports, directly or through the package's modules."""
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph.get(name, ()))
    return seen


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: groups of modules that each import the others, directly or not."""
    reach = {name: reachable(graph, name) for name in graph}
    found = {
        tuple(sorted(other for other in reach[name] if other in graph and name in reach[other]))
        for name in graph
        if name in reach[name]
    }
    return sorted(list(group) for group in found)


def test_no_module_of_rightsizer_is_in_an_import_circle() -> None:
    # Imports flow one way (docs/ARCHITECTURE.md), lazy and type-only imports included.
    graph = import_graph(PACKAGE, "rightsizer")
    assert "rightsizer.report.history" in graph["rightsizer.report.run"]
    assert circles(graph) == []


def test_building_a_report_reaches_no_store_and_no_network() -> None:
    # build_report is pure: its module cannot reach the store, the report history or a mailer.
    graph = import_graph(PACKAGE, "rightsizer")
    reached = reachable(graph, "rightsizer.report.build")
    assert "rightsizer.report.changes" in reached
    impure = {"duckdb", "boto3", "smtplib", "rightsizer.store", "rightsizer.report.history"}
    assert reached & impure == set()


def test_a_lazy_import_circle_is_found(tmp_path: Path) -> None:
    # The check itself: a circle closed by an import inside a function, as the report's was.
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "a.py").write_text("from pkg import b\n")
    (folder / "b.py").write_text("def later():\n    from pkg.a import thing\n")
    (folder / "c.py").write_text("from . import a\n")
    graph = import_graph(folder, "pkg")
    assert graph["pkg.c"] == {"pkg.a"}
    assert circles(graph) == [["pkg.a", "pkg.b"]]
