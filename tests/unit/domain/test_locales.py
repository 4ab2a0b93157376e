"""Locale keys and the SAP seed's language fallback (de-DE-bay -> de-DE -> de -> default)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushgate.domain.locales import fallback_chain, normalize_locale
from pushgate.errors import ErrorCode, InvalidInput
from tests.unit.domain.strategies import CANONICAL_LOCALE, PROPERTY, spelled

NOT_LOCALES = [
    "",
    "   ",
    "d",  # a language has 2-3 letters
    "deutsch",
    "de--DE",
    "de-",
    "-de",
    "de DE",
    "de-DE-toolongsub",  # a subtag has at most 8 characters
    "12-DE",
    "de-DE.UTF-8",
    "de-a-b-c-d-e-f-g",  # at most six subtags after the language
]


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("de", "de"),
        ("de-DE", "de-de"),
        ("de_DE", "de-de"),
        ("EN-us", "en-us"),
        ("en_US", "en-us"),
        (" de-DE-bay ", "de-de-bay"),
        ("zh_Hant_TW", "zh-hant-tw"),
        ("gsw", "gsw"),
    ],
)
def test_normalize_locale_lower_cases_and_uses_dashes(value: str, key: str) -> None:
    assert normalize_locale(value) == key


@pytest.mark.parametrize("value", NOT_LOCALES)
def test_normalize_locale_refuses_what_is_no_locale(value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_locale(value)
    assert caught.value.code is ErrorCode.INVALID
    assert caught.value.field == "locale"


def test_normalize_locale_refusal_names_the_given_field_not_the_value() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_locale("Klingon-Empire", field="localized.Klingon-Empire")
    assert caught.value.field == "localized.Klingon-Empire"
    assert "Klingon" not in caught.value.message


def test_de_DE_bay_falls_back_to_de_DE_then_de() -> None:
    assert fallback_chain("de-DE-bay") == ["de-de-bay", "de-de", "de"]


def test_posix_style_en_US_falls_back_to_en() -> None:
    assert fallback_chain("en_US") == ["en-us", "en"]


def test_a_bare_language_is_its_own_chain() -> None:
    assert fallback_chain("DE") == ["de"]


@pytest.mark.parametrize("value", NOT_LOCALES)
def test_fallback_chain_of_what_is_no_locale_is_empty(value: str) -> None:
    assert fallback_chain(value) == []


@PROPERTY
@given(canonical=CANONICAL_LOCALE, data=st.data())
def test_case_blanks_and_separator_never_change_the_normalized_key(
    canonical: str, data: st.DataObject
) -> None:
    written = data.draw(spelled(canonical))
    assert normalize_locale(written) == canonical


@PROPERTY
@given(canonical=CANONICAL_LOCALE, data=st.data())
def test_case_blanks_and_separator_never_change_the_chain(
    canonical: str, data: st.DataObject
) -> None:
    one, other = data.draw(spelled(canonical)), data.draw(spelled(canonical))
    assert fallback_chain(one) == fallback_chain(other)


@PROPERTY
@given(canonical=CANONICAL_LOCALE, data=st.data())
def test_chain_is_every_prefix_of_the_normalized_locale_most_specific_first(
    canonical: str, data: st.DataObject
) -> None:
    chain = fallback_chain(data.draw(spelled(canonical)))
    subtags = canonical.split("-")
    assert len(chain) == len(subtags)
    assert chain[0] == canonical
    assert chain[-1] == subtags[0]  # the bare language comes last
    for longer, shorter in itertools.pairwise(chain):
        # each step drops exactly the last subtag
        assert longer.startswith(shorter + "-")
        assert longer.count("-") == shorter.count("-") + 1


@PROPERTY
@given(text=st.text())
def test_fallback_chain_of_any_text_is_a_list_and_never_raises(text: str) -> None:
    chain = fallback_chain(text)
    assert isinstance(chain, list)
    assert all(isinstance(key, str) for key in chain)


@PROPERTY
@given(text=st.text())
def test_fallback_chain_is_empty_exactly_when_normalize_refuses(text: str) -> None:
    try:
        key = normalize_locale(text)
    except InvalidInput:
        assert fallback_chain(text) == []
    else:
        assert fallback_chain(text)[0] == key
