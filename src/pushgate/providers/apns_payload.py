"""APNs payload and request headers for one push (providers.md 1.2), rendered once per Push.

The JSON body is the `aps` dictionary from the common Content fields, the custom data keys
at the top level, then Content.apns deep-merged over it (the override wins). The push type,
and so the priority and the topic suffix, is read from the merged `aps`, so an override that
adds an alert also makes the push an alert.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from pushgate.domain.payload import Content, DeliveryOptions, JsonObject, Priority
from pushgate.domain.platforms import Platform

PAYLOAD_LIMIT = 4096  # bytes of the JSON body (providers.md 1.2)
VOIP_PAYLOAD_LIMIT = 5120
_UUID5_NAMESPACE = uuid.UUID("1f6a0b5c-3d47-5b8e-9c21-5e0f7a9d4b3e").bytes  # pushgate apns-id

# Priorities (apns-priority, providers.md 1.2): 10 = now, 5 = power-aware. Background pushes
# must use 5; alerts default to 10 when the notification says nothing.
_PRIORITY = {Priority.HIGH: "10", Priority.NORMAL: "5", None: "10"}
BACKGROUND_PRIORITY = "5"


def payload_limit(platform: Platform) -> int:
    return VOIP_PAYLOAD_LIMIT if platform is Platform.APNS_VOIP else PAYLOAD_LIMIT


def aps_of(content: Content) -> JsonObject:
    """The `aps` dictionary from the common fields (Apple's payload key reference)."""
    aps: JsonObject = {}
    if content.title is not None or content.body is not None:
        alert: JsonObject = {}
        if content.title is not None:
            alert["title"] = content.title
        if content.text is not None:
            alert["body"] = content.text
        aps["alert"] = alert
    elif content.alert is not None:
        aps["alert"] = content.alert
    if content.badge is not None:
        aps["badge"] = content.badge
    if content.sound is not None:
        aps["sound"] = content.sound
    if content.category is not None:
        aps["category"] = content.category
    if content.thread_id is not None:
        aps["thread-id"] = content.thread_id
    if content.content_available:
        aps["content-available"] = 1
    if content.mutable_content:
        aps["mutable-content"] = 1
    return aps


def deep_merge(base: JsonObject, override: JsonObject) -> JsonObject:
    """`override` over `base`: objects merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def payload_of(content: Content) -> JsonObject:
    payload: JsonObject = {"aps": aps_of(content)}
    for key, value in (content.data or {}).items():
        if key != "aps":  # custom keys live beside `aps`, never replace it
            payload[key] = value
    if content.apns:
        payload = deep_merge(payload, content.apns)
    return payload


def render_body(content: Content) -> bytes:
    """Compact UTF-8 JSON: the limit counts bytes, so nothing is escaped needlessly."""
    return json.dumps(payload_of(content), separators=(",", ":"), ensure_ascii=False).encode()


def push_type_of(payload: JsonObject, platform: Platform) -> str:
    if platform is Platform.APNS_VOIP:
        return "voip"
    aps: Any = payload.get("aps")
    if not isinstance(aps, dict):
        return "alert"
    silent = not any(key in aps for key in ("alert", "badge", "sound"))
    return "background" if silent and aps.get("content-available") == 1 else "alert"


@dataclass(frozen=True, slots=True)
class Rendering:
    """Everything a request for one (Push, platform) shares, computed once."""

    body: bytes
    too_large: bool
    headers: list[str]  # "name: value" lines without apns-id and authorization
    expires_at: float  # unix seconds after which the push must not be sent


def render(content: Content, options: DeliveryOptions, platform: Platform, topic: str) -> Rendering:
    payload = payload_of(content)
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    push_type = push_type_of(payload, platform)
    if push_type == "voip":
        topic += ".voip"  # PushKit VoIP topic suffix (providers.md 1.2)
    priority = BACKGROUND_PRIORITY if push_type == "background" else _PRIORITY[options.priority]
    expires_at = options.expires_at.timestamp()
    # apns-expiration: 0 = deliver once, never store (TTL 0); else the absolute expiry.
    expiration = "0" if options.once else str(int(expires_at))
    headers = [
        f"apns-topic: {topic}",
        f"apns-push-type: {push_type}",
        f"apns-priority: {priority}",
        f"apns-expiration: {expiration}",
        # Empty values make libcurl drop its defaults ("Content-Type: application/x-www-form-
        # urlencoded" for a POST, "Accept: */*"): APNs reads neither, and every header sent
        # costs libcurl ~1 us a request (measured against nginx).
        "content-type:",
        "accept:",
    ]
    if options.collapse_id is not None:
        headers.append(f"apns-collapse-id: {options.collapse_id}")
    return Rendering(body, len(body) > payload_limit(platform), headers, expires_at)


def apns_id(delivery_id: str) -> str:
    """A UUID (version 5, pushgate's namespace) of the delivery: the same on every attempt.

    Equal to str(uuid.uuid5(namespace, delivery_id)), without building UUID objects: this
    runs once per send.
    """
    # SHA-1 is what RFC 9562 fixes for UUIDv5: an identifier, not a security use.
    digest = hashlib.sha1(_UUID5_NAMESPACE + delivery_id.encode(), usedforsecurity=False)
    text = digest.hexdigest()
    # Version nibble 5; the variant's bits 10 in the 17th digit (_VARIANT).
    variant = _VARIANT[text[16]]
    return f"{text[:8]}-{text[8:12]}-5{text[13:16]}-{variant}{text[17:20]}-{text[20:32]}"


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
