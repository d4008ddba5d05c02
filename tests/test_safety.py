"""Outputs are safe: files stay in --out, data is escaped, secrets go nowhere, SQL is bound.

HTML and email escaping of every data field (role, function, bucket, key, warning) is tested
with hostile names in test_report_render.py and test_report_delivery.py; the terminal table and
the Markdown of `rightsizer analyze` are tested here.
"""

from __future__ import annotations

import ast
import base64
import io
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import dataset_options
from mail_server import PASSWORD, USER, Inbox, authenticator, serve
from rich.console import Console

from rightsizer import synth
from rightsizer.cli import main
from rightsizer.render import (
    OUT_MANIFEST,
    render_markdown,
    render_table,
    safe_name,
    write_outputs,
)
from rightsizer.sql import load_query

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT, OTHER_ACCOUNT = "111122223333", "444455556666"
HOSTILE_NAMES = [
    "../../../../tmp/escaped",
    "..",
    ".",
    "",
    "/etc/passwd",
    "a\x00b",
    "C:\\Windows\\win.ini",
    "~root",
    ".bashrc",
    "名前-ロール",
    "x" * 300,
    "nul",
    "a/b",
]


def role_entry(name: str, account: str = ACCOUNT, sid: str | None = None) -> dict[str, Any]:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": sid or "S3", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
        ],
    }
    return {
        "role_arn": f"arn:aws:iam::{account}:role/{name}",
        "role_name": name,
        "account": account,
        "functions": [name],
        "used": [],
        "recommended_policy": policy,
        "diff": {"removed": [], "kept": [], "unknown": [], "unified": f"--- {sid}\n"},
        "counts": None,
        "warnings": [],
    }


def analysis_of(*roles: dict[str, Any]) -> dict[str, Any]:
    return {
        "window": {"start": "2026-10-01T00:00:00Z", "end": "2026-11-01T00:00:00Z", "days": 31},
        "granularity": "prefix",
        "unmapped_events": [],
        "roles": list(roles),
    }


# --- file names cannot escape --out ----------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_safe_name_is_one_plain_file_name(name: str) -> None:
    safe = safe_name(name)
    assert safe and len(safe) <= 128
    assert re.fullmatch(r"[A-Za-z0-9+=,.@_-]+", safe)
    assert not safe.startswith(".")  # neither hidden nor `..`
    assert Path(safe).name == safe


def test_outputs_of_hostile_role_names_stay_in_out(tmp_path: Path) -> None:
    out = tmp_path / "out"
    roles = [role_entry(name, sid=f"R{i}") for i, name in enumerate(HOSTILE_NAMES)]
    written = write_outputs(analysis_of(*roles), out)
    assert all(path.resolve().parent == out.resolve() for path in written)
    assert {p.name for p in out.iterdir()} == {p.name for p in written} | {OUT_MANIFEST}
    assert [p for p in tmp_path.rglob("*") if out not in p.parents and p != out] == []


def test_every_role_gets_its_own_files(tmp_path: Path) -> None:
    roles = [
        role_entry("x", ACCOUNT, "A-x"),
        role_entry(f"x-{OTHER_ACCOUNT}", ACCOUNT, "A-x-B"),
        role_entry("x", OTHER_ACCOUNT, "B-x"),
    ]
    written = write_outputs(analysis_of(*roles), tmp_path / "out")
    assert len(set(written)) == len(written) == 7


def test_a_symlink_in_out_is_replaced_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "victim.txt"
    outside.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "app-role.policy.json").symlink_to(outside)
    write_outputs(analysis_of(role_entry("app-role")), out)
    assert outside.read_text() == "precious\n"


# --- the terminal table and the Markdown of `analyze` show data, never act on it --------------

MARKUP = "[/][bold red]boom[link=https://evil.example]"
HTML = "<img src=x onerror=alert(1)>\r\n<script>alert(2)</script>"


def test_the_table_prints_markup_in_the_data_as_text() -> None:
    role = role_entry("app-role")
    role["functions"] = [MARKUP]
    role["warnings"] = [{"code": "x", "message": f"needs s3:GetObject on arn:aws:s3:::b/{MARKUP}"}]
    console = Console(file=io.StringIO(), width=300, color_system=None)
    render_table(analysis_of(role), console)
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert MARKUP in shown.replace("\n", "")


def test_the_markdown_shows_html_in_the_data_as_text() -> None:
    role = role_entry("app-role")
    role["functions"] = [HTML]
    role["warnings"] = [{"code": "x", "message": HTML}]
    markdown = render_markdown(analysis_of(role))
    prose = re.sub(r"^```.*?^```$", "", markdown, flags=re.S | re.M)
    assert "\r" not in prose and re.findall(r"(?<!\\)<", prose) == []


# --- secrets never reach logs, output, files or the database --------------------------------


@pytest.fixture
def auth_inbox() -> Iterator[tuple[Inbox, int]]:
    yield from serve(
        Inbox(), authenticator=authenticator, auth_required=True, auth_require_tls=False
    )


def _forms(secret: str) -> list[bytes]:
    """The secret as stored text might hold it: plain, UTF-16, and base64 (as SMTP AUTH sends)."""
    raw = secret.encode()
    plain_auth = base64.b64encode(b"\0" + USER.encode() + b"\0" + raw)
    return [raw, secret.encode("utf-16-le"), base64.b64encode(raw), plain_auth]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_smtp_password_reaches_no_output_file_or_database(
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    auth_inbox: tuple[Inbox, int],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    inbox, port = auth_inbox
    dataset = synth.generate(tmp_path_factory.mktemp("synth"), days=3)
    monkeypatch.setenv("RIGHTSIZER_SMTP_USER", USER)
    monkeypatch.setenv("RIGHTSIZER_SMTP_PASSWORD", PASSWORD)
    db = tmp_path / "r.duckdb"
    args = [
        "report", "--source", str(dataset.source_dir), "--db", str(db), *dataset_options(dataset),
        "--to", "sec@example.com", "--from", "rs@example.com",
        "--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--out", str(tmp_path / "r.html"),
        "--smtp-insecure",  # the server has no TLS
    ]  # fmt: skip
    assert main(args) == 0
    assert len(inbox.received) == 1  # the login worked: the password was used
    assert main(["config", "--format", "json"]) == 0
    assert main(["--debug", "config"]) == 0
    # A rejected login names the variable, never the value.
    monkeypatch.setenv("RIGHTSIZER_SMTP_PASSWORD", PASSWORD + "-wrong")
    assert main([*args, "--preview"]) == 2
    out = capsys.readouterr()
    assert "RIGHTSIZER_SMTP_PASSWORD" in out.err

    shown = [out.out.encode(), out.err.encode(), caplog.text.encode(), inbox.received[0][2]]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert db in files and tmp_path / "r.html" in files
    for secret in (PASSWORD, PASSWORD + "-wrong"):
        for form in _forms(secret):
            assert not any(form in text for text in shown), form
            assert [p for p in files if form in p.read_bytes()] == [], form


# --- SQL only with bound parameters ---------------------------------------------------------

SQL_METHODS = {"execute", "executemany", "sql", "query"}
# The only SQL texts built from parts: both insert identifiers, never values.
#  - DuckDBEngine.materialize: `CREATE TEMP TABLE {name} AS <queries/name.sql>`, name checked by
#    load_query against ^[a-z][a-z0-9_]*$;
#  - DuckDBEngine.load_table: `CREATE TEMP TABLE {name} AS SELECT * FROM {name}_rows`, name
#    checked by engine.base.identifier against the same pattern (the rows come as Arrow);
#  - SparkEngine.__init__: `CREATE TEMP VIEW {name} AS SELECT * FROM global_temp.{view}`, both
#    checked by identifier;
#  - SparkEngine._frame and spark.read_logs: a query file in Spark SQL (engine.base.prepare),
#    its values bound as `args`.
BUILT_SQL = {
    ("rightsizer/engine/duckdb.py", "materialize"),
    ("rightsizer/engine/duckdb.py", "load_table"),
    ("rightsizer/engine/duckdb.py", "attach"),  # the scratch database's generated name
    ("rightsizer/engine/duckdb.py", "detach"),
    ("rightsizer/engine/spark.py", "__init__"),
    ("rightsizer/engine/spark.py", "_frame"),
    ("rightsizer/engine/spark.py", "read_logs"),
}


def _is_text(node: ast.AST) -> bool:
    """A string literal, or literals joined with +."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_text(node.left) and _is_text(node.right)
    return False


def _sql_kind(node: ast.AST, assigned: Mapping[str, ast.AST], constants: set[str]) -> str:
    """'literal', 'query file', 'constant' or 'built' for the SQL argument of an execute()."""
    if _is_text(node):
        return "literal"
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        return "constant" if node.value.id in constants else "built"
    if isinstance(node, ast.Name):
        if node.id in constants:
            return "constant"
        value = assigned.get(node.id)
        if value is None:
            return "built"
        if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "load_query":
            return "query file"
        return _sql_kind(value, {}, constants)
    return "built"  # f-string, %, .format(), join, a call, an attribute...


def _module_constants(tree: ast.Module) -> set[str]:
    """Module-level names bound to string literals or to tuples/lists (of SQL texts)."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if _is_text(value) or isinstance(value, ast.Tuple | ast.List):
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def sql_calls() -> list[tuple[str, str, str]]:
    """(file, function, kind) of every SQL execution in the package."""
    found = []
    for path in sorted((ROOT / "rightsizer").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _module_constants(tree)
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            assigned = {
                target.id: node.value
                for node in ast.walk(function)
                if isinstance(node, ast.Assign)
                for target in node.targets
                if isinstance(target, ast.Name)
            }
            for call in ast.walk(function):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr in SQL_METHODS
                    and call.args
                ):
                    kind = _sql_kind(call.args[0], assigned, constants)
                    found.append((str(path.relative_to(ROOT)), function.name, kind))
    return found


def test_sql_text_is_never_built_from_values() -> None:
    calls = sql_calls()
    assert len(calls) >= 10  # the scan sees the package's queries
    built = {(path, function) for path, function, kind in calls if kind == "built"}
    assert built == BUILT_SQL
    assert any(kind == "query file" for _, _, kind in calls)


def test_the_query_name_put_into_sql_is_an_identifier() -> None:
    for bad in ("events; DROP TABLE files", "usage --", "x y", "Usage"):
        with pytest.raises(ValueError, match="lower_snake_case"):
            load_query(bad)


def test_query_files_take_values_only_as_bound_parameters() -> None:
    files = sorted((ROOT / "queries").glob("*.sql"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        # Python placeholders ({name}, %s, %(name)s) would mean text gets formatted in; a
        # regex's Unicode class (\p{Nd}) is not one.
        assert not re.search(r"(?<!\\p)\{[A-Za-z_]\w*\}|%s|%\(\w+\)s", text), path.name


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ('conn.execute("SELECT 1 WHERE a = ?", [a])', "literal"),
        ('conn.execute("SELECT 1 " "FROM t " + "WHERE a = $a", {"a": a})', "literal"),
        ('text = load_query("usage")\nconn.execute(text, params)', "query file"),
        ('conn.execute(f"SELECT * FROM t WHERE a = {a}")', "built"),
        ('conn.execute("SELECT * FROM t WHERE a = %s" % a)', "built"),
        ('conn.execute("SELECT * FROM t WHERE a = {}".format(a))', "built"),
        ('conn.execute("SELECT * FROM t WHERE a = " + a)', "built"),
        ('q = "SELECT " + col\nconn.sql(q)', "built"),
    ],
)
def test_the_sql_scan_tells_bound_from_built(code: str, kind: str) -> None:
    function = ast.parse(
        f"def f(conn, a, col, params):\n    {code.replace(chr(10), chr(10) + '    ')}"
    )
    body = function.body[0]
    assigned = {
        t.id: n.value
        for n in ast.walk(body)
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    (call,) = [
        n
        for n in ast.walk(body)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr in SQL_METHODS
    ]
    assert _sql_kind(call.args[0], assigned, set()) == kind
