"""The notebooks in notebooks/ run top to bottom on a real kernel and are committed without outputs.

Each notebook runs in its own temporary folder (kernel working directory and TMPDIR), with the
environment a user without AWS access has: no `RIGHTSIZER_*` settings (so the exploration
notebook builds the demo data) and fake AWS credentials. The kernel is the ipykernel of this
interpreter, whatever kernelspecs the machine has installed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbformat import NotebookNode

from rightsizer import synth
from rightsizer.analyze import analyze, load_selectors, load_snapshot, policy_text
from rightsizer.ingest import ingest
from rightsizer.sources import open_source
from rightsizer.store import connect
from rightsizer.synth.scenario import (
    LAMBDA_ROLES,
    LEGACY_CLEANUP_ROLE,
    REPORT_ROLE,
    THUMBNAILER_ROLE,
)
from rightsizer.usage import compute_usage
from rightsizer.window import Window, parse_until

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
EXPLORE = NOTEBOOKS_DIR / "explore.ipynb"

# Appended to a copy of explore.ipynb: the state the kernel ended in, as one JSON line.
EXPLORE_PROBE = """
import json

from rightsizer.report import build_report

report = build_report(analysis, previous=None)
print(json.dumps({
    "db_path": str(db_path),
    "window": analysis["window"],
    "chosen": chosen["role_arn"],
    "daily_calls": {name: int(calls) for name, calls in daily.sum().items()},
    "table": role_table.set_index("role")[
        ["grants", "used", "reduction", "wildcard_actions"]
    ].to_dict("index"),
    "report": {
        r.role_name: {"grants": f"{r.grants_before} → {r.grants_after}", "used": r.actions_used}
        for r in report.roles
    },
}))
"""


@dataclass(frozen=True)
class Run:
    """An executed notebook, its working folder and TMPDIR, and what its probe cell printed."""

    notebook: NotebookNode
    workdir: Path
    tmpdir: Path
    probe: dict[str, Any]

    def cell(self, cell_id: str) -> NotebookNode:
        return next(cell for cell in self.notebook.cells if cell.get("id") == cell_id)

    def stdout(self, cell_id: str) -> str:
        outputs = self.cell(cell_id).outputs
        return "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stdout")

    def images(self, cell_id: str) -> int:
        return sum("image/png" in o.get("data", {}) for o in self.cell(cell_id).outputs)


def _kernel_env(env_dir: Path, settings: Mapping[str, str] | None) -> dict[str, str]:
    """No AWS or rightsizer settings from the caller; TMPDIR and config folders in `env_dir`."""
    keep = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("RIGHTSIZER_", "AWS_")) and name not in ("MPLBACKEND", "TMPDIR")
    }
    return keep | {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(env_dir / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(env_dir / "no-aws-credentials"),
        "XDG_CONFIG_HOME": str(env_dir / "xdg"),
        "TMPDIR": str(env_dir / "tmp"),
        **(settings or {}),
    }


def execute(
    path: Path, folder: Path, settings: Mapping[str, str] | None = None, probe: str | None = None
) -> Run:
    """Run the notebook at `path` top to bottom inside `folder`; raises on a failing cell.

    The kernel works in `folder/work` and has `folder/env/tmp` as TMPDIR; it has exited when
    this returns.
    """
    workdir, env_dir = folder / "work", folder / "env"
    workdir.mkdir(parents=True)
    (env_dir / "tmp").mkdir(parents=True)
    notebook = nbformat.read(path, as_version=4)
    if probe is not None:
        notebook.cells.append(nbformat.v4.new_code_cell(probe, id="test-probe"))
    # No kernel_dirs: only ipykernel's own spec, which starts this interpreter.
    manager = KernelManager(
        kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[])
    )
    client = NotebookClient(
        notebook, km=manager, timeout=600, resources={"metadata": {"path": str(workdir)}}
    )
    try:
        client.execute(env=_kernel_env(env_dir, settings))
    finally:
        # The client leaves a kernel manager it was given running.
        if client.kc is not None:
            client.kc.stop_channels()
        if manager.has_kernel:
            manager.shutdown_kernel()
    run = Run(notebook, workdir, env_dir / "tmp", {})
    if probe is None:
        return run
    return replace(run, probe=json.loads(run.stdout("test-probe").strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Run]:
    """Each notebook executed once on the demo data, shared by the tests of this module."""
    runs: dict[Path, Run] = {}

    def run(path: Path) -> Run:
        if path not in runs:
            folder = tmp_path_factory.mktemp(path.stem)
            runs[path] = execute(path, folder, probe=EXPLORE_PROBE if path == EXPLORE else None)
        return runs[path]

    return run


def test_notebooks_exist() -> None:
    assert EXPLORE in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_committed_notebook_has_no_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {cell.get('id')} holds outputs"
            assert cell.execution_count is None, f"{path.name} cell {cell.get('id')} was run"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs_clean_on_demo_data(path: Path, executed: Callable[[Path], Run]) -> None:
    run = executed(path)
    for cell in run.notebook.cells:
        if cell.cell_type != "code":
            continue
        assert cell.execution_count is not None
        for output in cell.outputs:
            assert output.output_type != "error", f"cell {cell.get('id')}: {output.get('evalue')}"
            # Warnings (deprecations, non-interactive backends, ...) show as stderr.
            assert output.get("name") != "stderr", f"cell {cell.get('id')}: {output.text}"
    # Nothing lands in the working folder, and temporary files are gone once the kernel exits.
    assert list(run.workdir.iterdir()) == []
    assert list(run.tmpdir.iterdir()) == []


@pytest.mark.slow
def test_explore_demo_builds_data_in_a_temporary_folder(executed: Callable[[Path], Run]) -> None:
    run = executed(EXPLORE)
    opened = run.stdout("open-data")
    assert "(demo data, just ingested)" in opened
    assert "6 Lambda execution roles" in opened
    assert Path(run.probe["db_path"]).is_relative_to(run.tmpdir)
    assert run.probe["window"]["days"] == 30
    # The demo folder is a TemporaryDirectory: removed when the kernel exits.
    assert list(run.tmpdir.iterdir()) == []


@pytest.mark.slow
def test_explore_demo_shows_charts_policy_and_denied_calls(executed: Callable[[Path], Run]) -> None:
    run = executed(EXPLORE)
    for cell_id in ("health-files", "activity-chart", "heatmap"):
        assert run.images(cell_id) == 1, cell_id
    # The most over-privileged demo role: AmazonS3FullAccess, uses six S3 actions.
    assert run.probe["chosen"] == THUMBNAILER_ROLE.arn
    policy = json.loads(run.stdout("policy"))
    assert policy["Statement"]
    assert any("acme-uploads" in str(s["Resource"]) for s in policy["Statement"])
    assert "--- current\n+++ recommended\n" in run.stdout("diff")
    calls = run.probe["daily_calls"]
    assert set(calls) == {role.name for role in LAMBDA_ROLES}
    assert calls[LEGACY_CLEANUP_ROLE.name] == 0
    assert all(count > 0 for name, count in calls.items() if name != LEGACY_CLEANUP_ROLE.name)
    denied = "".join(o.data["text/plain"] for o in run.cell("denied").outputs if "data" in o)
    assert "exporter-role" in denied and "acme-secrets/keys.txt" in denied


def test_explore_counts_each_role_as_the_report_does(executed: Callable[[Path], Run]) -> None:
    table, report = executed(EXPLORE).probe["table"], executed(EXPLORE).probe["report"]
    assert {
        name: {"grants": row["grants"], "used": row["used"]} for name, row in table.items()
    } == (report)
    # The figures of issue 15: S3FullAccess narrowed to what the role used is not "0%".
    assert table[THUMBNAILER_ROLE.name]["reduction"] == "50% (1 of 2)"
    assert table[LEGACY_CLEANUP_ROLE.name]["used"] == 0


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_explore_opens_the_database_named_by_rightsizer_db(tmp_path: Path) -> None:
    demo = synth.demo_dataset(tmp_path / "demo")
    db_path = tmp_path / "store" / "rightsizer.duckdb"
    db_path.parent.mkdir()
    source = open_source(str(demo.source_dir))
    conn = connect(db_path)
    try:
        ingest(conn, source, Window.ending(demo.until, demo.days))
    finally:
        conn.close()
        source.close()
    # A window ending mid-day, shorter than the data: days must be counted from that moment.
    until = (demo.until - dt.timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
    window = Window.ending(parse_until(until), 7)
    settings = {
        "RIGHTSIZER_DB": str(db_path),
        "RIGHTSIZER_IAM_DETAILS": str(demo.iam_details),
        "RIGHTSIZER_LAMBDA_FUNCTIONS": str(demo.lambda_functions),
        "RIGHTSIZER_EVENT_SELECTORS": str(demo.event_selectors),
        "RIGHTSIZER_DAYS": "7",
        "RIGHTSIZER_UNTIL": until,
    }
    before = _sha256(db_path)
    run = execute(EXPLORE, tmp_path / "run", settings, probe=EXPLORE_PROBE)

    assert _sha256(db_path) == before  # opened read-only: not even an ingest_runs row
    assert run.probe["db_path"] == str(db_path)
    assert run.probe["window"] == window.as_dict()
    assert "demo data" not in run.stdout("open-data")
    assert list(run.tmpdir.iterdir()) == []  # no demo data built

    conn = connect(db_path, read_only=True)
    try:
        snapshot = load_snapshot(str(demo.iam_details), str(demo.lambda_functions))
        selectors = load_selectors(str(demo.event_selectors))
        expected = analyze(conn, window, snapshot, selectors=selectors).data
        lambda_roles = {role["role_arn"]: role["functions"] for role in expected["roles"]}
        usage = compute_usage(conn, window, lambda_roles=lambda_roles, selectors=selectors)
    finally:
        conn.close()
    chosen = next(role for role in expected["roles"] if role["role_arn"] == run.probe["chosen"])
    assert run.stdout("policy") == policy_text(chosen["recommended_policy"]) + "\n"
    # With every call mapped, the chart's daily counts add up to the calls the analysis replays.
    assert not usage.unmapped
    assert run.probe["daily_calls"] == {
        role.role_name: sum(call.count for call in role.calls) for role in usage.roles.values()
    }


@pytest.mark.slow
def test_explore_shows_unknown_coverage_as_fewer_actions_under_wildcards(tmp_path: Path) -> None:
    # A trail without S3 data events: report-role's s3:* on * is kept as its data actions,
    # each on `*` (more wildcard grants); the notebook's figure must still read falling.
    dark = synth.generate(tmp_path / "dark", days=7, data_events=False)
    db_path = tmp_path / "store" / "rightsizer.duckdb"
    db_path.parent.mkdir()
    window = Window.ending(dark.until, dark.days)
    source = open_source(str(dark.source_dir))
    conn = connect(db_path)
    try:
        ingest(conn, source, window)
        snapshot = load_snapshot(str(dark.iam_details), str(dark.lambda_functions))
        expected = analyze(conn, window, snapshot).data
    finally:
        conn.close()
        source.close()
    settings = {
        "RIGHTSIZER_DB": str(db_path),
        "RIGHTSIZER_IAM_DETAILS": str(dark.iam_details),
        "RIGHTSIZER_LAMBDA_FUNCTIONS": str(dark.lambda_functions),
        "RIGHTSIZER_DAYS": str(dark.days),
        "RIGHTSIZER_UNTIL": dark.until.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    run = execute(EXPLORE, tmp_path / "run", settings, probe=EXPLORE_PROBE)

    counts = next(r for r in expected["roles"] if r["role_arn"] == REPORT_ROLE.arn)["counts"]
    before, after = counts["before"]["wildcard_actions"], counts["after"]["wildcard_actions"]
    assert counts["after"]["wildcard_grants"] > counts["before"]["wildcard_grants"]
    assert after < before
    assert run.probe["table"][REPORT_ROLE.name]["wildcard_actions"] == f"{before} → {after}"
