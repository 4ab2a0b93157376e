"""The webhook signature, the retry schedule and the kinds a webhook may name."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from pushgate.domain.records import Event
from pushgate.domain.webhooks import (
    MAX_ATTEMPTS,
    gives_up,
    parse_kinds,
    retry_delay,
    signature,
    signed_request,
    verify,
)
from pushgate.errors import InvalidInput

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(b"pgw_s", b"1767268800.{}", hashlib.sha256).hexdigest()
    assert signature("pgw_s", 1767268800, b"{}") == "v1=" + expected
    assert verify("pgw_s", 1767268800, b"{}", "v0=zz, v1=" + expected)
    assert not verify("pgw_s", 1767268801, b"{}", "v1=" + expected)
    assert not verify("other", 1767268800, b"{}", "v1=" + expected)


def test_a_signed_request_carries_the_event_and_verifies() -> None:
    event = Event(7, 1, "message.delivered", "n1", {"reached": 1}, NOW)
    request = signed_request(event, "news", "crm", "pgw_s", NOW)
    headers = dict(request.headers)
    assert headers["x-pushgate-event-id"] == "7"
    assert headers["x-pushgate-webhook"] == "crm"
    assert request.body == (
        b'{"id":7,"kind":"message.delivered","app":"news","subject":"n1",'
        b'"created_at":"2026-01-01T12:00:00Z","data":{"reached":1}}'
    )
    timestamp = int(headers["x-pushgate-timestamp"])
    assert verify("pgw_s", timestamp, request.body, headers["x-pushgate-signature"])


def test_retries_back_off_exponentially_up_to_15_minutes() -> None:
    delays = [retry_delay(n).total_seconds() for n in range(1, 14)]
    assert delays[:5] == [1, 2, 4, 8, 16]
    assert max(delays) == 900
    assert not gives_up(MAX_ATTEMPTS - 1, NOW, NOW)
    assert gives_up(MAX_ATTEMPTS, NOW, NOW)
    assert gives_up(1, NOW - timedelta(hours=24), NOW)


def test_kinds_are_known_ones_or_star_each_once() -> None:
    assert parse_kinds(["message.delivered", "*", "message.delivered"]) == (
        "message.delivered",
        "*",
    )
    for bad in (["message.exploded"], []):
        with pytest.raises(InvalidInput):
            parse_kinds(bad)
