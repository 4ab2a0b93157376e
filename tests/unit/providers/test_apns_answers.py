"""The APNs answer table: one test per documented (status, reason), written out here again.

The expected rows are restated literally (not read from ANSWERS), so a change to the
adapter's table must be made twice, on purpose.
"""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, fields
from datetime import UTC, datetime

import pytest

from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.providers.apns_answers import (
    ANSWERS,
    result_of_answer,
    result_of_failure,
    retry_after_s,
    sent,
)
from pushgate.providers.base import SendResult
from pushgate.providers.http import ConnectFailed, ConnectionLost, HttpResponse, TimedOut

D, R, J, A = Outcome.DEAD_TOKEN, Outcome.RETRY, Outcome.REJECTED, Outcome.AUTH
C = ResultCode
NOW = 1_800_000_000.0

ROWS = [
    (400, "BadCollapseId", J, C.INVALID_DATA),
    (400, "BadDeviceToken", D, C.TOKEN_REJECTED),
    (400, "BadExpirationDate", J, C.INVALID_DATA),
    (400, "BadMessageId", J, C.NOT_ACCEPTED),
    (400, "BadPriority", J, C.NOT_ACCEPTED),
    (400, "BadTopic", A, C.CONFIGURATION_EXPIRED),
    (400, "DeviceTokenNotForTopic", D, C.TOKEN_REJECTED),
    (400, "DuplicateHeaders", J, C.NOT_ACCEPTED),
    (400, "IdleTimeout", R, C.RECOVERABLE_IO),
    (400, "InvalidPushType", J, C.NOT_ACCEPTED),
    (400, "MissingDeviceToken", D, C.TOKEN_MISSING),
    (400, "MissingTopic", A, C.CONFIGURATION_EXPIRED),
    (400, "PayloadEmpty", J, C.INVALID_DATA),
    (400, "TopicDisallowed", A, C.CONFIGURATION_EXPIRED),
    (403, "BadCertificate", A, C.CONFIGURATION_EXPIRED),
    (403, "BadCertificateEnvironment", A, C.CONFIGURATION_EXPIRED),
    (403, "ExpiredProviderToken", A, C.CONFIGURATION_EXPIRED),
    (403, "Forbidden", A, C.CONFIGURATION_EXPIRED),
    (403, "InvalidProviderToken", A, C.CONFIGURATION_EXPIRED),
    (403, "MissingProviderToken", A, C.CONFIGURATION_EXPIRED),
    (403, "UnrelatedKeyIdInToken", A, C.CONFIGURATION_EXPIRED),
    (403, "BadEnvironmentKeyIdInToken", A, C.CONFIGURATION_EXPIRED),
    (404, "BadPath", J, C.NOT_ACCEPTED),
    (405, "MethodNotAllowed", J, C.NOT_ACCEPTED),
    (410, "ExpiredToken", D, C.REGISTRATION_EXPIRED),
    (410, "Unregistered", D, C.TOKEN_REJECTED),
    (413, "PayloadTooLarge", J, C.TOO_LARGE),
    (429, "TooManyProviderTokenUpdates", R, C.RECOVERABLE_IO),
    (429, "TooManyRequests", R, C.TOO_MANY_FOR_DEVICE),
    (500, "InternalServerError", R, C.RECOVERABLE_IO),
    (503, "ServiceUnavailable", R, C.RECOVERABLE_IO),
    (503, "Shutdown", R, C.RECOVERABLE_IO),
]


def answer(status: int, doc: dict[str, object] | None, *headers: tuple[str, str]) -> HttpResponse:
    body = json.dumps(doc).encode() if doc is not None else b""
    return HttpResponse(status, [("apns-id", "id-1"), *headers], body)


@pytest.mark.parametrize(("status", "reason", "outcome", "code"), ROWS, ids=[r[1] for r in ROWS])
def test_answer_row(status: int, reason: str, outcome: Outcome, code: ResultCode) -> None:
    result = result_of_answer(answer(status, {"reason": reason}), lambda: NOW)
    assert (result.outcome, result.code, result.reason) == (outcome, code, reason)
    assert result.provider_ref == "id-1"


def test_every_row_of_the_table_is_tested() -> None:
    assert set(ANSWERS) == {(status, reason) for status, reason, _, _ in ROWS}


def test_200_is_sent_with_the_apns_id() -> None:
    result = result_of_answer(answer(200, None), lambda: NOW)
    assert (result.outcome, result.code, result.provider_ref) == (Outcome.SENT, C.SENT, "id-1")


def test_without_the_answer_header_the_sent_apns_id_is_the_ref() -> None:
    # The adapter collects no answer headers (http_curl_easy.EasyOptions): APNs echoes ours.
    refused = HttpResponse(400, [], b'{"reason": "BadDeviceToken"}')
    assert result_of_answer(refused, lambda: NOW, "id-sent").provider_ref == "id-sent"
    assert result_of_answer(answer(200, None), lambda: NOW, "id-sent").provider_ref == "id-1"


def test_410_carries_its_millisecond_timestamp() -> None:
    doc = {"reason": "Unregistered", "timestamp": 1_700_000_000_123}
    result = result_of_answer(answer(410, doc), lambda: NOW)
    assert result.provider_timestamp == datetime.fromtimestamp(1_700_000_000.123, UTC)


@pytest.mark.parametrize(
    ("status", "outcome", "code"),
    [
        (400, J, C.NOT_ACCEPTED),
        (403, A, C.CONFIGURATION_EXPIRED),
        (410, D, C.TOKEN_REJECTED),
        (429, R, C.TOO_MANY_FOR_DEVICE),
        (502, R, C.RECOVERABLE_IO),
        (418, R, C.RECOVERABLE_IO),
    ],
)
def test_unknown_reason_is_decided_by_status(
    status: int, outcome: Outcome, code: ResultCode
) -> None:
    result = result_of_answer(answer(status, {"reason": "SomethingNew"}), lambda: NOW)
    assert (result.outcome, result.code, result.reason) == (outcome, code, "SomethingNew")


def test_unparsable_body_still_gives_a_result() -> None:
    result = result_of_answer(HttpResponse(500, [], b"<html>"), lambda: NOW)
    assert (result.outcome, result.reason) == (R, "HTTP 500")


def test_retry_after_seconds_and_http_date() -> None:
    too_many = answer(429, {"reason": "TooManyRequests"}, ("retry-after", "120"))
    assert result_of_answer(too_many, lambda: NOW).retry_after_s == 120.0
    assert retry_after_s("Fri, 15 Jan 2027 07:59:00 GMT", lambda: 1_800_000_000.0) == 0.0  # past
    when = datetime(2027, 1, 15, 8, 0, 30, tzinfo=UTC).timestamp()
    assert retry_after_s("Fri, 15 Jan 2027 08:00:30 GMT", lambda: when - 30) == 30.0
    assert retry_after_s("soon", lambda: NOW) is None


def test_transport_failures_are_retries() -> None:
    refused = result_of_failure(ConnectFailed("curl error 7: refused"))
    lost = result_of_failure(ConnectionLost("curl error 56: reset"))
    late = result_of_failure(TimedOut("curl error 28"))
    assert (refused.outcome, refused.unsent) == (R, True)
    assert (lost.outcome, lost.unsent, lost.code) == (R, False, C.RECOVERABLE_IO)
    assert (late.outcome, late.reason) == (R, "timeout")


def test_sent_is_the_plain_sent_result_with_its_apns_id() -> None:
    result = sent("id-9")
    assert result == SendResult(Outcome.SENT, ResultCode.SENT, provider_ref="id-9")
    assert [getattr(result, f.name) for f in fields(SendResult)] == [
        getattr(SendResult(Outcome.SENT, ResultCode.SENT, provider_ref="id-9"), f.name)
        for f in fields(SendResult)
    ]
    with pytest.raises(FrozenInstanceError):
        result.reason = "changed"  # type: ignore[misc]
