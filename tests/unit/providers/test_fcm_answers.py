"""The FCM answer table, one test per row, and the pieces of an answer it reads."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.providers.fcm_answers import (
    BAD_REQUEST_TYPE,
    ERROR_CODE_ANSWERS,
    FCM_ERROR_TYPE,
    STATUS_ANSWERS,
    answer_for,
    is_bare_unauthenticated,
    parse_error,
    retry_after_s,
)
from pushgate.providers.http import HttpResponse

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
RETRY, DEAD, REJECTED, AUTH = Outcome.RETRY, Outcome.DEAD_TOKEN, Outcome.REJECTED, Outcome.AUTH


def error_response(
    status: int,
    error_code: str | None,
    *,
    message: str = "something",
    violations: Sequence[str] = (),
    retry_after: str | None = None,
) -> HttpResponse:
    details: list[dict[str, Any]] = []
    if error_code is not None:
        details.append({"@type": FCM_ERROR_TYPE, "errorCode": error_code})
    if violations:
        field_violations = [{"field": f, "description": "bad"} for f in violations]
        details.append({"@type": BAD_REQUEST_TYPE, "fieldViolations": field_violations})
    error: dict[str, Any] = {"code": status, "message": message, "status": "X"}
    if details:
        error["details"] = details
    headers = [("retry-after", retry_after)] if retry_after is not None else []
    return HttpResponse(status, headers, json.dumps({"error": error}).encode())


# (HTTP status, errorCode) -> (outcome, result code, retry_after_s): the rows of
# ERROR_CODE_ANSWERS, written out again so a changed row fails here.
ERROR_CODE_ROWS = [
    (404, "UNREGISTERED", DEAD, ResultCode.TOKEN_REJECTED, None),
    (400, "INVALID_ARGUMENT", REJECTED, ResultCode.INVALID_DATA, None),
    (403, "SENDER_ID_MISMATCH", DEAD, ResultCode.TOKEN_REJECTED, None),
    (429, "QUOTA_EXCEEDED", RETRY, ResultCode.QUOTA_EXCEEDED, 60.0),
    (503, "UNAVAILABLE", RETRY, ResultCode.RECOVERABLE_IO, None),
    (500, "INTERNAL", RETRY, ResultCode.RECOVERABLE_IO, None),
    (401, "THIRD_PARTY_AUTH_ERROR", AUTH, ResultCode.CONFIGURATION_EXPIRED, None),
    (401, "APNS_AUTH_ERROR", AUTH, ResultCode.CONFIGURATION_EXPIRED, None),
]
# HTTP status without FcmError -> (outcome, result code, retry_after_s): STATUS_ANSWERS.
STATUS_ROWS = [
    (400, REJECTED, ResultCode.INVALID_DATA, None),
    (401, AUTH, ResultCode.CONFIGURATION_EXPIRED, None),
    (403, AUTH, ResultCode.CONFIGURATION_EXPIRED, None),
    (404, AUTH, ResultCode.CONFIGURATION_EXPIRED, None),
    (408, RETRY, ResultCode.RECOVERABLE_IO, None),
    (413, REJECTED, ResultCode.TOO_LARGE, None),
    (429, RETRY, ResultCode.QUOTA_EXCEEDED, 60.0),
    (500, RETRY, ResultCode.RECOVERABLE_IO, None),
    (502, RETRY, ResultCode.RECOVERABLE_IO, None),
    (503, RETRY, ResultCode.RECOVERABLE_IO, None),
    (504, RETRY, ResultCode.RECOVERABLE_IO, None),
]


def test_the_rows_cover_both_tables() -> None:
    assert {row[1] for row in ERROR_CODE_ROWS} == set(ERROR_CODE_ANSWERS)
    assert {row[0] for row in STATUS_ROWS} == set(STATUS_ANSWERS)


@pytest.mark.parametrize(
    ("status", "error_code", "outcome", "code", "retry_after"),
    ERROR_CODE_ROWS,
    ids=[row[1] for row in ERROR_CODE_ROWS],
)
def test_error_code_row(
    status: int, error_code: str, outcome: Outcome, code: ResultCode, retry_after: float | None
) -> None:
    result = answer_for(error_response(status, error_code, message="said"), NOW)
    assert (result.outcome, result.code, result.retry_after_s) == (outcome, code, retry_after)
    assert result.reason == f"{error_code}: said"


@pytest.mark.parametrize(
    ("status", "outcome", "code", "retry_after"), STATUS_ROWS, ids=[str(r[0]) for r in STATUS_ROWS]
)
def test_status_row_without_fcm_error(
    status: int, outcome: Outcome, code: ResultCode, retry_after: float | None
) -> None:
    result = answer_for(error_response(status, None), NOW)
    assert (result.outcome, result.code, result.retry_after_s) == (outcome, code, retry_after)
    assert result.reason == f"HTTP {status}: something"


@pytest.mark.parametrize(
    "response",
    [
        error_response(400, "INVALID_ARGUMENT", violations=["message.token"]),
        error_response(
            400,
            "INVALID_ARGUMENT",
            message="The registration token is not a valid FCM registration token",
        ),
        error_response(400, None, violations=["message.token"]),
    ],
    ids=["violation", "message", "without-fcm-error"],
)
def test_invalid_argument_about_the_token_is_a_dead_token(response: HttpResponse) -> None:
    result = answer_for(response, NOW)
    assert (result.outcome, result.code) == (DEAD, ResultCode.TOKEN_REJECTED)


def test_invalid_argument_about_another_field_is_rejected() -> None:
    result = answer_for(error_response(400, "INVALID_ARGUMENT", violations=["message.data"]), NOW)
    assert (result.outcome, result.code) == (REJECTED, ResultCode.INVALID_DATA)


@pytest.mark.parametrize(
    ("status", "outcome", "code"),
    [(418, REJECTED, ResultCode.NOT_ACCEPTED), (507, RETRY, ResultCode.RECOVERABLE_IO)],
)
def test_unlisted_statuses(status: int, outcome: Outcome, code: ResultCode) -> None:
    result = answer_for(error_response(status, None), NOW)
    assert (result.outcome, result.code) == (outcome, code)


def test_unspecified_or_unknown_error_code_falls_back_to_the_status() -> None:
    for error_code in ("UNSPECIFIED_ERROR", "SOMETHING_NEW"):
        result = answer_for(error_response(503, error_code), NOW)
        assert (result.outcome, result.code) == (RETRY, ResultCode.RECOVERABLE_IO)


def test_200_is_sent_with_the_message_name() -> None:
    name = "projects/p/messages/0:123%abc"
    result = answer_for(HttpResponse(200, [], json.dumps({"name": name}).encode()), NOW)
    assert (result.outcome, result.code, result.provider_ref) == (
        Outcome.SENT,
        ResultCode.SENT,
        name,
    )
    assert answer_for(HttpResponse(200, [], b"not json"), NOW).outcome is Outcome.SENT


def test_retry_after_header_wins_over_the_quota_minimum() -> None:
    result = answer_for(error_response(429, "QUOTA_EXCEEDED", retry_after="5"), NOW)
    assert result.retry_after_s == 5.0
    later = format_datetime(NOW + timedelta(seconds=120), usegmt=True)
    dated = answer_for(error_response(503, "UNAVAILABLE", retry_after=later), NOW)
    assert dated.retry_after_s == 120.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("3", 3.0),
        (" 2.5 ", 2.5),
        ("-4", 0.0),
        ("soon", None),
        ("inf", None),
        (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),
        (format_datetime(NOW + timedelta(minutes=2), usegmt=True), 120.0),
    ],
)
def test_retry_after_parsing(value: str | None, seconds: float | None) -> None:
    assert retry_after_s(value, NOW) == seconds


def test_a_bare_401_is_one_without_fcm_error() -> None:
    assert is_bare_unauthenticated(error_response(401, None))
    assert not is_bare_unauthenticated(error_response(401, "THIRD_PARTY_AUTH_ERROR"))
    assert not is_bare_unauthenticated(error_response(403, None))


def test_unparseable_error_bodies_are_read_by_status() -> None:
    assert parse_error(b"<html>").error_code is None
    assert parse_error(b'{"error": "x"}').message == ""
    result = answer_for(HttpResponse(502, [], b"<html>bad gateway</html>"), NOW)
    assert (result.outcome, result.reason) == (RETRY, "HTTP 502")


def test_long_messages_are_cut_in_reasons() -> None:
    result = answer_for(error_response(400, "INVALID_ARGUMENT", message="x" * 1000), NOW)
    assert result.reason is not None
    assert len(result.reason) == 200
