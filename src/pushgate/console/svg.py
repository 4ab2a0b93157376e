"""Charts as SVG markup, drawn on the server: horizontal bars (the delivery funnel) and lines
over time (deliveries, sends, errors). Every text is escaped; sizes are in SVG user units and
the element scales to its container (viewBox). Colours come from console.css classes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

_PAD_LEFT = 150  # bar labels
_PAD = 12
_AXIS = 28  # room under a line chart for time labels


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    css_class: str = "bar"


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    values: Sequence[int]
    css_class: str = "line"
    total: int | None = None  # shown in the legend; None: the sum of the values

    @property
    def shown_total(self) -> int:
        return sum(self.values) if self.total is None else self.total


def _number(value: float) -> str:
    """Coordinates with at most one decimal, so the markup stays small and stable."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _open(width: int, height: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    )


def bar_chart(bars: Sequence[Bar], title: str, *, width: int = 640, row: int = 30) -> Markup:
    """One horizontal bar per entry, scaled to the largest value, its count at its end."""
    height = _PAD * 2 + row * max(len(bars), 1)
    top = max((bar.value for bar in bars), default=0)
    span = width - _PAD_LEFT - _PAD - 60  # leave room for the count after the longest bar
    parts = [_open(width, height, title)]
    for i, bar in enumerate(bars):
        y = _PAD + i * row
        length = span * bar.value / top if top else 0
        parts.append(
            f'<text class="label" x="{_PAD_LEFT - 8}" y="{_number(y + row * 0.65)}" '
            f'text-anchor="end">{escape(bar.label)}</text>'
            f'<rect class="{escape(bar.css_class)}" x="{_PAD_LEFT}" y="{_number(y + 4)}" '
            f'width="{_number(length)}" height="{row - 8}"><title>{escape(bar.label)}: '
            f"{bar.value}</title></rect>"
            f'<text class="value" x="{_number(_PAD_LEFT + length + 6)}" '
            f'y="{_number(y + row * 0.65)}">{bar.value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above  # nosec B704


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[Series],
    title: str,
    *,
    width: int = 640,
    height: int = 220,
) -> Markup:
    """One polyline per series over the x labels (time buckets), with a legend (label and
    total) and the peak on the y axis."""
    points = len(x_labels)
    top = max((max(s.values, default=0) for s in series), default=0)
    plot_w = width - 2 * _PAD - 40
    plot_h = height - _AXIS - 2 * _PAD - 16  # 16: the legend line
    left, base = _PAD + 40, _PAD + 16 + plot_h
    parts = [_open(width, height, title)]
    parts.append(
        f'<line class="axis" x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}"/>'
        f'<line class="axis" x1="{left}" y1="{base - plot_h}" x2="{left}" y2="{base}"/>'
        f'<text class="label" x="{left - 4}" y="{base - plot_h + 4}" text-anchor="end">{top}</text>'
        f'<text class="label" x="{left - 4}" y="{base}" text-anchor="end">0</text>'
    )
    step = plot_w / (points - 1) if points > 1 else 0.0
    every = max(1, points // 6)  # about six time labels, whatever the bucket count
    for i, label in enumerate(x_labels):
        if i % every == 0 or i == points - 1:
            x = _number(left + i * step)
            # The last label ends at the axis' end, so it is not cut off by the edge.
            anchor = "end" if i == points - 1 and points > 1 else "middle"
            parts.append(
                f'<text class="label" x="{x}" y="{base + 16}" text-anchor="{anchor}">'
                f"{escape(label)}</text>"
            )
    for k, s in enumerate(series):
        coords = " ".join(
            f"{_number(left + i * step)},{_number(base - (plot_h * v / top if top else 0))}"
            for i, v in enumerate(s.values[:points])
        )
        parts.append(
            f'<polyline class="{escape(s.css_class)}" fill="none" points="{coords}">'
            f"<title>{escape(s.label)}: {s.shown_total}</title></polyline>"
            f'<text class="legend {escape(s.css_class)}" x="{left + k * 120}" y="{_PAD + 4}">'
            f"{escape(s.label)} ({s.shown_total})</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above  # nosec B704
