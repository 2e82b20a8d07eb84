"""The dashboard's charts as SVG drawn on the server: no script, a title and description for screen
readers, and the same numbers in a table beside each (the template puts it there).

Pure: plain numbers in, markup out. Every text is escaped; colours come from presentation attributes
(the pages' Content-Security-Policy allows no inline style).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Protocol

INK = "#1b1b1b"
ACCENT = "#003399"
REACHED = "#1d6b2f"
GRID = "#767676"
# A bar for a non-zero number is never thinner than this (in the SVG's units), so 1 signature among
# 72,000 is still seen; a zero has no bar, and its number, 0, is written beside where the bar would be.
MIN_BAR = 3.0


def grouped(number: int) -> str:
    """A number as people read it in the console's language, English: 1,234,567."""
    from babel.numbers import format_decimal

    return str(format_decimal(number, locale="en"))


def bar_length(value: float, scale_max: float, full: float) -> float:
    """The length of a bar for value on a scale where scale_max is full: at least MIN_BAR unless zero."""
    if value <= 0 or scale_max <= 0:
        return 0.0
    return max(MIN_BAR, min(value, scale_max) / scale_max * full)


class DailyCountsReader(Protocol):
    """What the counting path provides (chalicelib/storage/counters.py, issue #10): statements counted per day
    (ISO date, the signing day) and Member State, exactly once like the totals."""

    def daily_counts(self, initiative_id: str) -> dict[str, dict[str, int]]: ...


@dataclass(frozen=True)
class DailyPoint:
    day: date
    count: int
    cumulative: int


def daily_series(daily: Mapping[str, Mapping[str, int]], member_state: str | None = None) -> list[DailyPoint]:
    """Per day and cumulative, overall or for one Member State; days without statements between the first
    and the last are shown as 0, so the chart's axis is time."""
    per_day: dict[date, int] = {}
    for day_text, states in daily.items():
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            continue
        count = sum(states.values()) if member_state is None else states.get(member_state, 0)
        per_day[day] = per_day.get(day, 0) + max(count, 0)
    if not per_day:
        return []
    first, last = min(per_day), max(per_day)
    points: list[DailyPoint] = []
    total = 0
    for offset in range((last - first).days + 1):
        day = date.fromordinal(first.toordinal() + offset)
        total += per_day.get(day, 0)
        points.append(DailyPoint(day, per_day.get(day, 0), total))
    return points


def _svg(chart_id: str, title: str, description: str, width: int, height: int, body: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
            f'width="100%" aria-labelledby="{chart_id}-title {chart_id}-desc" class="chart" focusable="false">'
            f'<title id="{chart_id}-title">{escape(title)}</title>'
            f'<desc id="{chart_id}-desc">{escape(description)}</desc>'
            f"{body}</svg>")


def daily_chart(chart_id: str, title: str, points: Sequence[DailyPoint]) -> str:
    """Bars: statements per day; line: the running total, on its own scale (right-hand axis)."""
    width, height, left, bottom, top = 640, 240, 48, 28, 12
    plot_width, plot_height = width - 2 * left, height - bottom - top
    if not points:
        return _svg(chart_id, title, "No statements counted yet.", width, height,
                    f'<text x="{left}" y="{height // 2}" fill="{INK}">No statements counted yet.</text>')
    most = max(point.count for point in points) or 1
    total = points[-1].cumulative or 1
    step = plot_width / len(points)
    bar_width = min(max(step * 0.8, 1), 40.0)  # a few days' bars stay bars, not blocks across the chart
    bars = "".join(
        f'<rect x="{left + index * step + (step - bar_width) / 2:.1f}" '
        f'y="{top + plot_height - bar_length(point.count, most, plot_height):.1f}" '
        f'width="{bar_width:.1f}" height="{bar_length(point.count, most, plot_height):.1f}" fill="{ACCENT}"/>'
        for index, point in enumerate(points) if point.count > 0)
    line = " ".join(f"{left + (index + 0.5) * step:.1f},{top + plot_height * (1 - point.cumulative / total):.1f}"
                    for index, point in enumerate(points))
    axes = (f'<line x1="{left}" y1="{top + plot_height}" x2="{left + plot_width}" y2="{top + plot_height}" '
            f'stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" font-size="12" fill="{INK}">{grouped(most)}</text>'
            f'<text x="{left + plot_width + 6}" y="{top + 10}" font-size="12" fill="{INK}">'
            f"{grouped(points[-1].cumulative)}</text>"
            f'<text x="{left}" y="{height - 8}" font-size="12" fill="{INK}">{points[0].day.isoformat()}</text>'
            f'<text x="{left + plot_width}" y="{height - 8}" text-anchor="end" font-size="12" fill="{INK}">'
            f"{points[-1].day.isoformat()}</text>")
    description = (f"From {points[0].day.isoformat()} to {points[-1].day.isoformat()}: at most {grouped(most)} "
                   f"a day, {grouped(points[-1].cumulative)} in all. Bars: per day; line: cumulative. "
                   "The table beside gives each day.")
    return _svg(chart_id, title, description, width, height,
                f'{axes}{bars}<polyline points="{line}" fill="none" stroke="{INK}" stroke-width="2"/>')


@dataclass(frozen=True)
class ThresholdRow:
    name: str
    count: int
    threshold: int

    @property
    def percent(self) -> float:
        return 100.0 * self.count / self.threshold if self.threshold else 0.0


def threshold_chart(chart_id: str, rows: Sequence[ThresholdRow]) -> str:
    """One bar per Member State against its minimum (the dashed line at 100 %); bars stop at 200 %. Each bar
    has its number beside it; a State with none has no bar and a 0."""
    row_height, left, width = 18, 150, 640
    plot_width = width - left - 96  # room on the right for the numbers
    height = row_height * len(rows) + 24
    full = plot_width / 2  # 100 % of the minimum is half the plot: room to show States past it
    parts: list[str] = []
    for index, row in enumerate(rows):
        y = index * row_height + 4
        length = bar_length(row.percent, 200.0, plot_width)
        colour = REACHED if row.count >= row.threshold else ACCENT
        parts.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end" font-size="12" fill="{INK}">'
                     f"{escape(row.name)}</text>")
        if length:
            parts.append(f'<rect x="{left}" y="{y + 2}" width="{length:.1f}" height="{row_height - 6}" '
                         f'fill="{colour}"/>')
        parts.append(f'<text x="{left + length + 4:.1f}" y="{y + 12}" font-size="12" fill="{INK}">'
                     f"{grouped(row.count)}</text>")
    parts.append(f'<line x1="{left + full:.1f}" y1="0" x2="{left + full:.1f}" y2="{height - 20}" stroke="{INK}" '
                 f'stroke-dasharray="4 3"/><text x="{left + full:.1f}" y="{height - 6}" text-anchor="middle" '
                 f'font-size="12" fill="{INK}">minimum</text>')
    reached = sum(1 for row in rows if row.count >= row.threshold)
    description = (f"{reached} of {len(rows)} Member States have reached their minimum number of signatories. "
                   "Each bar is a Member State's signatories against its minimum; the table beside gives the numbers.")
    return _svg(chart_id, "Signatories per Member State against the minimum", description, width, height,
                "".join(parts))
