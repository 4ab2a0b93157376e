"""The composer's preview: the exact APNs, FCM and Web Push payloads a notification renders
to, from the providers' own builders, and their size against each provider's limit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from pushgate.domain.notifications import NotificationRequest
from pushgate.domain.payload import Content, DeliveryOptions
from pushgate.domain.platforms import Platform
from pushgate.providers import apns_payload, fcm_message, webpush_payload
from pushgate.providers.base import Push

TOKEN_PLACEHOLDER = "<device token>"  # noqa: S105 - shown in place of each device's token
TOPIC_PLACEHOLDER = "<the APNs credential's topic>"


@dataclass(frozen=True, slots=True)
class Preview:
    provider: str
    body: str  # pretty-printed for reading; the size is of the exact bytes sent
    headers: list[str]
    size: int
    limit: int
    note: str = ""

    @property
    def fits(self) -> bool:
        return self.size <= self.limit


@dataclass(frozen=True, slots=True)
class VariantPreview:
    locale: str  # "default" or the normalized locale
    previews: list[Preview]


def _pretty(raw: bytes) -> str:
    return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)


def _apns(content: Content, options: DeliveryOptions, topic: str | None) -> Preview:
    rendering = apns_payload.render(content, options, Platform.APNS, topic or TOPIC_PLACEHOLDER)
    headers = [h for h in rendering.headers if not h.endswith(":")]  # drop libcurl's blanks
    return Preview(
        "APNs",
        _pretty(rendering.body),
        headers,
        len(rendering.body),
        apns_payload.payload_limit(Platform.APNS),
    )


def _fcm(content: Content, options: DeliveryOptions, now: datetime) -> Preview:
    ttl_s = fcm_message.ttl_seconds(options, now) or 0
    rendered = fcm_message.render(Push(content, options), ttl_s)
    body = rendered.request_body(TOKEN_PLACEHOLDER)
    return Preview(
        "FCM",
        _pretty(body),
        [],
        rendered.size,
        fcm_message.MAX_MESSAGE_BYTES,
        "size: the message without its token, as FCM's limit counts it",
    )


def _webpush(content: Content, options: DeliveryOptions, now: datetime) -> Preview:
    plaintext = webpush_payload.render_plaintext(content)
    headers = [f"TTL: {webpush_payload.ttl_seconds(options, now)}"]
    headers.append(f"Urgency: {webpush_payload.URGENCY[options.priority]}")
    topic = webpush_payload.topic_for(options.collapse_id)
    if topic:
        headers.append(f"Topic: {topic}")
    return Preview(
        "Web Push",
        _pretty(plaintext),
        headers,
        len(plaintext),
        webpush_payload.MAX_PLAINTEXT,
        "plaintext before aes128gcm encryption (which adds 103 bytes)",
    )


def preview(
    request: NotificationRequest, now: datetime, apns_topic: str | None
) -> list[VariantPreview]:
    """Every variant (the default, then each locale) as each provider would receive it."""
    variants = [("default", request.message.default), *request.message.localized.items()]
    options = request.options
    return [
        VariantPreview(
            locale,
            [
                _apns(content, options, apns_topic),
                _fcm(content, options, now),
                _webpush(content, options, now),
            ],
        )
        for locale, content in variants
    ]
