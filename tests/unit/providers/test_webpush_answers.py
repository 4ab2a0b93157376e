"""The Web Push answer table, one test per row, and Retry-After parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.providers.http import HttpResponse
from pushgate.providers.retry_after import MAX_RETRY_AFTER_S, parse_retry_after
from pushgate.providers.webpush_answers import ANSWERS, result_for, row_for

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC).timestamp()


def _answer(status: int, *headers: tuple[str, str], body: bytes = b"") -> HttpResponse:
    return HttpResponse(status, list(headers), body)


@pytest.mark.parametrize("status", [200, 201, 202])
def test_2xx_is_sent_with_the_location_as_provider_ref(status: int) -> None:
    result = result_for(_answer(status, ("location", "https://push.example/m/1")), NOW)
    assert (result.outcome, result.code) == (Outcome.SENT, ResultCode.SENT)
    assert result.provider_ref == "https://push.example/m/1"


def test_400_is_rejected_invalid_data() -> None:
    result = result_for(_answer(400), NOW)
    assert (result.outcome, result.code, result.reason) == (
        Outcome.REJECTED,
        ResultCode.INVALID_DATA,
        "BadRequest",
    )


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_auth_configuration(status: int) -> None:
    result = result_for(_answer(status), NOW)
    assert (result.outcome, result.code) == (Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED)


@pytest.mark.parametrize(("status", "reason"), [(404, "NotFound"), (410, "Gone")])
def test_404_and_410_are_dead_tokens(status: int, reason: str) -> None:
    result = result_for(_answer(status), NOW)
    assert (result.outcome, result.code, result.reason) == (
        Outcome.DEAD_TOKEN,
        ResultCode.TOKEN_REJECTED,
        reason,
    )


def test_406_microsoft_throttling_is_retried_per_device() -> None:
    result = result_for(_answer(406, ("retry-after", "30")), NOW)
    assert (result.outcome, result.code) == (Outcome.RETRY, ResultCode.TOO_MANY_FOR_DEVICE)
    assert result.retry_after_s == 30.0


def test_408_is_retried() -> None:
    result = result_for(_answer(408), NOW)
    assert (result.outcome, result.code) == (Outcome.RETRY, ResultCode.RECOVERABLE_IO)


def test_413_is_rejected_too_large() -> None:
    result = result_for(_answer(413), NOW)
    assert (result.outcome, result.code) == (Outcome.REJECTED, ResultCode.TOO_LARGE)


def test_429_is_a_quota_retry_honouring_retry_after() -> None:
    result = result_for(_answer(429, ("retry-after", "1")), NOW)
    assert (result.outcome, result.code) == (Outcome.RETRY, ResultCode.QUOTA_EXCEEDED)
    assert result.retry_after_s == 1.0


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_5xx_is_retried_honouring_an_http_date(status: int) -> None:
    when = format_datetime(datetime(2026, 1, 1, 12, 2, tzinfo=UTC), usegmt=True)
    result = result_for(_answer(status, ("retry-after", when)), NOW)
    assert (result.outcome, result.code) == (Outcome.RETRY, ResultCode.RECOVERABLE_IO)
    assert result.retry_after_s == 120.0


@pytest.mark.parametrize("status", [301, 302, 405, 415, 418, 451])
def test_other_statuses_are_not_accepted(status: int) -> None:
    result = result_for(_answer(status), NOW)
    assert (result.outcome, result.code) == (Outcome.REJECTED, ResultCode.NOT_ACCEPTED)


def test_every_table_row_is_covered_above() -> None:
    assert set(ANSWERS) == {200, 201, 202, 400, 401, 403, 404, 406, 408, 410, 413, 429}
    assert row_for(503)[0] is Outcome.RETRY


def test_a_short_vendor_reason_from_the_body_is_kept() -> None:
    result = result_for(_answer(403, body=b'{"reason": "BadJwtToken"}'), NOW)
    assert result.reason == "BadJwtToken"
    mozilla = b'{"code": 410, "errno": 106, "error": "Gone", "message": "..."}'
    assert result_for(_answer(410, body=mozilla), NOW).reason == "Gone"


@pytest.mark.parametrize(
    "body",
    [
        b'{"reason": "eyJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwcyJ9.sig"}',  # never echo a JWT
        b'{"reason": "free text, with punctuation!"}',
        b"<html>oops</html>",
        b"[1, 2]",
        b'{"reason": 7}',
    ],
)
def test_a_body_reason_that_is_not_a_short_word_is_ignored(body: bytes) -> None:
    assert result_for(_answer(400, body=body), NOW).reason == "BadRequest"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("1", 1.0),
        (" 120 ", 120.0),
        ("Thu, 01 Jan 2026 12:00:30 GMT", 30.0),
        ("Thursday, 01-Jan-26 12:01:00 GMT", 60.0),  # RFC 850 form, still allowed to parse
        ("Thu Jan  1 12:00:05 2026", 5.0),  # asctime form, no zone: GMT
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),  # in the past: now
        ("99999999", MAX_RETRY_AFTER_S),
    ],
)
def test_retry_after_seconds_and_http_dates(value: str, seconds: float) -> None:
    assert parse_retry_after(value, NOW) == seconds


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5", "Thu, 99 Foo 2026"])
def test_unparsable_retry_after_is_none(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None
