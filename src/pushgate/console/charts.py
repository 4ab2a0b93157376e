"""The console's charts, from counts and buckets to SVG (svg.py draws them)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate

from markupsafe import Markup

from pushgate.console.svg import Bar, Series, bar_chart, line_chart
from pushgate.domain.notifications import Counts
from pushgate.domain.statuses import DeliveryStatus
from pushgate.services.delivery_status import ErrorGroup
from pushgate.store.repos.console import Bucket

OVERVIEW_HOURS = 12
TIMELINE_BUCKETS = 30
_REACHED = (
    DeliveryStatus.SENT,
    DeliveryStatus.RECEIVED,
    DeliveryStatus.CONSUMED,
    DeliveryStatus.CONFIRMED,
)


def funnel(counts: Counts, errors: Sequence[ErrorGroup]) -> Markup:
    """QUEUED (still waiting) and then how many reached each stage at least, then the errors
    by result code and provider reason."""
    by = counts.by_status()
    confirmed = by["CONFIRMED"]
    consumed = by["CONSUMED"] + confirmed
    received = by["RECEIVED"] + consumed
    sent = by["SENT"] + received
    bars = [
        Bar("QUEUED", by["QUEUED"], "bar queued"),
        Bar("SENT", sent, "bar sent"),
        Bar("RECEIVED", received, "bar received"),
        Bar("CONSUMED", consumed, "bar consumed"),
        Bar("CONFIRMED", confirmed, "bar confirmed"),
    ]
    bars += [
        Bar(f"ERROR {e.code.name.lower()}: {e.reason}"[:40], e.count, "bar error") for e in errors
    ]
    if by["ERROR"] and not errors:
        bars.append(Bar("ERROR", by["ERROR"], "bar error"))
    return bar_chart(bars, "Delivery funnel")


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    width_s: int
    buckets: int

    def labels(self, fmt: str) -> list[str]:
        return [
            (self.start + timedelta(seconds=i * self.width_s)).strftime(fmt)
            for i in range(self.buckets)
        ]


def timeline_window(created_at: datetime, until: datetime) -> Window:
    """About TIMELINE_BUCKETS buckets over the notification's life so far (1 s at least)."""
    span = max((until - created_at).total_seconds(), 1.0)
    width = max(1, math.ceil(span / TIMELINE_BUCKETS))
    return Window(created_at, width, min(TIMELINE_BUCKETS, math.ceil(span / width)) + 1)


def overview_window(now: datetime) -> Window:
    hour = now.replace(minute=0, second=0, microsecond=0)
    return Window(hour - timedelta(hours=OVERVIEW_HOURS - 1), 3600, OVERVIEW_HOURS)


def _values(points: dict[int, int], buckets: int) -> list[int]:
    return [points.get(i, 0) for i in range(buckets)]


def timeline(window: Window, rows: Sequence[Bucket]) -> Markup:
    """Deliveries over time, cumulative, by the status they are in now and the bucket of
    their last change (a delivery opened later moves from SENT to CONSUMED there)."""
    by_status: dict[DeliveryStatus, dict[int, int]] = defaultdict(dict)
    for row in rows:
        index = min(max(row.index, 0), window.buckets - 1)
        points = by_status[DeliveryStatus(row.status)]
        points[index] = points.get(index, 0) + row.count
    series = [
        Series(
            status.name,
            list(accumulate(_values(by_status[status], window.buckets))),
            status.name.lower(),
            total=sum(by_status[status].values()),
        )
        for status in (*_REACHED, DeliveryStatus.ERROR)
        if status in by_status
    ]
    return line_chart(window.labels("%H:%M:%S"), series, "Deliveries over time (cumulative)")


@dataclass(frozen=True, slots=True)
class Overview:
    sends: Markup
    deliveries: Markup
    errors: Markup
    totals: dict[str, tuple[int, int]]  # provider: (delivered, errors)


def overview(window: Window, rows: Sequence[Bucket]) -> Overview:
    sends: dict[int, int] = {}
    delivered: dict[str, dict[int, int]] = defaultdict(dict)
    failed: dict[str, dict[int, int]] = defaultdict(dict)
    for row in rows:
        if not 0 <= row.index < window.buckets:
            continue
        if row.status == -1:
            sends[row.index] = sends.get(row.index, 0) + row.count
            continue
        status = DeliveryStatus(row.status)
        target = (
            delivered if status in _REACHED else failed if status is DeliveryStatus.ERROR else None
        )
        if target is not None:
            points = target[row.label]
            points[row.index] = points.get(row.index, 0) + row.count
    labels = window.labels("%H:00")

    def chart(data: dict[str, dict[int, int]], title: str) -> Markup:
        series = [
            Series(provider, _values(points, window.buckets), f"line p{i % 6}")
            for i, (provider, points) in enumerate(sorted(data.items()))
        ]
        return line_chart(labels, series, title)

    totals = {
        provider: (
            sum(delivered.get(provider, {}).values()),
            sum(failed.get(provider, {}).values()),
        )
        for provider in sorted(set(delivered) | set(failed))
    }
    return Overview(
        line_chart(labels, [Series("sends", _values(sends, window.buckets), "line p0")], "Sends"),
        chart(delivered, "Deliveries by provider"),
        chart(failed, "Errors by provider"),
        totals,
    )
