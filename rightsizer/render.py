"""Render an analysis for people (table, Markdown) and programs (JSON), and write `--out`.

`FORMATS` is the one registry of output formats: the choices of `--format` and what the CLI
prints for each come from it. Its help text is written out in rightsizer/cli/options.py (so
`--help` need not import this module); a test holds it to `format_help()`. Every function
here takes the typed analysis or a saved analysis document (read with `Analysis.from_json`).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rightsizer.errors import ConfigError
from rightsizer.files import write_atomically
from rightsizer.model import (
    WILDCARD_NOTE,
    Analysis,
    Counts,
    PolicyCounts,
    RoleAnalysis,
    as_analysis,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

# Column title → field of the role's `counts` (before → after; README, "The figures").
COUNT_COLUMNS = {
    "S3 grants": "grants",
    "S3 actions allowed": "s3_actions",
    "buckets": "buckets",
    "wildcard actions": "wildcard_actions",  # not wildcard_grants: WILDCARD_NOTE says why
}
# How the terminal shows each severity of the warning catalogue.
_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
# And each severity of the activity findings (rightsizer.watch.codes).
_ACTIVITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan"}
_UNSAFE = re.compile(r"[^A-Za-z0-9+=,.@_-]")
# In each --out folder: the files rightsizer wrote there, removed when a later run does not.
OUT_MANIFEST = ".rightsizer-files"

AnalysisLike = Analysis | Mapping[str, Any]


def to_json(analysis: AnalysisLike) -> str:
    """The documented JSON contract, keys in a stable order (a document is written as given)."""
    document = analysis.data if isinstance(analysis, Analysis) else analysis
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def change(role: RoleAnalysis, key: str) -> str:
    """`before → after` of one of the role's counts; `-` without a recommendation."""
    return _change(role.counts, key)


def _change(counts: Counts | None, key: str) -> str:
    if counts is None:
        return "-"
    if key == "buckets":  # "all" rather than a count when a grant reaches every bucket
        return f"{counts.before.buckets_label} → {counts.after.buckets_label}"
    return f"{getattr(counts.before, key)} → {getattr(counts.after, key)}"


def reduction(role: RoleAnalysis) -> str:
    """The share of today's S3 grants the recommendation removes or narrows, and how many."""
    return _reduction(role.counts)


def _reduction(counts: Counts | None) -> str:
    return counts.reduction_label if counts is not None else "-"


def used_actions(role: RoleAnalysis) -> list[str]:
    return list(role.used_actions)


def no_change(role: RoleAnalysis) -> bool:
    """True when the role needs no change: the recommendation is today's document."""
    return role.changed is False


def totals(roles: Sequence[RoleAnalysis]) -> Counts | None:
    """The roles' figures added up (buckets read "all" when a role's reach every bucket); None
    when no role has a recommendation."""
    counted = [role.counts for role in roles if role.counts is not None]
    if not counted:
        return None

    def side(name: str) -> PolicyCounts:
        figures = [getattr(c, name) for c in counted]
        return PolicyCounts(
            grants=sum(f.grants for f in figures),
            s3_actions=sum(f.s3_actions for f in figures),
            buckets=sum(f.buckets for f in figures),
            all_buckets=any(f.all_buckets for f in figures),
            wildcard_grants=sum(f.wildcard_grants for f in figures),
            wildcard_actions=sum(f.wildcard_actions for f in figures),
        )

    before, removed = side("before"), sum(c.removed_or_narrowed for c in counted)
    return Counts(
        before=before,
        after=side("after"),
        used_actions=sum(c.used_actions for c in counted),
        removed_or_narrowed=removed,
        reduction=removed / before.grants if before.grants else None,
    )


def render_table(analysis: AnalysisLike, console: Console) -> None:
    """A terminal table, one row per role and a totals row, then the warnings labelled with
    their severity. Columns are as wide as their longest word at least, so a name or an action
    is never broken; when the console is too narrow for that, each role is a block of lines."""
    # Imported here, as in the other formats: `analyze --format json` needs neither rich
    # nor the report's templates.
    from rich import box
    from rich.table import Table

    from rightsizer.columns import fit_columns

    analysis = as_analysis(analysis)
    window = analysis.window.as_dict()
    title = f"S3 right-sizing, {window['start']} to {window['end']} ({window['days']} days)"
    header = ("role", "functions", "S3 actions used", *COUNT_COLUMNS, "reduction")
    rows = [_table_row(role) for role in analysis.roles]
    rows.append(_totals_row(analysis.roles))
    # A count reads `180 → 6` on one line; the other columns wrap between words.
    wraps = [True, True, True, *(False for _ in COUNT_COLUMNS), False]
    # Two cells between columns, none at the edges (the table's box and padding below).
    widths = fit_columns(header, rows, wraps, console.width - 2 * (len(header) - 1))
    if widths is None:
        _print_blocks(title, header, rows, console)
    else:
        table = Table(
            title=title,
            box=box.HORIZONTALS,
            show_edge=False,
            show_lines=True,
            pad_edge=False,
            collapse_padding=True,
        )
        for column, width in zip(header, widths, strict=True):
            table.add_column(column, width=width, overflow="fold")
        for row in rows[:-1]:
            table.add_row(*row)
        table.add_row(*rows[-1], style="bold")
        console.print(table)
    console.print(WILDCARD_NOTE, style="dim", highlight=False)
    _print_findings(analysis, console)


def _table_row(role: RoleAnalysis) -> list[Text]:
    from rich.text import Text

    name = Text(role.role_name)
    if no_change(role):
        name.append("\nno change", style="green")
    elif role.refused:  # its figures are today's: the role keeps its policies
        name.append("\nrefused", style="red")
    return [
        name,
        Text("\n".join(role.functions) or "-"),
        Text("\n".join(used_actions(role)) or "(none)"),
        *(Text(change(role, key)) for key in COUNT_COLUMNS.values()),
        Text(reduction(role)),
    ]


def _all_roles(count: int) -> str:
    """The label of the totals row: "all 6 roles", but "1 role"."""
    return "1 role" if count == 1 else f"all {count} roles"


def _totals_row(roles: Sequence[RoleAnalysis]) -> list[Text]:
    from rich.text import Text

    counts = totals(roles)
    functions = {f for role in roles for f in role.functions}
    actions = {action for role in roles for action in used_actions(role)}
    unchanged = sum(1 for role in roles if no_change(role))
    return [
        Text(_all_roles(len(roles)) + (f", {unchanged} unchanged" if unchanged else "")),
        Text(f"{len(functions)} functions"),
        Text(f"{len(actions)} actions"),
        *(Text(_change(counts, key)) for key in COUNT_COLUMNS.values()),
        Text(_reduction(counts)),
    ]


def _print_blocks(
    title: str, header: Sequence[str], rows: Sequence[Sequence[Text]], console: Console
) -> None:
    """The table as one block of `column: value` lines per row, for a narrow console."""
    from rich.text import Text

    console.print(Text(title, style="italic"))
    for row in rows:
        console.print()
        block = Text(row[0].plain.replace("\n", " · "), style="bold")
        for column, cell in zip(header[1:], row[1:], strict=True):
            block.append(f"\n  {column}: ").append(cell.plain.replace("\n", ", "))
        console.print(block)


def _print_findings(analysis: Analysis, console: Console) -> None:
    """The warnings of the whole analysis, then of each role, skipped log files and unmapped
    events, one line each."""
    from rich.markup import escape

    told = [("every role", w) for w in analysis.warnings]
    told += [(role.role_name, w) for role in analysis.roles for w in role.warnings]
    for whom, warning in told:
        style = _SEVERITY_STYLE[warning.severity]
        console.print(
            f"[{style}]{warning.severity}[/] {escape(whom)}: {escape(warning.message)}",
            markup=True,
            highlight=False,
        )
    for fix in analysis.selector_fixes:
        console.print(
            f"[yellow]selector fix[/] for trail {escape(fix.trail)}, so the next analysis can "
            "see the grants kept as unknown above (it keeps the trail's selectors of today):",
            markup=True,
            highlight=False,
        )
        # soft_wrap: the terminal wraps the command, no newline lands inside it.
        console.print(escape(fix.command), markup=True, highlight=False, soft_wrap=True)
        if fix.note:
            console.print(f"[yellow]note[/] {escape(fix.note)}", markup=True, highlight=False)
    for log in analysis.skipped_log_files:
        console.print(
            f"[red]skipped[/] {escape(log.key)}: {escape(log.reason)} (its calls are "
            "missing from this analysis; the roles it concerns keep today's S3 grants)",
            markup=True,
            highlight=False,
        )
    for event in analysis.unmapped_events:
        console.print(
            f"[yellow]unmapped[/] {escape(event.event_source)} {escape(event.event_name)} "
            f"({event.count} calls): {escape(event.reason)}",
            markup=True,
            highlight=False,
        )
    _print_activity(analysis, console)


def _print_activity(analysis: Analysis, console: Console) -> None:
    """The activity findings (rightsizer.watch): each with its evidence and what to do."""
    from rich.markup import escape

    if analysis.watch is None:
        return
    console.print("\nActivity findings", style="bold", highlight=False)
    for f in analysis.findings:
        style = _ACTIVITY_STYLE.get(f.severity, "yellow")
        console.print(
            f"[{style}]{f.severity}[/] {escape(f.code)} {escape(f.role_name)}: {escape(f.message)}",
            markup=True,
            highlight=False,
        )
        console.print(f"    evidence: {escape(f.evidence.describe())}", highlight=False)
        if f.statement_text:
            console.print(
                "    smallest statement that would allow it (not added to the recommendation): "
                + escape(f.statement_text),
                highlight=False,
            )
        console.print(f"    to do: {escape(f.what_to_do)}", highlight=False)
    if not analysis.findings:
        console.print("none: nothing unusual in the roles' calls", highlight=False)
    for line in analysis.watch.describe():
        console.print(f"  {escape(line)}", style="dim", highlight=False)


def render_markdown(analysis: AnalysisLike) -> str:
    """A Markdown summary with each role's recommended policy and diff."""
    from rightsizer.report.render import render_template

    return render_template(
        "analysis.md.j2",
        a=as_analysis(analysis),
        columns=COUNT_COLUMNS,
        change=change,
        reduction=reduction,
        used_actions=used_actions,
        no_change=no_change,
        totals=totals,
        total_change=_change,
        total_reduction=_reduction,
        all_roles=_all_roles,
        policy_json=lambda document: json.dumps(document, indent=2),
    )


@dataclass(frozen=True)
class OutputFormat:
    """One way `analyze` and `demo` print an analysis on stdout."""

    name: str
    note: str  # shown in the --format help, e.g. "the default"
    write: Callable[[Analysis, TextIO], None]


def _write_table(analysis: Analysis, out: TextIO) -> None:
    from rich.console import Console

    render_table(analysis, Console(file=out))


def _write_json(analysis: Analysis, out: TextIO) -> None:
    out.write(to_json(analysis))


def _write_markdown(analysis: Analysis, out: TextIO) -> None:
    out.write(render_markdown(analysis))


FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat("table", "the default, also when stdout is not a terminal", _write_table),
        OutputFormat("json", "", _write_json),
        OutputFormat("markdown", "", _write_markdown),
    )
}


def format_help() -> str:
    """`table (the default, also when stdout is not a terminal), json or markdown.`"""
    names = [f"{f.name} ({f.note})" if f.note else f.name for f in FORMATS.values()]
    return f"{', '.join(names[:-1])} or {names[-1]}."


def format_named(name: str) -> OutputFormat:
    """The registered format called `name`; ConfigError naming the choices if none is."""
    if name not in FORMATS:
        raise ConfigError(f"--format {name!r} is not one of {', '.join(FORMATS)}")
    return FORMATS[name]


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


def _output_files(analysis: AnalysisLike, emit: Sequence[str] = ()) -> dict[str, str]:
    """File name → text of every output: per role its policy (unless refused) and diff, then
    `summary.json`, then the deployable forms asked for (`<form>/<role>.<ext>`)."""
    from rightsizer.emit import emit_files

    files = {}
    taken = {"summary"}  # compared ignoring case, for case-insensitive file systems
    typed = as_analysis(analysis)
    roles = typed.roles
    bases = []
    for role in roles:
        base = safe_name(role.role_name)
        candidates = [base, f"{base}-{role.account}"]
        candidates += (f"{base}-{n}" for n in range(2, 2 + len(roles)))
        base = next(name for name in candidates if name.lower() not in taken)
        taken.add(base.lower())
        bases.append((role, base))
        if role.recommended_policy is not None:
            files[f"{base}.policy.json"] = json.dumps(role.recommended_policy, indent=2) + "\n"
        files[f"{base}.diff"] = role.diff.unified
    files["summary.json"] = to_json(analysis)
    files.update(emit_files(bases, emit, typed.window))
    return files


def _read_manifest(out_dir: Path) -> set[str]:
    """The names the manifest lists; only plain output names, so an edited manifest cannot make
    rightsizer delete anything outside the folder or its own kind of file."""
    try:
        lines = (out_dir / OUT_MANIFEST).read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return set()
    return {name for name in lines if _is_output_name(name)}


def _is_output_name(name: str) -> bool:
    """A plain file name, or one inside a deployable form's folder (`terraform/x.tf`)."""
    from rightsizer.emit import EMIT_FORMS

    folder, _, file = name.rpartition("/")
    plain = bool(file) and file[0] != "." and not _UNSAFE.search(file)
    return plain and folder in ("", *EMIT_FORMS)


def _form_folder(folder: Path) -> None:
    """A deployable form's folder inside --out; never a link that would lead the files out."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise ConfigError(f"{folder} is not a folder: remove it or choose another --out")
    folder.mkdir(exist_ok=True)


def _write_manifest(out_dir: Path, names: Iterable[str]) -> None:
    note = "# files rightsizer wrote here; a later run removes those it does not write\n"
    write_atomically(out_dir / OUT_MANIFEST, note + "".join(f"{name}\n" for name in sorted(names)))


def write_outputs(analysis: AnalysisLike, out_dir: Path, emit: Sequence[str] = ()) -> list[Path]:
    """Write `<role>.policy.json`, `<role>.diff` per role and `summary.json` into out_dir, and
    each deployable form of `emit` (rightsizer.emit) into its folder there.

    Afterwards the folder holds this run's outputs and none of an earlier run's (a role no longer
    analyzed, a policy now refused): the manifest `.rightsizer-files` names what rightsizer wrote
    there, and only those files are ever removed. Each file is replaced by a rename, so an
    interrupted run leaves whole files, all of them named in the manifest for the next run to
    settle. Returns the outputs written (the manifest aside).
    """
    check_out_dir(out_dir)
    files = _output_files(analysis, emit)
    earlier = _read_manifest(out_dir)
    # Claim the new names before writing them: a run cut short leaves no output unlisted.
    _write_manifest(out_dir, earlier | files.keys())
    for folder in {name.rpartition("/")[0] for name in files} - {""}:
        _form_folder(out_dir / folder)
    written = [write_atomically(out_dir / name, text) for name, text in files.items()]
    current = {name.lower() for name in files}  # case-insensitive file systems: same file
    for name in earlier:
        path = out_dir / name
        if name.lower() not in current and not path.is_dir() and not path.parent.is_symlink():
            path.unlink(missing_ok=True)
    _write_manifest(out_dir, files)
    return written
