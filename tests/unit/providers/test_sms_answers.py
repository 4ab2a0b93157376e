"""The SMS answer table, one test per row, and the gateway's message id."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.providers.http import HttpResponse
from pushgate.providers.sms import ANSWERS, NUMBER_ERRORS, answer_for, gateway_refusal

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def response(status: int, body: object = None, *headers: tuple[str, str]) -> HttpResponse:
    raw = b"" if body is None else json.dumps(body).encode()
    return HttpResponse(status, list(headers), raw)


@pytest.mark.parametrize(
    ("status", "outcome", "code"),
    [
        (400, Outcome.REJECTED, ResultCode.INVALID_DATA),
        (401, Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED),
        (403, Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED),
        (404, Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED),  # the gateway URL is wrong
        (413, Outcome.REJECTED, ResultCode.TOO_LARGE),
        (429, Outcome.RETRY, ResultCode.QUOTA_EXCEEDED),
    ],
)
def test_status_row(status: int, outcome: Outcome, code: ResultCode) -> None:
    result = answer_for(response(status), NOW)
    assert (result.outcome, result.code) == (outcome, code)


def test_every_status_row_is_tested_above() -> None:
    assert sorted(ANSWERS) == [400, 401, 403, 404, 413, 429]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_5xx_is_retried(status: int) -> None:
    result = answer_for(response(status), NOW)
    assert (result.outcome, result.code) == (Outcome.RETRY, ResultCode.RECOVERABLE_IO)


@pytest.mark.parametrize(
    ("twilio_code", "outcome", "code"),
    [
        (21211, Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED),
        (21614, Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED),
        (21610, Outcome.DEAD_TOKEN, ResultCode.REGISTRATION_EXPIRED),
    ],
)
def test_twilio_number_error_row(twilio_code: int, outcome: Outcome, code: ResultCode) -> None:
    result = answer_for(response(400, {"code": twilio_code, "status": 400}), NOW)
    assert (result.outcome, result.code) == (outcome, code)


def test_every_number_error_row_is_tested_above() -> None:
    assert sorted(NUMBER_ERRORS) == [21211, 21610, 21614]


def test_other_twilio_400_codes_stay_rejected() -> None:
    result = answer_for(response(400, {"code": 21603}), NOW)
    assert (result.outcome, result.code) == (Outcome.REJECTED, ResultCode.INVALID_DATA)


def test_a_number_code_outside_a_400_changes_nothing() -> None:
    assert answer_for(response(429, {"code": 21211}), NOW).outcome is Outcome.RETRY


@pytest.mark.parametrize(
    ("body", "ref"),
    [
        ({"sid": "SM123"}, "SM123"),
        ({"id": 42}, "42"),
        ({"id": True}, None),
        ([1], None),
        (None, None),
    ],
)
def test_2xx_is_sent_with_the_gateway_id(body: object, ref: str | None) -> None:
    result = answer_for(response(201, body), NOW)
    assert (result.outcome, result.provider_ref) == (Outcome.SENT, ref)


def test_other_statuses() -> None:
    assert answer_for(response(418), NOW).outcome is Outcome.REJECTED
    assert answer_for(response(302), NOW).outcome is Outcome.RETRY


def test_retry_after_is_read_for_retries_only() -> None:
    assert answer_for(response(429, None, ("retry-after", "30")), NOW).retry_after_s == 30.0
    assert answer_for(response(400, None, ("retry-after", "30")), NOW).retry_after_s is None


@pytest.mark.parametrize("url", ["ftp://gw/x", "gateway.example.com/send", "", "https://"])
def test_unusable_gateway_urls_are_refused(url: str) -> None:
    assert gateway_refusal(url) is not None


def test_http_and_https_gateways_are_allowed() -> None:
    assert gateway_refusal("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json") is None
    assert gateway_refusal("http://sms.internal:8080/send") is None
