"""The FCM HTTP v1 message for a push: common fields to FCM JSON, rendered once per Push.

Fields per the v1 reference (providers.md 2.3, https://firebase.google.com/docs/reference/fcm/
rest/v1/projects.messages): `notification`, string-only `data`, an `android` block (priority,
ttl, collapse key, notification sound/tag/click action), an `apns` block (headers FCM forwards
to APNs and the `aps` dictionary) and a `webpush` block (TTL and Urgency headers); then the
content's `fcm` override is merged over the result (RFC 7396 merge patch: the override wins,
and null removes a field). The device token is spliced in per delivery, so the JSON of a
push is encoded once however many tokens it goes to.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pushgate.domain.payload import MAX_TTL, Content, DeliveryOptions, JsonObject, Priority
from pushgate.providers.base import Push

# FCM's limit on a message (providers.md 2.3). Counted here as the compact UTF-8 JSON of the
# message without its target: FCM does not say how it counts, and this reading is the larger.
MAX_MESSAGE_BYTES = 4096
MAX_TTL_S = int(MAX_TTL.total_seconds())  # FCM's maximum android.ttl: 28 days
# apns-priority values (providers.md 1.2): 10 now, 5 power-aware (forced for background).
_APNS_PRIORITY = {Priority.HIGH: "10", Priority.NORMAL: "5"}


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def ttl_seconds(options: DeliveryOptions, now: datetime) -> int | None:
    """Whole seconds left until expiry (rounded down, so FCM never keeps it longer); 0 for
    "now or never" (options.once); None when it has already expired."""
    if options.once:
        return 0
    left = math.floor((options.expires_at - now).total_seconds())
    if left <= 0:
        return None
    return min(left, MAX_TTL_S)


def ttl_text(seconds: int) -> str:
    """The protobuf Duration JSON FCM takes for android.ttl: "3600s" (^\\d+(\\.\\d{1,9})?s$)."""
    return f"{seconds}s"


def data_text(value: Any) -> str:
    """FCM data values must be strings (providers.md 2.3): others are sent as their JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def merge_patch(target: JsonObject, patch: JsonObject) -> JsonObject:
    """RFC 7396: objects merge recursively, null deletes, anything else replaces."""
    merged = dict(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict):
            base = merged.get(key)
            merged[key] = merge_patch(base if isinstance(base, dict) else {}, value)
        else:
            merged[key] = value
    return merged


def _notification(content: Content) -> JsonObject:
    shown = {"title": content.title, "body": content.text}
    return {k: v for k, v in shown.items() if v is not None}


def _android(content: Content, options: DeliveryOptions, ttl_s: int, shows: bool) -> JsonObject:
    android: JsonObject = {"ttl": ttl_text(ttl_s)}
    if options.priority is not None:
        android["priority"] = options.priority.value.upper()  # AndroidMessagePriority enum
    if options.collapse_id is not None:
        android["collapse_key"] = options.collapse_id
    # AndroidNotification: `tag` replaces a shown notification with the same tag (the drawer
    # counterpart of the collapse key); `click_action` is what APNs calls the category.
    extras = {"sound": content.sound, "tag": options.collapse_id, "click_action": content.category}
    notification = {k: v for k, v in extras.items() if v is not None}
    if shows and notification:
        android["notification"] = notification
    return android


def _apns(content: Content, options: DeliveryOptions, shows: bool) -> JsonObject:
    """FCM forwards `headers` to APNs and `payload` as the APNs payload (providers.md 1.2)."""
    aps: JsonObject = {}
    for key, value in (
        ("badge", content.badge),
        ("sound", content.sound),
        ("category", content.category),
        ("thread-id", content.thread_id),
    ):
        if value is not None:
            aps[key] = value
    if content.content_available:
        aps["content-available"] = 1
    if content.mutable_content:
        aps["mutable-content"] = 1
    # apns-expiration: UNIX seconds, 0 = try once and do not store.
    expiration = "0" if options.once else str(int(options.expires_at.timestamp()))
    headers: JsonObject = {"apns-expiration": expiration}
    if content.content_available and not shows:
        # A background push must say so and go at priority 5 (providers.md 1.2).
        headers.update({"apns-push-type": "background", "apns-priority": "5"})
    elif options.priority is not None:
        headers["apns-priority"] = _APNS_PRIORITY[options.priority]
    if options.collapse_id is not None:
        headers["apns-collapse-id"] = options.collapse_id
    apns: JsonObject = {"headers": headers}
    if aps:
        apns["payload"] = {"aps": aps}
    return apns


def _webpush(options: DeliveryOptions, ttl_s: int) -> JsonObject:
    # RFC 8030 headers for web app instances: TTL seconds, Urgency normal|high.
    headers = {"TTL": str(ttl_s)}
    if options.priority is not None:
        headers["Urgency"] = options.priority.value
    return {"headers": headers}


def fcm_message(push: Push, ttl_s: int) -> JsonObject:
    """The v1 `message` for `push`, without its target (the token is added per delivery)."""
    content, options = push.content, push.options
    notification = _notification(content)
    shows = bool(notification)
    message: JsonObject = {}
    if notification:
        message["notification"] = notification
    if content.data:
        message["data"] = {key: data_text(value) for key, value in content.data.items()}
    message["android"] = _android(content, options, ttl_s, shows)
    message["apns"] = _apns(content, options, shows)
    message["webpush"] = _webpush(options, ttl_s)
    if content.fcm:
        message = merge_patch(message, content.fcm)
    message.pop("token", None)  # the delivery's token is the target, whatever the override says
    return message


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """A push's encoded message, ready to address to one token after another."""

    message: bytes  # compact UTF-8 JSON of the message without its token

    @property
    def size(self) -> int:
        return len(self.message)

    def request_body(self, token: str) -> bytes:
        """`{"message": {"token": ..., <the rest>}}`: the token spliced into the encoded rest."""
        rest = self.message[1:]  # drops the opening brace; "}" alone when the message is empty
        separator = b"," if rest != b"}" else b""
        return b'{"message":{"token":' + _compact(token) + separator + rest + b"}"


def render(push: Push, ttl_s: int) -> RenderedMessage:
    return RenderedMessage(_compact(fcm_message(push, ttl_s)))
