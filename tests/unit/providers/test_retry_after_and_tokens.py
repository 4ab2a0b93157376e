"""Retry-After parsing and the client-credentials token answer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pushgate.providers.client_credentials import TokenUnavailable, parse_token_answer
from pushgate.providers.retry_after import MAX_RETRY_AFTER_S, parse_retry_after

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("Sun, 01 Nov 2026 12:00:30 GMT", 30.0),
        ("Sun, 01 Nov 2026 11:00:00 GMT", 0.0),  # in the past: now
        ("999999999", MAX_RETRY_AFTER_S),
        (None, None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
)
def test_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_token_answer_refreshes_five_minutes_before_a_day_long_expiry() -> None:
    token = parse_token_answer(
        b'{"access_token":"abc","token_type":"bearer","expires_in":86400}', 100.0
    )
    assert token.value == "abc"
    assert token.refresh_at == 100.0 + 86400 - 300


def test_short_lived_token_refreshes_a_tenth_before_expiry() -> None:
    token = parse_token_answer(b'{"access_token":"abc","expires_in":"600"}', 0.0)
    assert token.refresh_at == 540.0


def test_token_without_expires_in_is_kept_an_hour() -> None:
    assert parse_token_answer(b'{"access_token":"abc"}', 0.0).refresh_at == 3600 - 300


def test_token_value_is_not_in_its_repr() -> None:
    assert "s3cret" not in repr(parse_token_answer(b'{"access_token":"s3cret"}', 0.0))


@pytest.mark.parametrize(
    "body",
    [
        b"<html>",
        b"[]",
        b'{"token_type":"bearer"}',
        b'{"access_token":""}',
        b'{"access_token":"a","expires_in":0}',
        b'{"access_token":"a","expires_in":true}',
    ],
)
def test_unusable_token_answers(body: bytes) -> None:
    with pytest.raises(TokenUnavailable):
        parse_token_answer(body, 0.0)
