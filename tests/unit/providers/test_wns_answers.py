"""The WNS answer table, one test per row, written out again here from the brief and the docs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pushgate.domain.payload import Content, DeliveryOptions
from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.providers.base import Push
from pushgate.providers.http import HttpResponse
from pushgate.providers.wns import ANSWERS, answer_for, channel_refusal, notify_headers
from pushgate.providers.wns_payload import BADGE, RAW, TOAST, WnsNotification

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def response(status: int, *headers: tuple[str, str]) -> HttpResponse:
    return HttpResponse(status, list(headers), b"")


@pytest.mark.parametrize(
    ("status", "outcome", "code"),
    [
        (400, Outcome.REJECTED, ResultCode.INVALID_DATA),
        (401, Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED),  # after the one refresh
        (403, Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED),
        (404, Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED),
        (405, Outcome.REJECTED, ResultCode.INVALID_DATA),
        (406, Outcome.RETRY, ResultCode.TOO_MANY_FOR_DEVICE),
        (410, Outcome.DEAD_TOKEN, ResultCode.REGISTRATION_EXPIRED),
        (413, Outcome.REJECTED, ResultCode.TOO_LARGE),
        (429, Outcome.RETRY, ResultCode.QUOTA_EXCEEDED),
        (500, Outcome.RETRY, ResultCode.RECOVERABLE_IO),
        (503, Outcome.RETRY, ResultCode.RECOVERABLE_IO),
    ],
)
def test_status_row(status: int, outcome: Outcome, code: ResultCode) -> None:
    result = answer_for(response(status), NOW)
    assert (result.outcome, result.code) == (outcome, code)


def test_every_table_row_is_tested_above() -> None:
    assert sorted(ANSWERS) == [400, 401, 403, 404, 405, 406, 410, 413, 429, 500, 503]


def test_200_received_is_sent_with_the_message_id() -> None:
    result = answer_for(response(200, ("x-wns-status", "received"), ("x-wns-msg-id", "3A5C")), NOW)
    assert (result.outcome, result.provider_ref) == (Outcome.SENT, "3A5C")


def test_200_without_a_status_header_is_sent() -> None:
    assert answer_for(response(200), NOW).outcome is Outcome.SENT


def test_200_dropped_is_not_accepted_and_not_retried() -> None:
    result = answer_for(response(200, ("x-wns-status", "dropped")), NOW)
    assert (result.outcome, result.code) == (Outcome.REJECTED, ResultCode.NOT_ACCEPTED)


def test_200_channelthrottled_is_retried() -> None:
    result = answer_for(response(200, ("x-wns-status", "channelthrottled")), NOW)
    assert (result.outcome, result.code) == (Outcome.RETRY, ResultCode.TOO_MANY_FOR_DEVICE)


def test_other_4xx_is_rejected_and_other_5xx_retried() -> None:
    assert answer_for(response(418), NOW).outcome is Outcome.REJECTED
    assert answer_for(response(502), NOW).outcome is Outcome.RETRY


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    assert answer_for(response(503, ("retry-after", "120")), NOW).retry_after_s == 120.0
    date = "Sun, 01 Nov 2026 12:01:00 GMT"
    assert answer_for(response(429, ("retry-after", date)), NOW).retry_after_s == 60.0
    assert answer_for(response(410, ("retry-after", "5")), NOW).retry_after_s is None


@pytest.mark.parametrize(
    "channel",
    ["http://db3.notify.windows.com/?token=x", "ftp://x/y", "https:///nohost", "not a url"],
)
def test_non_https_channels_are_refused(channel: str) -> None:
    refusal = channel_refusal(channel)
    assert refusal is not None
    assert refusal.outcome is Outcome.DEAD_TOKEN


def test_https_channel_is_allowed() -> None:
    assert channel_refusal("https://db3.notify.windows.com/?token=AwYAAAB") is None


def _push(**options: object) -> Push:
    return Push(Content(title="t"), DeliveryOptions(NOW + timedelta(seconds=90), **options))  # type: ignore[arg-type]


def test_headers_of_a_toast() -> None:
    headers = dict(notify_headers(WnsNotification(TOAST, b"<toast/>"), _push(), NOW))
    assert headers == {"x-wns-type": TOAST, "content-type": "text/xml", "x-wns-ttl": "90"}


def test_once_asks_wns_not_to_cache() -> None:
    headers = dict(notify_headers(WnsNotification(RAW, b"{}"), _push(once=True), NOW))
    assert headers["x-wns-cache-policy"] == "no-cache"
    assert headers["content-type"] == "application/octet-stream"


def test_tag_only_for_toast_and_tile() -> None:
    toast = dict(notify_headers(WnsNotification(TOAST, b""), _push(collapse_id="game7"), NOW))
    badge = dict(notify_headers(WnsNotification(BADGE, b""), _push(collapse_id="game7"), NOW))
    assert toast["x-wns-tag"] == "game7"
    assert "x-wns-tag" not in badge
