"""Render an analysis for people (table, Markdown) and programs (JSON), and write `--out`."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rightsizer.errors import ConfigError
from rightsizer.files import write_atomically
from rightsizer.report.render import md

FORMATS = ("table", "json", "markdown")
# Column title → key of the analysis `counts` (before → after).
_COUNT_COLUMNS = {
    "S3 actions allowed": "s3_actions",
    "buckets": "buckets",
    "wildcard grants": "wildcard_grants",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9+=,.@_-]")
# In each --out folder: the files rightsizer wrote there, removed when a later run does not.
OUT_MANIFEST = ".rightsizer-files"


def to_json(analysis: Mapping[str, Any]) -> str:
    """The documented JSON contract, keys in a stable order."""
    return json.dumps(analysis, indent=2, ensure_ascii=False) + "\n"


def _change(role: Mapping[str, Any], key: str) -> str:
    counts = role.get("counts")
    if not counts:
        return "-"
    return f"{counts['before'][key]} → {counts['after'][key]}"


def _reduction(role: Mapping[str, Any]) -> str:
    counts = role.get("counts")
    if not counts or not counts["before"]["s3_actions"]:
        return "-"
    before, after = counts["before"]["s3_actions"], counts["after"]["s3_actions"]
    return f"{100 * (before - after) / before:.0f}%"


def _used_actions(role: Mapping[str, Any]) -> list[str]:
    return sorted({row["action"] for row in role["used"]})


def render_table(analysis: Mapping[str, Any], console: Console) -> None:
    """A terminal table, one row per role, then the warnings."""
    window = analysis["window"]
    table = Table(
        title=f"S3 right-sizing, {window['start']} to {window['end']} ({window['days']} days)",
        show_lines=True,
    )
    for column in ("role", "functions", "S3 actions used", *_COUNT_COLUMNS, "reduction"):
        table.add_column(column, overflow="fold")
    for role in analysis["roles"]:
        table.add_row(
            escape(role["role_name"]),
            escape("\n".join(role["functions"])) or "-",
            escape("\n".join(_used_actions(role))) or "(none)",
            *(_change(role, key) for key in _COUNT_COLUMNS.values()),
            _reduction(role),
        )
    console.print(table)
    for role in analysis["roles"]:
        for warning in role["warnings"]:
            console.print(
                f"[yellow]warning[/] {escape(role['role_name'])}: {escape(warning['message'])}",
                markup=True,
                highlight=False,
            )
    for log in analysis.get("skipped_log_files", ()):
        console.print(
            f"[red]skipped[/] {escape(log['key'])}: {escape(log['reason'])} (its calls are "
            "missing from this analysis; the roles it concerns keep today's S3 grants)",
            markup=True,
            highlight=False,
        )
    for event in analysis["unmapped_events"]:
        console.print(
            f"[yellow]unmapped[/] {escape(event['event_source'])} {escape(event['event_name'])} "
            f"({event['count']} calls): {escape(event['reason'])}",
            markup=True,
            highlight=False,
        )


def render_markdown(analysis: Mapping[str, Any]) -> str:
    """A Markdown summary with each role's recommended policy and diff."""
    window = analysis["window"]
    lines = [
        "# S3 right-sizing of Lambda execution roles",
        "",
        f"Window: {window['start']} to {window['end']} ({window['days']} days), "
        f"granularity {analysis['granularity']}.",
        "",
        "| role | functions | S3 actions used | " + " | ".join(_COUNT_COLUMNS) + " | reduction |",
        "|---|---|---|---|---|---|---|",
    ]
    for role in analysis["roles"]:
        lines.append(
            f"| {md(role['role_name'])} | {md(', '.join(role['functions']) or '-')} | "
            f"{md(', '.join(_used_actions(role)) or '(none)')} | "
            + "".join(f"{_change(role, key)} | " for key in _COUNT_COLUMNS.values())
            + f"{_reduction(role)} |"
        )
    skipped = analysis.get("skipped_log_files") or []
    if skipped:
        lines += [
            "",
            "Log files skipped as unreadable (their calls are missing; the roles they "
            "concern keep today's S3 grants):",
            "",
        ]
        # Log file keys match CloudTrail's layout (no backticks): safe in a code span.
        lines += [f"- `{log['key']}`: {md(log['reason'])}" for log in skipped]
    for role in analysis["roles"]:
        lines += ["", f"## {md(role['role_name'])}", "", f"`{md(role['role_arn'])}`", ""]
        lines += [f"- **warning**: {md(w['message'])}" for w in role["warnings"]]
        if role["recommended_policy"] is not None:
            lines += [
                "",
                "Recommended policy:",
                "",
                "```json",
                json.dumps(role["recommended_policy"], indent=2),
                "```",
            ]
        if role["diff"]["unified"]:
            lines += [
                "",
                "Diff against today:",
                "",
                "```diff",
                role["diff"]["unified"].rstrip(),
                "```",
            ]
    return "\n".join(lines) + "\n"


def safe_name(role_name: str) -> str:
    """A file name from a role name that cannot leave the output folder."""
    name = _UNSAFE.sub("_", role_name).lstrip(".") or "role"
    return name[:128]


def check_out_dir(out_dir: Path) -> None:
    """Create `out_dir` if missing and make sure a file can be written there (ConfigError if not).

    Called before the analysis too, so a bad --out fails before any work.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir} is a file: name a folder (created when missing)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):  # a real write: a read-only mount fails here
            pass
    except OSError as exc:
        raise ConfigError(
            f"cannot write into --out folder {out_dir}: {exc.strerror}; choose a writable folder"
        ) from None


def _output_files(analysis: Mapping[str, Any]) -> dict[str, str]:
    """File name → text of every output: per role its policy (unless refused) and diff, then
    `summary.json`."""
    files = {}
    taken = {"summary"}  # compared ignoring case, for case-insensitive file systems
    for role in analysis["roles"]:
        base = safe_name(role["role_name"])
        candidates = [base, f"{base}-{role.get('account', '')}"]
        candidates += (f"{base}-{n}" for n in range(2, 2 + len(analysis["roles"])))
        base = next(name for name in candidates if name.lower() not in taken)
        taken.add(base.lower())
        if role["recommended_policy"] is not None:
            files[f"{base}.policy.json"] = json.dumps(role["recommended_policy"], indent=2) + "\n"
        files[f"{base}.diff"] = role["diff"]["unified"]
    files["summary.json"] = to_json(analysis)
    return files


def _read_manifest(out_dir: Path) -> set[str]:
    """The names the manifest lists; only plain output names, so an edited manifest cannot make
    rightsizer delete anything outside the folder or its own kind of file."""
    try:
        lines = (out_dir / OUT_MANIFEST).read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return set()
    return {name for name in lines if name and name[0] != "." and not _UNSAFE.search(name)}


def _write_manifest(out_dir: Path, names: Iterable[str]) -> None:
    note = "# files rightsizer wrote here; a later run removes those it does not write\n"
    write_atomically(out_dir / OUT_MANIFEST, note + "".join(f"{name}\n" for name in sorted(names)))


def write_outputs(analysis: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """Write `<role>.policy.json`, `<role>.diff` per role and `summary.json` into out_dir.

    Afterwards the folder holds this run's outputs and none of an earlier run's (a role no longer
    analyzed, a policy now refused): the manifest `.rightsizer-files` names what rightsizer wrote
    there, and only those files are ever removed. Each file is replaced by a rename, so an
    interrupted run leaves whole files, all of them named in the manifest for the next run to
    settle. Returns the outputs written (the manifest aside).
    """
    check_out_dir(out_dir)
    files = _output_files(analysis)
    earlier = _read_manifest(out_dir)
    # Claim the new names before writing them: a run cut short leaves no output unlisted.
    _write_manifest(out_dir, earlier | files.keys())
    written = [write_atomically(out_dir / name, text) for name, text in files.items()]
    current = {name.lower() for name in files}  # case-insensitive file systems: same file
    for name in earlier:
        path = out_dir / name
        if name.lower() not in current and not path.is_dir():
            path.unlink(missing_ok=True)
    _write_manifest(out_dir, files)
    return written
