"""MobileFirst's filter syntax and Accept-Language negotiation."""

from __future__ import annotations

import pytest

from pushgate.dialects.mobilefirst.errors import Keyed
from pushgate.dialects.mobilefirst.i18n import LANGUAGES, MESSAGES, negotiate
from pushgate.dialects.mobilefirst.paging import parse_filter
from pushgate.domain.filters import Op, Term


def test_and_binds_tighter_than_or() -> None:
    assert parse_filter("a==1;b=@x,c==3") == (
        (Term("a", Op.EQ, "1"), Term("b", Op.CONTAINS, "x")),
        (Term("c", Op.EQ, "3"),),
    )
    assert parse_filter("tagName=@a=b") == ((Term("tagName", Op.CONTAINS, "a=b"),),)


@pytest.mark.parametrize("text", ["a", "a=1", "a==", ";", "a==1;", ",a==1", "1a==2", "a!=1"])
def test_malformed_filters_are_refused(text: str) -> None:
    with pytest.raises(Keyed) as refused:
        parse_filter(text)
    assert refused.value.field == "filter"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en-US"),
        ("", "en-US"),
        ("de", "de"),
        ("de-CH, fr;q=0.9", "de"),
        ("fr;q=0.5, es;q=0.8", "es"),
        ("en-GB", "en-US"),
        ("pt-BR, *;q=0.1", "en-US"),
        ("de;q=0", "en-US"),
        ("es;q=abc, fr", "fr"),
    ],
)
def test_accept_language(header: str | None, language: str) -> None:
    assert negotiate(header) == language


def test_every_message_is_in_every_language() -> None:
    for key, texts in MESSAGES.items():
        assert set(texts) == set(LANGUAGES), key
