"""The console's SVG charts: scaled, escaped, and drawable from nothing."""

from __future__ import annotations

import re

from defusedxml import ElementTree

from pushgate.console.svg import Bar, Series, bar_chart, line_chart

_NS = "{http://www.w3.org/2000/svg}"


def test_bars_scale_to_the_largest_value_and_escape_their_labels() -> None:
    svg = bar_chart([Bar("SENT", 10), Bar("<b>&error", 5, "bar error")], "Funnel <1>")
    root = ElementTree.fromstring(str(svg))  # well-formed XML: every text was escaped
    widths = [float(rect.get("width", "0")) for rect in root.iter(_NS + "rect")]
    assert widths[0] == 2 * widths[1] > 0
    assert "<b>" not in str(svg)
    assert "&lt;b&gt;&amp;error" in str(svg)
    assert root.findtext(_NS + "title") == "Funnel <1>"


def test_lines_have_one_point_per_bucket_and_the_peak_on_top() -> None:
    svg = line_chart(
        ["10:00", "11:00", "12:00"],
        [Series("apns", [0, 4, 2]), Series("fcm", [1, 1, 1])],
        "Deliveries",
    )
    root = ElementTree.fromstring(str(svg))
    lines = list(root.iter(_NS + "polyline"))
    assert len(lines) == 2
    ys = [float(point.split(",")[1]) for point in lines[0].get("points", "").split()]
    assert len(ys) == 3
    assert ys[1] < ys[2] < ys[0]  # SVG y grows downwards: 4 is highest, 0 on the axis
    assert re.search(r">apns \(6\)<", str(svg))


def test_empty_charts_draw_without_dividing_by_zero() -> None:
    for svg in (bar_chart([], "none"), line_chart([], [], "none"), bar_chart([Bar("x", 0)], "z")):
        ElementTree.fromstring(str(svg))
