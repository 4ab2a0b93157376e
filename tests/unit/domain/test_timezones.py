"""Registration time zones: IANA names, device abbreviations (the SAP seed's MESZ), offsets."""

from __future__ import annotations

import re
import string
import zoneinfo
from datetime import UTC, datetime, timedelta, tzinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushgate.domain.timezones import ABBREVIATIONS, check_time_zone, resolve_time_zone
from pushgate.errors import ErrorCode, InvalidInput
from tests.unit.domain.strategies import PROPERTY

IANA = frozenset(zoneinfo.available_timezones())
WINTER = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
SUMMER = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
# IANA also holds a few legacy names that are spelled like a device abbreviation (EST, CET...).
IANA_SPELLED_LIKE_ABBREVIATIONS = {a.upper() for a in ABBREVIATIONS} & IANA


def _offsets(zone: tzinfo) -> tuple[timedelta | None, timedelta | None]:
    return WINTER.astimezone(zone).utcoffset(), SUMMER.astimezone(zone).utcoffset()


def _resolved(name: str) -> tzinfo:
    zone = resolve_time_zone(name)
    assert zone is not None, f"{name!r} did not resolve"
    return zone


# --- IANA names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "America/Argentina/Buenos_Aires"],
)
def test_iana_name_resolves_to_its_zone(name: str) -> None:
    assert _resolved(name) == zoneinfo.ZoneInfo(name)


def test_iana_name_with_blanks_around_resolves() -> None:
    assert _resolved("  Europe/Berlin ") == zoneinfo.ZoneInfo("Europe/Berlin")


@PROPERTY
@given(name=st.sampled_from(sorted(IANA - IANA_SPELLED_LIKE_ABBREVIATIONS)))
def test_every_iana_name_resolves_to_its_own_zone(name: str) -> None:
    assert _resolved(name) == zoneinfo.ZoneInfo(name)


# --- abbreviations ------------------------------------------------------------------------


@pytest.mark.parametrize(("abbreviation", "zone"), sorted(ABBREVIATIONS.items()))
def test_every_abbreviation_resolves_to_its_representative_zone(
    abbreviation: str, zone: str
) -> None:
    assert _resolved(abbreviation) == zoneinfo.ZoneInfo(zone)


# EST and MST are also IANA names (fixed offsets without daylight saving); the upper-case
# spelling a device sends must still follow New York and Denver through the year.
@pytest.mark.parametrize(
    ("abbreviation", "zone"),
    [pytest.param(a.upper(), z, id=a) for a, z in sorted(ABBREVIATIONS.items())],
)
def test_upper_case_abbreviation_keeps_the_offsets_of_its_zone_in_winter_and_summer(
    abbreviation: str, zone: str
) -> None:
    assert _offsets(_resolved(abbreviation)) == _offsets(zoneinfo.ZoneInfo(zone))


def test_sap_seed_mesz_follows_berlin_in_winter_too() -> None:
    zone = _resolved("MESZ")
    assert _offsets(zone) == (timedelta(hours=1), timedelta(hours=2))


@pytest.mark.parametrize("written", ["Mesz", "mEsZ", " PST ", "Pdt"])
def test_abbreviation_resolves_in_any_case(written: str) -> None:
    expected = ABBREVIATIONS[written.strip().lower()]
    assert _offsets(_resolved(written)) == _offsets(zoneinfo.ZoneInfo(expected))


# --- offsets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "offset"),
    [
        ("UTC+2", timedelta(hours=2)),
        ("utc+2", timedelta(hours=2)),
        ("GMT-05:30", -timedelta(hours=5, minutes=30)),
        ("+02:00", timedelta(hours=2)),
        ("-0800", -timedelta(hours=8)),
        ("+5:45", timedelta(hours=5, minutes=45)),
        ("UTC+14", timedelta(hours=14)),
        ("GMT-14:00", -timedelta(hours=14)),
        ("UTC-0", timedelta(0)),
    ],
)
def test_offset_resolves_to_that_fixed_offset(written: str, offset: timedelta) -> None:
    zone = _resolved(written)
    assert _offsets(zone) == (offset, offset)


@pytest.mark.parametrize(
    "written", ["UTC+15", "+14:30", "-14:01", "GMT+02:60", "+99", "UTC+2:3", "UTC+", "+", "-"]
)
def test_offset_beyond_14_hours_or_malformed_is_refused(written: str) -> None:
    assert resolve_time_zone(written) is None


_SIGN = st.sampled_from(["+", "-"])
_PREFIX = st.sampled_from(["", "UTC", "GMT", "utc", "Gmt"])


@st.composite
def _valid_offset(draw: st.DrawFn) -> tuple[str, timedelta]:
    hours = draw(st.integers(min_value=0, max_value=14))
    minutes = 0 if hours == 14 else draw(st.integers(min_value=0, max_value=59))
    forms = [f"{hours:02d}:{minutes:02d}", f"{hours:02d}{minutes:02d}", f"{hours}:{minutes:02d}"]
    if minutes == 0:
        forms.append(f"{hours}")
    sign = draw(_SIGN)
    written = draw(_PREFIX) + sign + draw(st.sampled_from(forms))
    offset = timedelta(hours=hours, minutes=minutes)
    return written, -offset if sign == "-" else offset


@PROPERTY
@given(case=_valid_offset())
def test_every_offset_within_14_hours_resolves_to_itself(case: tuple[str, timedelta]) -> None:
    written, offset = case
    assert _offsets(_resolved(written)) == (offset, offset)


@PROPERTY
@given(
    prefix=_PREFIX,
    sign=_SIGN,
    hours=st.integers(min_value=0, max_value=99),
    minutes=st.integers(min_value=0, max_value=99),
)
def test_offset_with_hours_or_minutes_out_of_range_is_refused(
    prefix: str, sign: str, hours: int, minutes: int
) -> None:
    in_range = (hours < 14 and minutes < 60) or (hours == 14 and minutes == 0)
    written = f"{prefix}{sign}{hours:02d}:{minutes:02d}"
    assert (resolve_time_zone(written) is not None) is in_range


# --- garbage ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written", ["", "   ", "Mars/Olympus_Mons", "Europe/Berlin2", "CEST+1", "2", "UTC2", "noon"]
)
def test_what_names_no_zone_is_refused(written: str) -> None:
    assert resolve_time_zone(written) is None


_ASCII_OFFSET = re.compile(r"(?:utc|gmt)?[+-][0-9]{1,2}(?::?[0-9]{2})?")


@PROPERTY
@given(text=st.text(alphabet=string.printable, max_size=12))
def test_any_ascii_text_resolves_only_as_a_name_an_abbreviation_or_an_offset(text: str) -> None:
    if resolve_time_zone(text) is None:
        return
    stripped = text.strip()
    assert (
        stripped in IANA
        or stripped.lower() in ABBREVIATIONS
        or _ASCII_OFFSET.fullmatch(stripped.lower()) is not None
    )


def test_offset_in_non_ascii_digits_is_refused() -> None:
    assert resolve_time_zone("UTC+\u0662") is None


# --- check_time_zone ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Europe/Berlin", "MESZ", "UTC+2", " pst "])
def test_check_time_zone_returns_the_name_as_given(name: str) -> None:
    assert check_time_zone(name) == name


def test_check_time_zone_refusal_names_the_field_not_the_value() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_time_zone("Atlantis/Capital")
    assert caught.value.code is ErrorCode.INVALID
    assert caught.value.field == "time_zone"
    assert "Atlantis" not in caught.value.message


def test_check_time_zone_refusal_names_the_given_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_time_zone("UTC+15", field="registration.time_zone")
    assert caught.value.field == "registration.time_zone"
