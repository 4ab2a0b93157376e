"""SAP push payloads onto the domain: Content per variant, Message, delivery options.

`data` is a serialized JSON map: its string values are the notification's data; other
values reach iOS as custom keys and are ignored on Android, as the document says of Android.
On Android the alert is also in the data (`alert`), as SAP's SDKs read it. `apns` and `gcm`
become the per-provider overrides merged over what the common fields render to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pushgate.dialects.sap.schemas import ApnsIn, GcmIn, LocalizedIn, NotificationIn
from pushgate.domain.payload import (
    MAX_DATA,
    Content,
    DeliveryOptions,
    JsonObject,
    Message,
    build_message,
    expiry,
    parse_priority,
)
from pushgate.domain.text import shown_name
from pushgate.errors import InvalidInput

_NESTED = ("apns", "gcm")


def _object(value: object, field: str) -> dict[str, Any]:
    """A JSON object given as such or serialized in a string."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise InvalidInput("must be a serialized JSON object (a string)", field=field)
    if len(value) > MAX_DATA:
        raise InvalidInput(f"serialized, must be at most {MAX_DATA} characters", field=field)
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise InvalidInput(f"is not a serialized JSON object: {exc}", field=field) from None
    except RecursionError:  # "[[[[..." within the 2000 characters: was a 500 (reliability B3)
        raise InvalidInput("is a serialized JSON value nested too deep", field=field) from None
    if not isinstance(parsed, dict):
        raise InvalidInput("must be a serialized JSON object (a key/value map)", field=field)
    return parsed


def _data(value: object, field: str) -> tuple[dict[str, str] | None, JsonObject]:
    """(string values: the data, other values: custom keys for iOS only)."""
    if value is None:
        return None, {}
    parsed = _object(value, field)
    strings = {k: v for k, v in parsed.items() if isinstance(v, str)}
    others = {k: v for k, v in parsed.items() if not isinstance(v, str)}
    return strings, others


def _apns(block: ApnsIn | None, extras: JsonObject, field: str) -> JsonObject | None:
    custom = dict(extras)
    aps: JsonObject = {}
    if block is not None:
        if block.customValues is not None:
            custom.update(_object(block.customValues, f"{field}.customValues"))
        alert = {"title": block.title, "subtitle": block.subtitle, "body": block.body}
        shown = {k: v for k, v in alert.items() if v is not None}
        if shown:
            aps["alert"] = shown if block.alert is None else {**shown, "body": block.alert}
        elif block.alert is not None:
            aps["alert"] = block.alert
        for key, value in (
            ("badge", block.badge),
            ("sound", block.sound),
            ("category", block.category),
            ("thread-id", block.threadId),
        ):
            if value is not None:
                aps[key] = value
        if block.contentAvailable is not None:
            aps["content-available"] = 1 if block.contentAvailable else 0
        if block.mutableContent is not None:
            aps["mutable-content"] = 1 if block.mutableContent else 0
    if "aps" in custom:
        raise InvalidInput("must not set aps (use the apns fields)", field=f"{field}.customValues")
    if not aps and not custom:
        return None
    return {"aps": aps, **custom} if aps else custom


def _gcm(block: GcmIn | None, alert: str | None, data: Mapping[str, str] | None) -> JsonObject:
    """The FCM message patch: the alert in the data (SAP's Android SDK reads it there), then
    the `gcm` block's Android settings."""
    patch: JsonObject = {}
    if alert is not None and "alert" not in (data or {}):
        patch["data"] = {"alert": alert}
    if block is None:
        return patch
    android: JsonObject = {}
    if block.timeToLive is not None:
        android["ttl"] = f"{block.timeToLive}s"
    if block.collapseKey is not None:
        android["collapse_key"] = block.collapseKey
    if block.restrictedPackageName is not None:
        android["restricted_package_name"] = block.restrictedPackageName
    if block.priority is not None:
        android["priority"] = parse_priority(block.priority, field="gcm.priority").value.upper()
    shown = {
        "title": block.title,
        "body": block.body,
        "icon": block.icon,
        "color": block.color,
        "tag": block.tag,
        "click_action": block.clickAction,
        "sound": block.sound,
    }
    notification = {k: v for k, v in shown.items() if v is not None}
    if notification:
        android["notification"] = notification
    # delayWhileIdle has no counterpart in FCM's HTTP v1 API: accepted, ignored.
    if android:
        patch["android"] = android
    return patch


def content_of(payload: NotificationIn, field: str) -> Content:
    """One variant of the notification."""
    data, extras = _data(payload.data, f"{field}.data")
    fcm = _gcm(payload.gcm, payload.alert, data)
    return Content(
        alert=payload.alert,
        badge=payload.badge,
        sound=payload.sound,
        data=data,
        apns=_apns(payload.apns, extras, f"{field}.apns"),
        fcm=fcm or None,
    )


def merged(*layers: NotificationIn | None) -> NotificationIn:
    """Later layers override earlier ones, field by field (and inside apns and gcm)."""
    out: dict[str, Any] = {}
    for layer in layers:
        if layer is None:
            continue
        for key, value in layer.model_dump(exclude_unset=True).items():
            if key in _NESTED and isinstance(out.get(key), dict) and isinstance(value, dict):
                out[key] = {**out[key], **value}
            else:
                out[key] = value
    return NotificationIn.model_validate(out)


def flat_message(payload: NotificationIn) -> Message:
    """A v1 payload: one content, no variants; fields are named as in the body."""
    try:
        return build_message(content_of(payload, "notification"), {})
    except InvalidInput as exc:
        if exc.field and exc.field.startswith("notification."):
            exc.field = exc.field.removeprefix("notification.")
        raise


def localized_message(
    body: LocalizedIn,
    field: str = "notification",
    *,
    under: LocalizedIn | None = None,
) -> Message:
    """A v2 notification object: its fallback and its variants by locale, each merged over
    `under` (bulk push: the global notification the user's one overrides)."""
    base = [under.notification] if under else []
    default = merged(*base, body.notification)
    locales = dict.fromkeys([*(under.notifications if under else {}), *body.notifications])
    variants = {
        locale: content_of(
            merged(
                *base,
                under.notifications.get(locale) if under else None,
                body.notification,
                body.notifications.get(locale),
            ),
            f"{field}.notifications.{shown_name(locale)}",  # the caller's key: not echoed
        )
        for locale in locales
    }
    return build_message(
        content_of(default, f"{field}.notification"),
        variants,
        field=f"{field}.notifications",
        default_field=f"{field}.notification",
    )


def options_of(priority: str | None, now: datetime) -> DeliveryOptions:
    """Delivery options: the default time to live (28 days) and the payload's priority."""
    return DeliveryOptions(
        expires_at=expiry(now, ttl=None, expires_at=None),
        priority=parse_priority(priority) if priority is not None else None,
    )
