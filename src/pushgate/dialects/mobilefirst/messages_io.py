"""A MobileFirst message body onto pushgate's: content, overrides, target, options.

`message.alert` is the text (SMS: the whole text); `message.url` travels in the data as
`url`. `settings.apns`, `settings.gcm` and `settings.wns` become the per-provider overrides
(docs/dialects.md has the table); settings no provider API has any more (GCM's
delayWhileIdle, sync, bridge, lights, style, redact) are accepted and ignored. A custom
`payload` reaches the app as MobileFirst's SDKs read it: the `payload` key, a serialized JSON
object (APNs: beside `aps`; FCM: in the data).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from xml.etree.ElementTree import Element, SubElement, tostring  # builds XML only; never parses  # nosec B405

from pydantic import Field

from pushgate.dialects.mobilefirst.schemas import Lenient
from pushgate.domain.payload import (
    Content,
    DeliveryOptions,
    JsonObject,
    Message,
    Priority,
    build_message,
    expiry,
)
from pushgate.errors import InvalidInput

_Short = Annotated[str, Field(max_length=255)]


class MessageText(Lenient):
    alert: Annotated[str, Field(max_length=4096)] | None = None
    url: Annotated[str, Field(max_length=2048)] | None = None


class ApnsSettings(Lenient):
    attachmentUrl: Annotated[str, Field(max_length=2048)] | None = None
    badge: int | None = Field(default=None, ge=0)
    iosActionKey: _Short | None = None
    launchImage: _Short | None = None
    locArgs: list[_Short] | None = None
    locKey: _Short | None = None
    payload: dict[str, Any] | str | None = None
    sound: _Short | None = None
    subtitle: _Short | None = None
    title: _Short | None = None
    titleLocArgs: list[_Short] | None = None
    titleLocKey: _Short | None = None
    type: Literal["DEFAULT", "SILENT", "MIXED"] | None = None
    category: _Short | int | None = None
    interactiveCategory: _Short | None = None


class GcmSettings(Lenient):
    bridge: bool | None = None
    category: _Short | None = None
    collapseKey: _Short | None = None
    delayWhileIdle: bool | None = None
    icon: _Short | None = None
    interactiveCategory: _Short | None = None
    lights: dict[str, Any] | None = None
    payload: dict[str, Any] | str | None = None
    priority: Literal["min", "low", "default", "normal", "high", "max"] | None = None
    redact: _Short | None = None
    sound: _Short | None = None
    style: dict[str, Any] | None = None
    sync: bool | None = None
    timeToLive: int | None = Field(default=None, ge=0, le=2_419_200)
    visibility: Literal["public", "private", "secret"] | None = None


class WnsSettings(Lenient):
    badge: dict[str, Any] | str | int | None = None
    cachePolicy: bool | None = None
    expirationTime: int | None = Field(default=None, ge=0)
    raw: dict[str, Any] | str | None = None
    tile: dict[str, Any] | None = None
    toast: dict[str, Any] | None = None


class MessageSettings(Lenient):
    apns: ApnsSettings | None = None
    gcm: GcmSettings | None = None
    wns: WnsSettings | None = None


class MessageTarget(Lenient):
    deviceIds: list[Annotated[str, Field(max_length=255)]] | None = None
    platforms: list[Annotated[str, Field(max_length=64)]] | None = None
    tagNames: list[Annotated[str, Field(max_length=255)]] | None = None
    userIds: list[Annotated[str, Field(max_length=255)]] | None = None


class MessageIn(Lenient):
    message: MessageText | None = None
    notificationType: Literal[1, 2, 3] | None = Field(
        default=None, description="1 push (default), 2 SMS, 3 both"
    )
    settings: MessageSettings | None = None
    target: MessageTarget | None = None


def _payload_text(value: dict[str, Any] | str, field: str) -> str:
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        # RecursionError: "[[[[..." deeper than the parser goes; it was a 500 (B3).
        except (ValueError, RecursionError):
            raise InvalidInput(
                "must be a JSON object or its serialized text", field=field
            ) from None
        if not isinstance(parsed, dict):
            raise InvalidInput("must be a JSON object or its serialized text", field=field)
        value = parsed
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _apns(block: ApnsSettings, alert: str | None) -> tuple[JsonObject, bool]:
    """(the APNs override, silent?)."""
    shown: JsonObject = {}
    for key, value in (
        ("title", block.title),
        ("subtitle", block.subtitle),
        ("loc-key", block.locKey),
        ("loc-args", block.locArgs),
        ("title-loc-key", block.titleLocKey),
        ("title-loc-args", block.titleLocArgs),
        ("action-loc-key", block.iosActionKey),
        ("launch-image", block.launchImage),
    ):
        if value is not None:
            shown[key] = value
    aps: JsonObject = {}
    silent = block.type == "SILENT"
    if shown and not silent:
        aps["alert"] = {**shown, **({"body": alert} if alert is not None else {})}
    if block.badge is not None and not silent:
        aps["badge"] = block.badge
    if block.sound is not None and not silent:
        aps["sound"] = block.sound
    category = block.interactiveCategory or block.category
    if category is not None:
        aps["category"] = str(category)
    if block.type in ("SILENT", "MIXED"):
        aps["content-available"] = 1
    custom: JsonObject = {}
    if block.attachmentUrl is not None:
        aps["mutable-content"] = 1
        custom["attachment-url"] = block.attachmentUrl
    if block.payload is not None:
        custom["payload"] = _payload_text(block.payload, "settings.apns.payload")
    override = ({"aps": aps} if aps else {}) | custom
    return override, silent


_FCM_PRIORITY = {"min": "NORMAL", "low": "NORMAL", "default": "NORMAL", "normal": "NORMAL",
                 "high": "HIGH", "max": "HIGH"}  # fmt: skip


def _gcm(block: GcmSettings | None, alert: str | None) -> JsonObject:
    """The FCM message patch: the alert in the data, as MobileFirst's Android SDK reads it."""
    data: JsonObject = {"alert": alert} if alert is not None else {}
    android: JsonObject = {}
    if block is not None:
        if block.payload is not None:
            data["payload"] = _payload_text(block.payload, "settings.gcm.payload")
        if block.collapseKey is not None:
            android["collapse_key"] = block.collapseKey
        if block.timeToLive is not None:
            android["ttl"] = f"{block.timeToLive}s"
        if block.priority is not None:
            android["priority"] = _FCM_PRIORITY[block.priority]
        shown = {
            "sound": block.sound,
            "icon": block.icon,
            "click_action": block.interactiveCategory or block.category,
            "visibility": block.visibility.upper() if block.visibility else None,
        }
        notification = {k: v for k, v in shown.items() if v is not None}
        if notification:
            android["notification"] = notification
    patch: JsonObject = {}
    if data:
        patch["data"] = data
    if android:
        patch["android"] = android
    return patch


def _texts(parent: Element, binding: dict[str, Any], field: str) -> None:
    texts = binding.get("text")
    if texts is None:
        texts = []  # absent or null: a binding without text
    elif not isinstance(texts, list):
        # A number here was a TypeError (a 500), a string became a text per character
        # (fuzzing, reliability.md B3): the document's `text` is a list.
        raise InvalidInput("each binding's text is a list of texts", field=field)
    for index, item in enumerate(texts):
        content = item.get("content") if isinstance(item, dict) else item
        SubElement(parent, "text", id=str(index + 1)).text = str(content)


def _visual_xml(root_name: str, document: dict[str, Any], field: str) -> str:
    """MobileFirst's JSON toast/tile ({visual: {binding: ...}, launch}) as WNS XML."""
    root = Element(root_name)
    launch = document.get("launch")
    if launch is not None:
        root.set("launch", launch if isinstance(launch, str) else json.dumps(launch))
    visual = SubElement(root, "visual")
    given = document.get("visual") or {}
    if not isinstance(given, dict):  # a list or a string here was an AttributeError (a 500)
        raise InvalidInput("visual must be an object with its binding", field=field)
    bindings = given.get("binding")
    for binding in bindings if isinstance(bindings, list) else [bindings]:
        if not isinstance(binding, dict) or not isinstance(binding.get("template"), str):
            raise InvalidInput("each binding needs its template", field=field)
        element = SubElement(visual, "binding", template=binding["template"])
        _texts(element, binding, field)
    return tostring(root, encoding="unicode")


def _wns(block: WnsSettings) -> JsonObject | None:
    if block.toast is not None:
        return {"type": "wns/toast", "xml": _visual_xml("toast", block.toast, "settings.wns.toast")}
    if block.tile is not None:
        return {"type": "wns/tile", "xml": _visual_xml("tile", block.tile, "settings.wns.tile")}
    if block.raw is not None:
        raw = block.raw if isinstance(block.raw, str) else json.dumps(block.raw)
        return {"type": "wns/raw", "raw": raw}
    if block.badge is not None:
        value = block.badge.get("value") if isinstance(block.badge, dict) else block.badge
        badge = Element("badge", value=str(value))
        return {"type": "wns/badge", "xml": tostring(badge, encoding="unicode")}
    return None


def message_of(body: MessageIn) -> Message:
    """The notification's content (one variant: MobileFirst messages are not localized)."""
    text = body.message or MessageText()
    settings = body.settings or MessageSettings()
    alert = text.alert
    apns, silent = _apns(settings.apns, alert) if settings.apns else ({}, False)
    data = {"url": text.url} if text.url is not None else {}
    if silent and alert is not None:
        data["alert"] = alert  # a silent push shows nothing: the app reads the text here
    content = Content(
        alert=None if silent else alert,
        data=data or None,
        content_available=True if silent else None,
        apns=apns or None,
        fcm=_gcm(settings.gcm, alert) or None,
        wns=_wns(settings.wns) if settings.wns else None,
    )
    if alert is None and not (settings.wns and (settings.wns.raw or settings.wns.badge)):
        raise InvalidInput("message.alert is required", field="message.alert")
    try:
        return build_message(content, {})
    except InvalidInput as exc:
        if exc.field and exc.field.startswith("notification."):
            exc.field = "message." + exc.field.removeprefix("notification.")
        raise


def options_of(body: MessageIn, now: datetime) -> DeliveryOptions:
    """28 days to live unless settings.gcm.timeToLive or settings.wns.expirationTime say
    less (the shortest applies to every provider: one notification, one expiry)."""
    ttls = []
    settings = body.settings
    if settings and settings.gcm and settings.gcm.timeToLive is not None:
        ttls.append(settings.gcm.timeToLive)
    if settings and settings.wns and settings.wns.expirationTime is not None:
        ttls.append(min(settings.wns.expirationTime, 2_419_200))
    ttl = timedelta(seconds=min(ttls)) if ttls else None
    priority = None
    if settings and settings.gcm and settings.gcm.priority in ("high", "max"):
        priority = Priority.HIGH
    return DeliveryOptions(
        expires_at=expiry(now, ttl=ttl, expires_at=None),
        priority=priority,
        once=ttl == timedelta(0),
    )
