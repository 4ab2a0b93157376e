"""Registration time zones: IANA names, plus the abbreviations and offsets devices send.

The SAP seed's sample registration says `"timeZone": "MESZ"` (German for CEST). An
abbreviation maps to a representative IANA zone, so daylight saving still follows the
calendar; `UTC+2`, `GMT-05:30` and `+02:00` are fixed offsets.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import timedelta, timezone, tzinfo

from pushgate.errors import InvalidInput

ABBREVIATIONS: dict[str, str] = {
    "utc": "UTC",
    "gmt": "UTC",
    "z": "UTC",
    "wet": "Europe/Lisbon",
    "west": "Europe/Lisbon",
    "bst": "Europe/London",
    "cet": "Europe/Berlin",
    "cest": "Europe/Berlin",
    "mez": "Europe/Berlin",
    "mesz": "Europe/Berlin",
    "eet": "Europe/Athens",
    "eest": "Europe/Athens",
    "msk": "Europe/Moscow",
    "ist": "Asia/Kolkata",
    "sgt": "Asia/Singapore",
    "hkt": "Asia/Hong_Kong",
    "jst": "Asia/Tokyo",
    "kst": "Asia/Seoul",
    "awst": "Australia/Perth",
    "acst": "Australia/Adelaide",
    "acdt": "Australia/Adelaide",
    "aest": "Australia/Sydney",
    "aedt": "Australia/Sydney",
    "nzst": "Pacific/Auckland",
    "nzdt": "Pacific/Auckland",
    "hst": "Pacific/Honolulu",
    "akst": "America/Anchorage",
    "akdt": "America/Anchorage",
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "mst": "America/Denver",
    "mdt": "America/Denver",
    "cst": "America/Chicago",
    "cdt": "America/Chicago",
    "est": "America/New_York",
    "edt": "America/New_York",
    "brt": "America/Sao_Paulo",
}

# A wall-clock time comes first at UTC+14 (Line Islands) and last at UTC-12: a local-time
# send starts that much before its wall time read as UTC, and lasts that much after.
EARLIEST_OFFSET = timedelta(hours=14)
LATEST_OFFSET = timedelta(hours=12)

_OFFSET = re.compile(r"^(?:utc|gmt)?([+-])([0-9]{1,2})(?::?([0-9]{2}))?$")  # ASCII digits


@functools.cache
def _iana_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def resolve_time_zone(name: str) -> tzinfo | None:
    """The zone a registration's `time_zone` names, or None when it names none we know."""
    text = name.strip()
    lowered = text.lower()
    # Abbreviations first: "EST" and "MST" are also IANA names, but fixed offsets without
    # daylight saving, which is not what a device in New York or Denver means by them.
    if lowered in ABBREVIATIONS:
        return zoneinfo.ZoneInfo(ABBREVIATIONS[lowered])
    if text in _iana_names():
        return zoneinfo.ZoneInfo(text)
    match = _OFFSET.fullmatch(lowered)
    if match is None:
        return None
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
    if hours > 14 or minutes >= 60 or (hours == 14 and minutes):
        return None
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if sign == "-" else offset)


def check_time_zone(name: str, *, field: str = "time_zone") -> str:
    if resolve_time_zone(name) is None:
        raise InvalidInput(
            "must be an IANA time zone (Europe/Berlin), a common abbreviation (MESZ, PST) or "
            "an offset (UTC+2)",
            field=field,
        )
    return name
