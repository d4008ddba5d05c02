"""Render an analysis for people (table, Markdown) and programs (JSON), and write `--out`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
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


def write_outputs(analysis: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """Write `<role>.policy.json`, `<role>.diff` per role and `summary.json` into out_dir."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create --out folder {out_dir}: {exc.strerror}") from None
    written = []
    taken = {"summary"}  # compared ignoring case, for case-insensitive file systems
    for role in analysis["roles"]:
        base = safe_name(role["role_name"])
        candidates = [base, f"{base}-{role.get('account', '')}"]
        candidates += (f"{base}-{n}" for n in range(2, 2 + len(analysis["roles"])))
        base = next(name for name in candidates if name.lower() not in taken)
        taken.add(base.lower())
        if role["recommended_policy"] is not None:
            policy = json.dumps(role["recommended_policy"], indent=2) + "\n"
            written.append(write_atomically(out_dir / f"{base}.policy.json", policy))
        written.append(write_atomically(out_dir / f"{base}.diff", role["diff"]["unified"]))
    written.append(write_atomically(out_dir / "summary.json", to_json(analysis)))
    return written
