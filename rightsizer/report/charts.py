"""Charts of the report as PNG bytes: deterministic, drawn off-screen with the Agg canvas."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rightsizer.report.model import Report, RoleSection
from rightsizer.report.text import clean

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Beyond this many roles the chart shows the most over-privileged ones and says so.
MAX_CHART_ROLES = 25
LABEL_CHARS = 42

HELD_COLOR = "#c2410c"
RECOMMENDED_COLOR = "#2563eb"
USED_COLOR = "#15803d"


@dataclass(frozen=True)
class Chart:
    """One image of the report; `cid` is its Content-ID in the email (without brackets)."""

    name: str
    title: str
    alt: str
    png: bytes
    width: int
    height: int

    @property
    def cid(self) -> str:
        return f"{self.name}@rightsizer.report"


def _label(text: str) -> str:
    # `$` would start matplotlib mathtext; control characters have no glyph.
    text = clean(text)
    if len(text) > LABEL_CHARS:
        text = text[: LABEL_CHARS - 1] + "…"
    return text.replace("$", r"\$")


def chart_roles(report: Report) -> tuple[list[RoleSection], int]:
    """The roles the grants chart shows (most excess first) and how many were left out."""
    ranked = sorted(
        report.roles,
        key=lambda r: (-(r.actions_held - r.actions_used), r.role_name, r.role_arn),
    )
    shown = ranked[:MAX_CHART_ROLES]
    return shown, len(ranked) - len(shown)


def grants_chart(report: Report, *, dpi: int = 100) -> Chart | None:
    """Horizontal bars per role: S3 actions allowed today, after the recommendation, used."""
    roles, left_out = chart_roles(report)
    if not roles:
        return None
    # Imported here: matplotlib is slow to import and only the report needs it.
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [_label(r.role_name) for r in roles]
    series = [
        ("allowed today", [r.actions_held for r in roles], HELD_COLOR),
        ("after the recommendation", [r.actions_recommended for r in roles], RECOMMENDED_COLOR),
        ("used in the window", [r.actions_used for r in roles], USED_COLOR),
    ]
    bar = 0.26
    width_in, height_in = 9.0, 1.6 + 0.55 * len(roles)
    with matplotlib.rc_context(
        {"font.family": "DejaVu Sans", "font.size": 10, "svg.hashsalt": "rightsizer"}
    ):
        fig = Figure(figsize=(width_in, height_in), dpi=dpi)
        FigureCanvasAgg(fig)  # the Agg canvas: no GUI, no global backend switch
        ax = fig.add_subplot()
        positions = list(range(len(roles)))
        peak = max(max(values) for _, values, _ in series) or 1
        for offset, (name, values, color) in enumerate(series):
            ys = [p + (offset - 1) * bar for p in positions]
            ax.barh(ys, values, height=bar, color=color, label=name)
            for y, value in zip(ys, values, strict=True):
                ax.text(value + peak * 0.01, y, str(value), va="center", fontsize=8)
        ax.set_yticks(positions, labels)
        ax.set_ylim(len(roles) - 0.5, -0.5)  # the first role at the top, no empty margins
        ax.set_xlim(0, peak * 1.12)
        ax.set_xlabel("S3 actions")
        title = "S3 actions per role: allowed vs used"
        if left_out:
            title += f" ({len(roles)} most over-privileged of {len(roles) + left_out})"
        ax.set_title(title, loc="left", fontsize=12, fontweight="bold", pad=26)
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="x", color="#e5e7eb")
        ax.set_axisbelow(True)
        # Above the bars, under the title, so it never hides a bar.
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=3, frameon=False, fontsize=9)
        png = _png(fig)
    alt = "; ".join(
        f"{r.role_name}: {r.actions_held} S3 actions allowed today, "
        f"{r.actions_recommended} after the recommendation, {r.actions_used} used"
        for r in roles
    )
    return Chart(
        name="grants-per-role",
        title=title,
        alt=alt,
        png=png,
        width=int(width_in * dpi),
        height=int(height_in * dpi),
    )


def _png(fig: Figure) -> bytes:
    """The laid-out figure as PNG bytes, without Software/time metadata, so the same report
    gives the same bytes."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


# The activity chart draws the busiest roles; more lines would be unreadable.
MAX_ACTIVITY_ROLES = 6
ACTIVITY_COLORS = ("#2563eb", "#c2410c", "#15803d", "#7c3aed", "#db2777", "#0f766e")


def _window_days(report: Report) -> list[dt.date]:
    start = dt.date.fromisoformat(report.summary.window_start[:10])
    end = dt.datetime.fromisoformat(report.summary.window_end.replace("Z", "+00:00"))
    last = end.date() if end.time() != dt.time(0) else end.date() - dt.timedelta(days=1)
    return [start + dt.timedelta(days=i) for i in range((last - start).days + 1)]


def activity_chart(report: Report, *, dpi: int = 100) -> Chart | None:
    """S3 calls per day of the window for the busiest roles (denied calls included)."""
    busy = sorted(
        (r for r in report.roles if r.activity),
        key=lambda r: (-sum(a.calls + a.denied for a in r.activity), r.role_name, r.role_arn),
    )[:MAX_ACTIVITY_ROLES]
    days = _window_days(report)
    if not busy or len(days) < 2:
        return None
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width_in, height_in = 9.0, 4.2
    with matplotlib.rc_context({"font.family": "DejaVu Sans", "font.size": 10}):
        fig = Figure(figsize=(width_in, height_in), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        for role, color in zip(busy, ACTIVITY_COLORS, strict=False):
            per_day = {a.day: a.calls + a.denied for a in role.activity}
            values = [per_day.get(day.isoformat(), 0) for day in days]
            ax.plot(
                range(len(days)), values, color=color, linewidth=1.6, label=_label(role.role_name)
            )
        title = "S3 calls per day"
        ax.set_title(title, loc="left", fontsize=12, fontweight="bold", pad=10)
        ax.set_ylabel("calls")
        ax.set_ylim(bottom=0)
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", color="#e5e7eb")
        # Under the dates: as many names as there are lines, never over the title.
        ax.legend(loc="upper left", bbox_to_anchor=(0, -0.1), ncols=3, frameon=False, fontsize=9)
        step = max(1, len(days) // 8)
        ticks = list(range(0, len(days), step))
        ax.set_xticks(ticks, [days[i].strftime("%b %d") for i in ticks])
        ax.set_xlim(0, len(days) - 1)
        png = _png(fig)
    alt = "; ".join(
        f"{r.role_name}: {sum(a.calls + a.denied for a in r.activity)} S3 calls on "
        f"{len(r.activity)} of {len(days)} days"
        for r in busy
    )
    return Chart(
        name="activity-per-day",
        title=title,
        alt=alt,
        png=png,
        width=int(width_in * dpi),
        height=int(height_in * dpi),
    )


def render_charts(report: Report) -> list[Chart]:
    """Every chart the report has data for, in the order it shows them."""
    return [c for c in (grants_chart(report), activity_chart(report)) if c is not None]
