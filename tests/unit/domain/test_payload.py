"""Content, its limits (the SAP seed's), localized variants, priority, expiry and round trips."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushgate.domain.payload import (
    MAX_TTL,
    Content,
    DeliveryOptions,
    Message,
    Priority,
    build_message,
    check_content,
    expiry,
    parse_priority,
)
from pushgate.errors import ErrorCode, InvalidInput
from tests.unit.domain.strategies import CONTENT, MESSAGE, OPTIONS, PROPERTY, spelled

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECRET = "S3CR3T"  # what a refusal must never echo


def _content_with(name: str, value: Any) -> Content:
    changes: dict[str, Any] = {name: value}
    return Content(**changes)


def _refusal(content: Content, *, field: str = "notification") -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        check_content(content, field=field)
    return caught.value


def _assert_value_not_echoed(error: InvalidInput) -> None:
    assert SECRET not in error.message
    assert SECRET not in str(error)
    assert SECRET not in repr(error.details)


# --- Content.merged_over ------------------------------------------------------------------


def test_variant_takes_what_it_leaves_unset_from_the_default() -> None:
    default = Content(alert="Hello!", title="News", sound="default", badge=3)
    variant = Content(alert="Guten Tag!")
    assert variant.merged_over(default) == Content(
        alert="Guten Tag!", title="News", sound="default", badge=3
    )


def test_falsy_values_a_variant_sets_still_win_over_the_default() -> None:
    default = Content(alert="Hello!", badge=5, content_available=True, sound="ping")
    variant = Content(badge=0, content_available=False, sound="")
    merged = variant.merged_over(default)
    assert merged.badge == 0
    assert merged.content_available is False
    assert merged.sound == ""
    assert merged.alert == "Hello!"


@PROPERTY
@given(variant=CONTENT, base=CONTENT)
def test_merged_field_is_the_variants_when_set_else_the_bases(
    variant: Content, base: Content
) -> None:
    merged = variant.merged_over(base)
    for f in fields(Content):
        mine, theirs = getattr(variant, f.name), getattr(base, f.name)
        assert getattr(merged, f.name) == (mine if mine is not None else theirs)


def test_text_is_the_body_else_the_alert() -> None:
    assert Content(alert="a", body="b").text == "b"
    assert Content(alert="a").text == "a"
    assert Content().text is None


# --- check_content ------------------------------------------------------------------------

TEXT_LIMITS = [
    ("alert", 2048),
    ("title", 2048),
    ("body", 2048),
    ("sound", 256),
    ("category", 255),
    ("thread_id", 255),
]


@pytest.mark.parametrize(("name", "limit"), TEXT_LIMITS)
def test_text_field_at_its_limit_is_accepted(name: str, limit: int) -> None:
    content = _content_with(name, "x" * limit)
    assert check_content(content) is content


@pytest.mark.parametrize(("name", "limit"), TEXT_LIMITS)
def test_text_field_over_its_limit_is_refused_naming_the_field_not_the_value(
    name: str, limit: int
) -> None:
    value = (SECRET * limit)[: limit + 1]
    error = _refusal(_content_with(name, value))
    assert error.code is ErrorCode.INVALID
    assert error.field == f"notification.{name}"
    assert str(limit) in error.message
    _assert_value_not_echoed(error)


def test_limit_counts_characters_not_bytes() -> None:
    check_content(Content(alert="ü" * 2048))  # 4096 bytes in UTF-8, 2048 characters


def test_refusal_names_the_field_under_the_given_prefix() -> None:
    error = _refusal(Content(sound="x" * 257), field="localized.de")
    assert error.field == "localized.de.sound"


def test_badge_zero_removes_the_badge_and_is_accepted() -> None:
    check_content(Content(badge=0))


def test_negative_badge_is_refused() -> None:
    error = _refusal(Content(badge=-1))
    assert error.field == "notification.badge"


def _data_of_serialized_length(length: int, filler: str = "x") -> dict[str, str]:
    # {"k":"…"} serializes compactly to 8 characters plus the value
    return {"k": filler * (length - 8)}


def test_data_serialized_to_2000_characters_is_accepted() -> None:
    data = _data_of_serialized_length(2000)
    assert len(json.dumps(data, separators=(",", ":"))) == 2000
    check_content(Content(data=data))


def test_data_serialized_to_2001_characters_is_refused_naming_data_not_its_value() -> None:
    data = {"k": (SECRET * 2000)[:1993]}
    error = _refusal(Content(data=data))
    assert error.field == "notification.data"
    assert "2000" in error.message
    _assert_value_not_echoed(error)


def test_data_limit_counts_non_ascii_as_one_character_each() -> None:
    check_content(Content(data=_data_of_serialized_length(2000, filler="é")))


def test_data_limit_counts_the_escapes_of_the_serialized_map() -> None:
    # 996 quotes serialize as 1992 characters (\"), 2000 with the braces and key
    check_content(Content(data={"k": '"' * 996}))
    assert _refusal(Content(data={"k": '"' * 997})).field == "notification.data"


def test_empty_content_passes_the_checks() -> None:
    check_content(Content())


# --- build_message ------------------------------------------------------------------------


def test_build_message_merges_each_variant_over_the_default() -> None:
    default = Content(alert="Hello!", title="News", badge=1)
    message = build_message(default, {"de": Content(alert="Guten Tag!")})
    assert message.default == default
    assert message.localized == {"de": Content(alert="Guten Tag!", title="News", badge=1)}


def test_build_message_keys_variants_by_normalized_locale() -> None:
    message = build_message(
        Content(alert="Hello!"),
        {"en_US": Content(alert="Howdie!"), "DE-ch": Content(alert="Grüezi")},
    )
    assert set(message.localized) == {"en-us", "de-ch"}


@pytest.mark.parametrize(("one", "other"), [("de_DE", "de-DE"), ("de-DE", "DE-de"), ("en", "EN")])
def test_build_message_refuses_a_locale_named_twice_after_normalization(
    one: str, other: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        build_message(Content(alert="x"), {one: Content(alert="a"), other: Content(alert="b")})
    assert caught.value.field == "localized"


def test_build_message_refuses_a_variant_key_that_is_no_locale_naming_it() -> None:
    with pytest.raises(InvalidInput) as caught:
        build_message(Content(alert="x"), {"german": Content(alert="a")})
    assert caught.value.field == "localized.german"


def test_build_message_names_the_variant_that_breaks_a_limit() -> None:
    with pytest.raises(InvalidInput) as caught:
        build_message(Content(alert="x"), {"de_DE": Content(alert=SECRET * 500)})
    assert caught.value.field == "localized.de_DE.alert"
    _assert_value_not_echoed(caught.value)


def test_build_message_uses_the_given_field_prefix_for_variants() -> None:
    with pytest.raises(InvalidInput) as caught:
        build_message(
            Content(alert="x"),
            {"fr": Content(badge=-2)},
            field="target.bulk[3].localized",
        )
    assert caught.value.field == "target.bulk[3].localized.fr.badge"


def test_build_message_checks_the_default_too() -> None:
    with pytest.raises(InvalidInput) as caught:
        build_message(Content(alert="x" * 2049), {})
    assert caught.value.field == "notification.alert"


# --- Message.for_locale -------------------------------------------------------------------

SAP_DEFAULT = Content(alert="default")


def _message(*keys: str) -> Message:
    return build_message(SAP_DEFAULT, {key: Content(alert=key) for key in keys})


def test_de_DE_bay_uses_its_own_variant_when_there_is_one() -> None:
    assert _message("de-DE-bay", "de-DE", "de").for_locale("de-DE-bay").alert == "de-DE-bay"


def test_de_DE_bay_falls_back_to_de_DE() -> None:
    assert _message("de-DE", "de").for_locale("de-DE-bay").alert == "de-DE"


def test_de_DE_bay_falls_back_to_de_without_de_DE() -> None:
    assert _message("de", "de-CH").for_locale("de-DE-bay").alert == "de"


def test_de_DE_bay_falls_back_to_the_default_without_any_german() -> None:
    assert _message("en", "de-CH").for_locale("de-DE-bay") == SAP_DEFAULT


def test_de_CH_never_gets_the_de_DE_variant() -> None:
    assert _message("de-DE").for_locale("de-CH") == SAP_DEFAULT


def test_registration_locale_matches_in_any_case_and_separator() -> None:
    assert _message("en_US").for_locale("EN-us").alert == "en_US"


@pytest.mark.parametrize("locale", [None, "", "not a locale", "x"])
def test_no_or_unusable_registration_locale_gets_the_default(locale: str | None) -> None:
    assert _message("de", "en").for_locale(locale) == SAP_DEFAULT


def test_chosen_variant_carries_the_defaults_unset_fields() -> None:
    message = build_message(Content(alert="Hello", title="News"), {"de": Content(alert="Hallo")})
    assert message.for_locale("de-AT") == Content(alert="Hallo", title="News")


_LANGUAGES = st.sampled_from(["de", "en", "gsw"])
_SUBTAGS = st.sampled_from(["de", "ch", "bay", "us", "x1"])
_SMALL_LOCALE = st.builds(
    lambda language, subtags: "-".join([language, *subtags]),
    _LANGUAGES,
    st.lists(_SUBTAGS, max_size=3),
)


def _longest_matching(keys: set[str], canonical: str) -> str | None:
    matching = [k for k in keys if canonical == k or canonical.startswith(k + "-")]
    return max(matching, key=len) if matching else None


@PROPERTY
@given(keys=st.sets(_SMALL_LOCALE, max_size=6), locale=_SMALL_LOCALE, data=st.data())
def test_chosen_variant_is_always_the_longest_matching_prefix(
    keys: set[str], locale: str, data: st.DataObject
) -> None:
    variants = {data.draw(spelled(key)): Content(alert=key) for key in keys}
    message = build_message(SAP_DEFAULT, variants)
    chosen = message.for_locale(data.draw(spelled(locale)))
    expected = _longest_matching(keys, locale)
    assert chosen.alert == (expected if expected is not None else "default")


# --- parse_priority -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "priority"),
    [
        ("normal", Priority.NORMAL),
        ("high", Priority.HIGH),
        ("HIGH", Priority.HIGH),
        (" Normal ", Priority.NORMAL),
    ],
)
def test_parse_priority_accepts_normal_or_high_in_any_case(value: str, priority: Priority) -> None:
    assert parse_priority(value) is priority


@pytest.mark.parametrize("value", ["", "urgent", "10", "5", "low"])
def test_parse_priority_refuses_other_names(value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_priority(value)
    assert caught.value.field == "priority"
    assert "normal or high" in caught.value.message


def test_parse_priority_refuses_an_identifier_over_128_characters() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_priority("high" + " " * 125, field="options.priority")  # 129 characters
    assert caught.value.field == "options.priority"
    assert "128" in caught.value.message


def test_parse_priority_accepts_a_padded_identifier_of_128_characters() -> None:
    assert parse_priority("high" + " " * 124) is Priority.HIGH


# --- expiry -------------------------------------------------------------------------------


def test_no_ttl_and_no_expiry_keeps_trying_for_28_days() -> None:
    assert expiry(NOW, ttl=None, expires_at=None) == NOW + timedelta(days=28)


def test_ttl_counts_from_acceptance() -> None:
    assert expiry(NOW, ttl=timedelta(hours=1), expires_at=None) == NOW + timedelta(hours=1)


def test_ttl_counts_from_the_start_of_sending_for_a_scheduled_notification() -> None:
    start = NOW + timedelta(days=2)
    got = expiry(NOW, ttl=timedelta(hours=1), expires_at=None, start=start)
    assert got == start + timedelta(hours=1)


def test_ttl_0_leaves_a_one_minute_window_for_its_single_attempt() -> None:
    assert expiry(NOW, ttl=timedelta(0), expires_at=None) == NOW + timedelta(seconds=60)


def test_ttl_of_28_days_is_accepted() -> None:
    assert expiry(NOW, ttl=MAX_TTL, expires_at=None) == NOW + timedelta(days=28)


@pytest.mark.parametrize(
    "ttl", [timedelta(seconds=-1), timedelta(days=28, seconds=1), timedelta(days=365)]
)
def test_ttl_outside_0_to_28_days_is_refused(ttl: timedelta) -> None:
    with pytest.raises(InvalidInput) as caught:
        expiry(NOW, ttl=ttl, expires_at=None)
    assert caught.value.field == "ttl"


def test_expires_at_is_used_as_given() -> None:
    at = NOW + timedelta(hours=5)
    assert expiry(NOW, ttl=None, expires_at=at) == at


def test_expires_at_in_another_zone_is_the_same_instant() -> None:
    at = datetime(2026, 3, 1, 20, 0, tzinfo=timezone(timedelta(hours=2)))
    assert expiry(NOW, ttl=None, expires_at=at) == NOW + timedelta(hours=6)


def test_expires_at_exactly_28_days_after_start_is_accepted() -> None:
    at = NOW + MAX_TTL
    assert expiry(NOW, ttl=None, expires_at=at) == at


@pytest.mark.parametrize(
    "at",
    [NOW, NOW - timedelta(seconds=1), NOW + MAX_TTL + timedelta(seconds=1)],
    ids=["now", "past", "beyond-28-days"],
)
def test_expires_at_not_after_start_or_beyond_28_days_is_refused(at: datetime) -> None:
    with pytest.raises(InvalidInput) as caught:
        expiry(NOW, ttl=None, expires_at=at)
    assert caught.value.field == "expires_at"


def test_expires_at_must_lie_after_a_scheduled_start() -> None:
    start = NOW + timedelta(days=1)
    with pytest.raises(InvalidInput) as caught:
        expiry(NOW, ttl=None, expires_at=NOW + timedelta(hours=12), start=start)
    assert caught.value.field == "expires_at"


def test_naive_expires_at_is_refused() -> None:
    naive = datetime(2026, 3, 2, 12, 0)  # naive: the value under test
    with pytest.raises(InvalidInput) as caught:
        expiry(NOW, ttl=None, expires_at=naive)
    assert caught.value.field == "expires_at"
    assert "time zone" in caught.value.message


def test_ttl_and_expires_at_together_are_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        expiry(NOW, ttl=timedelta(hours=1), expires_at=NOW + timedelta(hours=1))
    assert caught.value.field == "ttl"


# --- round trips --------------------------------------------------------------------------


@PROPERTY
@given(content=CONTENT)
def test_content_round_trips_through_its_dict(content: Content) -> None:
    assert Content.from_dict(content.to_dict()) == content


@PROPERTY
@given(content=CONTENT)
def test_content_dict_holds_only_the_fields_that_are_set(content: Content) -> None:
    names = {f.name for f in fields(Content) if getattr(content, f.name) is not None}
    assert set(content.to_dict()) == names


@PROPERTY
@given(message=MESSAGE)
def test_message_round_trips_through_json(message: Message) -> None:
    assert Message.from_dict(json.loads(json.dumps(message.to_dict()))) == message


@PROPERTY
@given(options=OPTIONS)
def test_delivery_options_round_trip_through_json(options: DeliveryOptions) -> None:
    restored = DeliveryOptions.from_dict(json.loads(json.dumps(options.to_dict())))
    assert restored == options
    assert restored.expires_at.utcoffset() == options.expires_at.utcoffset()
