"""Web Push plaintext rendering, RFC 8030 header values, subscription keys and encryption."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.domain.payload import Content, DeliveryOptions, Priority
from pushgate.providers.webpush_payload import (
    MAX_BODY,
    MAX_PLAINTEXT,
    URGENCY,
    decode_subscription_keys,
    encrypt,
    render_object,
    render_plaintext,
    topic_for,
    ttl_seconds,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _browser() -> tuple[ec.EllipticCurvePrivateKey, str, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return key, _b64url(point), b"0123456789abcdef"


def test_common_fields_render_to_the_documented_shape() -> None:
    content = Content(
        title="Hello",
        body="World",
        badge=3,
        sound="ping.caf",
        data={"order": "42"},
        category="news",
        thread_id="t1",
        content_available=True,
        mutable_content=True,
    )
    assert render_object(content) == {
        "title": "Hello",
        "body": "World",
        "badge": 3,
        "sound": "ping.caf",
        "data": {"order": "42"},
        "category": "news",
        "thread_id": "t1",
    }


def test_plain_alert_becomes_the_body_and_unset_fields_are_absent() -> None:
    assert render_object(Content(alert="Sale today")) == {"body": "Sale today"}
    assert render_object(Content()) == {}


def test_webpush_override_is_deep_merged_and_null_removes_a_key() -> None:
    content = Content(
        title="Hello",
        body="World",
        data={"a": "1", "b": "2"},
        webpush={"data": {"b": "3", "c": "4"}, "title": None, "icon": "/i.png"},
    )
    assert render_object(content) == {
        "body": "World",
        "data": {"a": "1", "b": "3", "c": "4"},
        "icon": "/i.png",
    }


def test_plaintext_is_compact_utf8_json() -> None:
    rendered = render_plaintext(Content(title="Grüße", body="ok"))
    assert rendered == '{"title":"Grüße","body":"ok"}'.encode()
    assert json.loads(rendered) == {"title": "Grüße", "body": "ok"}


def test_ttl_counts_whole_seconds_to_expiry_and_zero_for_once() -> None:
    options = DeliveryOptions(NOW + timedelta(seconds=90, milliseconds=700))
    assert ttl_seconds(options, NOW) == 90
    assert ttl_seconds(DeliveryOptions(NOW + timedelta(minutes=1), once=True), NOW) == 0
    assert ttl_seconds(DeliveryOptions(NOW - timedelta(seconds=5)), NOW) == 0


def test_urgency_follows_priority_and_unset_is_normal() -> None:
    assert URGENCY[Priority.HIGH] == "high"
    assert URGENCY[Priority.NORMAL] == "normal"
    assert URGENCY[None] == "normal"


@pytest.mark.parametrize(
    ("collapse_id", "topic"),
    [
        ("sale-2026_01", "sale-2026_01"),
        ("a" * 32, "a" * 32),
        ("a" * 33, None),  # RFC 8030 5.4: at most 32 characters
        ("has space", None),
        ("dots.not.allowed", None),
        ("plus+slash/", None),  # base64, not base64url
        ("", None),
        (None, None),
    ],
)
def test_topic_only_when_it_fits_the_base64url_rule(
    collapse_id: str | None, topic: str | None
) -> None:
    assert topic_for(collapse_id) == topic


def test_encryption_round_trips_through_http_ece_with_a_fresh_key_each_time() -> None:
    private, p256dh, auth = _browser()
    keys = decode_subscription_keys(p256dh, _b64url(auth))
    plaintext = b'{"body":"hi"}'
    first, second = encrypt(plaintext, keys), encrypt(plaintext, keys)
    assert first[:16] != second[:16]  # salt
    assert first[21:86] != second[21:86]  # ephemeral public key (the keyid)
    for body in (first, second):
        assert first[20] == 65
        decrypted = http_ece.decrypt(
            body, private_key=private, auth_secret=auth, version="aes128gcm"
        )
        assert decrypted == plaintext


def test_the_largest_plaintext_fills_exactly_4096_bytes() -> None:
    _, p256dh, auth = _browser()
    keys = decode_subscription_keys(p256dh, _b64url(auth))
    assert len(encrypt(b"x" * MAX_PLAINTEXT, keys)) == MAX_BODY


@pytest.mark.parametrize(
    ("p256dh", "auth", "problem"),
    [
        (None, "MDEyMzQ1Njc4OWFiY2RlZg", "missing"),
        ("valid", None, "missing"),
        ("not base64!", "MDEyMzQ1Njc4OWFiY2RlZg", "base64url"),
        (_b64url(b"\x04" + b"\x01" * 64), "MDEyMzQ1Njc4OWFiY2RlZg", "point on P-256"),
        (_b64url(b"\x02" + b"\x01" * 32), "MDEyMzQ1Njc4OWFiY2RlZg", "uncompressed"),
        ("valid", _b64url(b"short"), "16 bytes"),
    ],
)
def test_bad_subscription_keys_are_refused(
    p256dh: str | None, auth: str | None, problem: str
) -> None:
    if p256dh == "valid":
        p256dh = _browser()[1]
    with pytest.raises(ValueError, match=problem):
        decode_subscription_keys(p256dh, auth)


def test_padded_base64url_keys_are_accepted() -> None:
    _, p256dh, auth = _browser()
    keys = decode_subscription_keys(p256dh + "=", _b64url(auth) + "==")
    assert keys.auth_secret == auth
