"""What a Web Push request carries: the plaintext JSON, its encryption and the RFC 8030 headers.

Plaintext shape (what the service worker's `push` event gets from `event.data.json()`), keys
present only when set:

    {"title": str, "body": str, "badge": int, "sound": str, "data": {str: str},
     "category": str, "thread_id": str}

`body` is Content.text (the body, else the plain alert). APNs-only flags (content_available,
mutable_content) are left out: every Web Push message wakes the service worker anyway. Then
Content.webpush is deep-merged over it: objects merge key by key, any other value replaces,
and a null removes the key (so an app can drop a rendered field).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import http_ece
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.domain.payload import Content, DeliveryOptions, JsonObject, Priority
from pushgate.providers.vapid import b64url_decode

# RFC 8030 section 7.2: a push service MUST accept bodies up to 4096 bytes. RFC 8291 section 4:
# aes128gcm adds a 86-byte header (salt 16, rs 4, idlen 1, keyid 65), a 1-byte delimiter and a
# 16-byte tag to one record, so the plaintext may be 4096 - 103 = 3993 bytes.
MAX_BODY = 4096
MAX_PLAINTEXT = 3993
RECORD_SIZE = 4096
MAX_TTL_S = 28 * 24 * 3600  # pushgate's own cap (domain.payload.MAX_TTL)

# RFC 8030 section 5.4: a Topic is at most 32 characters of the URL-safe base64 alphabet.
# A collapse id that does not fit is not sent (rather than rejected), since APNs and FCM accept
# longer ids for the same notification: the message is then delivered without replacement.
_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")

# RFC 8030 section 5.3 Urgency; a notification that leaves priority unset gets `normal`, the
# RFC's default for an absent header, sent explicitly.
URGENCY: dict[Priority | None, str] = {
    Priority.HIGH: "high",
    Priority.NORMAL: "normal",
    None: "normal",
}


def _deep_merge(base: JsonObject, override: Mapping[str, Any]) -> JsonObject:
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def render_object(content: Content) -> JsonObject:
    """The plaintext as a JSON object (the module docstring gives its shape)."""
    rendered: JsonObject = {}
    fields: tuple[tuple[str, object], ...] = (
        ("title", content.title),
        ("body", content.text),
        ("badge", content.badge),
        ("sound", content.sound),
        ("data", dict(content.data) if content.data is not None else None),
        ("category", content.category),
        ("thread_id", content.thread_id),
    )
    for key, value in fields:
        if value is not None:
            rendered[key] = value
    if content.webpush:
        rendered = _deep_merge(rendered, content.webpush)
    return rendered


def render_plaintext(content: Content) -> bytes:
    """The UTF-8 JSON the subscription's browser decrypts; limit MAX_PLAINTEXT bytes."""
    return json.dumps(render_object(content), separators=(",", ":"), ensure_ascii=False).encode()


def ttl_seconds(options: DeliveryOptions, now: datetime) -> int:
    """TTL header (RFC 8030 5.2): whole seconds left until expiry; 0 for "now or never"."""
    if options.once:
        return 0
    left = int((options.expires_at - now).total_seconds())
    return max(0, min(left, MAX_TTL_S))


def topic_for(collapse_id: str | None) -> str | None:
    """The Topic header for a collapse id, or None when it does not fit RFC 8030's rule."""
    if collapse_id is not None and _TOPIC.fullmatch(collapse_id):
        return collapse_id
    return None


@dataclass(frozen=True, slots=True)
class SubscriptionKeys:
    """A subscription's public key (P-256 point) and 16-byte auth secret, decoded and checked."""

    public_key: ec.EllipticCurvePublicKey
    public_bytes: bytes
    auth_secret: bytes


def decode_subscription_keys(p256dh: str | None, auth_secret: str | None) -> SubscriptionKeys:
    """Decode and check the keys (RFC 8291 section 3); ValueError names what is wrong."""
    if not p256dh or not auth_secret:
        raise ValueError("subscription keys missing")
    try:
        point = b64url_decode(p256dh)
        auth = b64url_decode(auth_secret)
    except ValueError:
        raise ValueError("subscription keys are not base64url") from None
    if len(point) != 65 or point[0] != 4:
        raise ValueError("p256dh is not an uncompressed P-256 point")
    if len(auth) != 16:
        raise ValueError("auth is not 16 bytes")
    try:
        # cryptography refuses a point that is not on the curve: an invalid-curve attack or a
        # corrupted key can never decrypt, so it is caught here rather than by the browser.
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise ValueError("p256dh is not a point on P-256") from None
    return SubscriptionKeys(public, point, auth)


def encrypt(plaintext: bytes, keys: SubscriptionKeys) -> bytes:
    """aes128gcm body (RFC 8291 + RFC 8188): a fresh ephemeral key and salt for every message."""
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    body: bytes = http_ece.encrypt(
        plaintext,
        salt=os.urandom(16),
        private_key=ephemeral,
        dh=keys.public_bytes,
        auth_secret=keys.auth_secret,
        rs=RECORD_SIZE,
        version="aes128gcm",
    )
    return body
