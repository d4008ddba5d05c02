"""Charts of the report as PNG bytes: deterministic, drawn off-screen with the Agg canvas."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
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


@dataclass(frozen=True)
class Activity:
    """What the activity chart draws: the window's UTC days, the calls per day of the busiest
    roles, and the days the window holds only in part (its first and last, unless it starts
    or ends at midnight), each with its hours in the window. A partial day is drawn as such,
    so that its fewer calls do not read as a fall in use."""

    days: tuple[dt.date, ...]
    roles: tuple[tuple[RoleSection, tuple[int, ...]], ...]
    partial: Mapping[dt.date, float]

    def partial_note(self) -> str:
        """`Dec 03 is partial (12 of 24 hours)`, for each partial day; "" when none is."""
        return "; ".join(
            f"{day:%b %d} is partial ({hours:g} of 24 hours)" for day, hours in self.partial.items()
        )


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def activity(report: Report) -> Activity | None:
    """The activity chart's data; None when no role called S3 or the window is under 2 days."""
    start, end = _utc(report.summary.window_start), _utc(report.summary.window_end)
    last = end.date() if end.time() != dt.time(0) else end.date() - dt.timedelta(days=1)
    days = tuple(start.date() + dt.timedelta(days=i) for i in range((last - start.date()).days + 1))
    partial: dict[dt.date, float] = {}
    if start.time() != dt.time(0):
        partial[start.date()] = round(24 - _hours(start.time()), 2)
    if end.time() != dt.time(0):
        partial[end.date()] = round(_hours(end.time()), 2)
    busy = sorted(
        (r for r in report.roles if r.activity),
        key=lambda r: (-sum(a.calls + a.denied for a in r.activity), r.role_name, r.role_arn),
    )[:MAX_ACTIVITY_ROLES]
    if not busy or len(days) < 2:
        return None
    roles = []
    for role in busy:
        per_day = {a.day: a.calls + a.denied for a in role.activity}
        roles.append((role, tuple(per_day.get(day.isoformat(), 0) for day in days)))
    return Activity(days, tuple(roles), partial)


def _hours(time: dt.time) -> float:
    return time.hour + time.minute / 60 + time.second / 3600


def activity_chart(report: Report, *, dpi: int = 100) -> Chart | None:
    """S3 calls per day of the window for the busiest roles (denied calls included); a partial
    first or last day is a hollow point on a shaded day, labelled partial, off the line."""
    data = activity(report)
    if data is None:
        return None
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    days = data.days
    partial = [i for i, day in enumerate(days) if day in data.partial]
    whole = [i for i, day in enumerate(days) if day not in data.partial]
    width_in, height_in = 9.0, 4.2
    with matplotlib.rc_context({"font.family": "DejaVu Sans", "font.size": 10}):
        fig = Figure(figsize=(width_in, height_in), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        for (role, values), color in zip(data.roles, ACTIVITY_COLORS, strict=False):
            ax.plot(
                whole,
                [values[i] for i in whole],
                color=color,
                linewidth=1.6,
                label=_label(role.role_name),
            )
            # A partial day is a point of its own, not joined to the line: no false dive.
            ax.plot(
                partial,
                [values[i] for i in partial],
                color=color,
                linestyle="none",
                marker="o",
                markerfacecolor="white",
            )
        for i in partial:
            ax.axvspan(i - 0.5, i + 0.5, color="#f3f4f6", zorder=0)
        title = "S3 calls per day"
        ax.set_title(title, loc="left", fontsize=12, fontweight="bold", pad=10)
        ax.set_ylabel("calls")
        ax.set_ylim(bottom=0)
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", color="#e5e7eb")
        # Under the dates: as many names as there are lines, never over the title.
        ax.legend(loc="upper left", bbox_to_anchor=(0, -0.14), ncols=3, frameon=False, fontsize=9)
        step = max(1, len(days) // 8)
        ticks = sorted(set(range(0, len(days), step)) | set(partial))
        labels = [
            days[i].strftime("%b %d") + ("\n(partial)" if i in partial else "") for i in ticks
        ]
        ax.set_xticks(ticks, labels)
        margin = 0.5 if partial else 0  # the whole shaded day, its point not cut in half
        ax.set_xlim(-margin, len(days) - 1 + margin)
        png = _png(fig)
    alt = "; ".join(
        f"{r.role_name}: {sum(a.calls + a.denied for a in r.activity)} S3 calls on "
        f"{len(r.activity)} of {len(days)} days"
        for r, _ in data.roles
    )
    if data.partial:
        alt += f" ({data.partial_note()})"
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
