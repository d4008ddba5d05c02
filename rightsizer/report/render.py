"""Render a Report as HTML, Markdown or plain text with the Jinja2 templates of this package.

Every value that comes from the data goes through `clean` (control characters made visible)
and, in HTML, through autoescaping; Markdown gets its own escaping.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from functools import cache
from typing import Any, Literal

import jinja2

from rightsizer import __version__
from rightsizer.model import WILDCARD_NOTE, percent
from rightsizer.report.charts import Chart, render_charts
from rightsizer.report.model import Report, RoleSection
from rightsizer.report.text import clean

ImageMode = Literal["data-uri", "cid"]

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~$#])")


def md(value: Any) -> str:
    """Markdown-escaped text, safe inside a paragraph or a table cell."""
    return _MD_SPECIAL.sub(r"\\\1", clean(value))


def mdcode(value: Any) -> str:
    """An inline Markdown code span, safe inside a table cell."""
    text = clean(value).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fence(value: Any) -> str:
    """A code fence longer than any run of backticks in the text."""
    longest = max((len(run) for run in re.findall(r"`+", str(value))), default=0)
    return "`" * max(3, longest + 1)


def num(value: int | float) -> str:
    return f"{value:,}"


def pct(value: float | None) -> str:
    """A share as the analysis writes it (rightsizer.model.percent); `n/a` for none."""
    return "n/a" if value is None else percent(value)


def when(value: Any) -> str:
    """`2026-11-28T00:00:00Z` → `2026-11-28 00:00 UTC`."""
    text = clean(value)
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}):\d{2}(?:\.\d+)?Z", text)
    return f"{match.group(1)} {match.group(2)} UTC" if match else text or "-"


def day(value: Any) -> str:
    return when(value).split(" ")[0]


def signed(value: int) -> str:
    return f"{value:+,}" if value else "0"


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], indent: int = 2) -> str:
    """A plain-text table with aligned columns (numbers right-aligned)."""
    cells = [[f"{c:,}" if isinstance(c, int) else clean(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    numeric = [
        all(isinstance(row[i], int | float) for row in rows) and bool(rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if numeric[i] else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return (" " * indent + "  ".join(parts)).rstrip()

    rule = " " * indent + "  ".join("-" * w for w in widths)
    return "\n".join([line(list(headers)), rule, *(line(row) for row in cells)])


def role_notes(role: RoleSection) -> list[str]:
    """Short labels for a role: no change or refused, idle, unknown coverage, high risk
    removed."""
    notes = ["no change"] if role.unchanged else ["refused"] if role.refused else []
    if role.idle:
        notes.append("idle")
    if role.unknown_grants or role.unknown:
        notes.append("unknown coverage")
    if not role.refused and any(x.high_risk for x in role.removed):
        notes.append("high risk removed")
    return notes


def diff_lines(unified: str) -> list[tuple[str, str]]:
    """The lines of a unified diff with a CSS class each (add, del, hunk, or empty)."""
    out = []
    for raw in unified.splitlines():
        if raw.startswith(("+++", "---")):
            kind = "head"
        elif raw.startswith("+"):
            kind = "add"
        elif raw.startswith("-"):
            kind = "del"
        elif raw.startswith("@@"):
            kind = "hunk"
        else:
            kind = ""
        out.append((kind, raw))
    return out


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("rightsizer.report", "templates"),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do"],
    )
    env.filters.update(
        clean=clean,
        md=md,
        mdcode=mdcode,
        fence=fence,
        num=num,
        pct=pct,
        when=when,
        day=day,
        signed=signed,
    )
    env.globals.update(
        text_table=text_table,
        diff_lines=diff_lines,
        role_notes=role_notes,
        version=__version__,
        wildcard_note=WILDCARD_NOTE,
    )
    return env


@cache
def _html_env() -> jinja2.Environment:
    return _environment(autoescape=True)


@cache
def _plain_env() -> jinja2.Environment:
    return _environment(autoescape=False)


def _image_source(chart: Chart, images: ImageMode) -> str:
    if images == "cid":
        return f"cid:{chart.cid}"
    return "data:image/png;base64," + base64.b64encode(chart.png).decode("ascii")


def render_html(
    report: Report,
    *,
    images: ImageMode = "data-uri",
    charts: Sequence[Chart] | None = None,
) -> str:
    """A self-contained HTML page: inline CSS, charts as data URIs or `cid:` references."""
    if images not in ("data-uri", "cid"):
        raise ValueError(f"images must be 'data-uri' or 'cid', not {images!r}")
    drawn = render_charts(report) if charts is None else list(charts)
    pictures = [(chart, _image_source(chart, images)) for chart in drawn]
    return (
        _html_env()
        .get_template("report.html.j2")
        .render(r=report, pictures=pictures, in_email=images == "cid")
    )


def render_template(name: str, **values: Any) -> str:
    """A Markdown or text template of this package, with the filters above (no autoescape).

    Every Markdown rightsizer writes comes from here: the report's and `analyze`'s.
    """
    return _plain_env().get_template(name).render(**values)


def render_markdown(report: Report) -> str:
    """The report as GitHub-flavoured Markdown (no images)."""
    return render_template("report.md.j2", r=report)


def render_text(report: Report) -> str:
    """The report as plain text for a terminal or the text part of the email."""
    return render_template("report.txt.j2", r=report)
