"""Retry-After (RFC 9110 section 10.2.3): delay-seconds or an HTTP-date, as seconds from now."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER_S = 86400.0  # a longer wait than a day is treated as a day: expiry decides then


def parse_retry_after(value: str | None, now: datetime | float) -> float | None:
    """Seconds to wait, or None when the header is absent or unreadable.

    `now` is an aware datetime, or UNIX seconds (the Web Push adapter's clock).
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT
        when = when.replace(tzinfo=UTC)
    wait_s = (when - now).total_seconds() if isinstance(now, datetime) else when.timestamp() - now
    return min(max(wait_s, 0.0), MAX_RETRY_AFTER_S)
