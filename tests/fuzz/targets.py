"""Fuzz targets: each dialect's body parser and the parse-and-validate step right after it.

Every target feeds fuzzer bytes to the pure function a route calls (the coroutines that read
a body run to completion synchronously: the request's `receive` never waits) and accepts
only success or the dialect's own refusal (harness.py). Targets with several routes behind
one parser pick the route with the first byte; JSON targets also take structured inputs
(a first byte of 128 or more: structured.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException

from pushgate.dialects.discord import errors as discord_errors
from pushgate.dialects.discord import routes as discord
from pushgate.dialects.discord.schemas import RegisterDeviceIn, SyncDevicesIn, UnregisterDeviceIn
from pushgate.dialects.mobilefirst import errors as mobilefirst_errors
from pushgate.dialects.mobilefirst import messages as mobilefirst_messages
from pushgate.dialects.mobilefirst import messages_io, token
from pushgate.dialects.mobilefirst import requests as mobilefirst
from pushgate.dialects.mobilefirst.settings import CONFS
from pushgate.dialects.pushapi import bodies as pushapi
from pushgate.dialects.pushapi import errors as pushapi_errors
from pushgate.dialects.pushapi.schemas import FIELD_KINDS, PushApiRequest
from pushgate.dialects.sap import bodies as sap
from pushgate.dialects.sap import devices_io, payloads
from pushgate.dialects.sap import errors as sap_errors
from pushgate.dialects.sap import schemas as sap_schemas
from pushgate.dialects.servicenow import errors as servicenow_errors
from pushgate.dialects.servicenow import routes as servicenow
from pushgate.dialects.servicenow.schemas import InstallationIn, RemoveInstallationIn
from pushgate.domain.platforms import Platform
from pushgate.domain.records import RegistrationWrite
from pushgate.errors import PushgateError
from tests.fuzz import seeds
from tests.fuzz.harness import (
    JSON,
    XML_WORDS,
    FuzzTarget,
    guard,
    json_target,
    pick,
    request_of,
    run_now,
    text_of,
    unrouted,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


# --- POST Push API: JSON or XML (defusedxml) into PushApiRequest and the message. ---


def _pushapi(data: bytes, content_type: str | None) -> None:
    request = request_of(data, content_type)

    def action() -> None:
        kind = pushapi.body_kind(request.headers.get("content-type"))
        fields = PushApiRequest.parse(pushapi.parse_body(run_now(pushapi.read_body(request)), kind))
        fields.selector()
        fields.to_message(NOW)

    guard(request, pushapi_errors.render, action)


def pushapi_xml(data: bytes) -> None:
    _pushapi(data, None)  # no Content-Type: XML, as the vendor's clients send it


def pushapi_json(data: bytes) -> None:
    _pushapi(data, JSON)


# --- SAP: sap/bodies.py's reader, each push body onto messages (sap/payloads.py). ---


def _sap_bulk(body: sap_schemas.BulkPushIn) -> None:
    """push.py bulk_push's checks and translations, without the send."""
    for index, entry in enumerate(body.userNotifications):
        field = f"userNotifications[{index}]"
        payloads.localized_message(
            entry.notification, f"{field}.notification", under=body.notification
        )
    if body.notification is not None:
        payloads.localized_message(body.notification)
        payloads.options_of(body.notification.notification.priority, NOW)


def _sap_flat(body: sap_schemas.NotificationIn) -> None:
    payloads.flat_message(body)
    payloads.options_of(body.priority, NOW)


def _sap_localized(body: sap_schemas.UsersPushIn | sap_schemas.TopicPushIn) -> None:
    payloads.localized_message(body.notification)
    payloads.options_of(body.notification.notification.priority, NOW)


# (model, translation) per push route: device/app/group, users, topic, bulk, capability.
SAP_FLOWS: tuple[tuple[type[BaseModel], Callable[[Any], None]], ...] = (
    (sap_schemas.NotificationIn, _sap_flat),
    (sap_schemas.UsersPushIn, _sap_localized),
    (sap_schemas.TopicPushIn, _sap_localized),
    (sap_schemas.BulkPushIn, _sap_bulk),
    (sap_schemas.CapabilityPushIn, lambda body: _sap_flat(body.notification)),
)


def sap_push(data: bytes) -> None:
    route, raw = pick(data, len(SAP_FLOWS))
    model, translate = SAP_FLOWS[route]
    request = request_of(raw, JSON)
    guard(request, sap_errors.render_push, lambda: translate(run_now(sap.read(request, model))))


def sap_device(data: bytes) -> None:
    """The runtime API's registration payload (write_of, token_of) and receipt body."""
    route, raw = pick(data, 2)
    request = request_of(raw, JSON)

    def action() -> None:
        if route == 1:
            devices_io.receipt_status(run_now(sap.read(request, sap_schemas.ReceiptIn)).status)
            return
        body = run_now(sap.read(request, sap_schemas.DeviceRegistrationIn))
        write = devices_io.write_of(body)
        if body.pushToken is not None:
            devices_io.token_of(body.pushToken, Platform.WEBPUSH, write)

    guard(request, sap_errors.render_plain, action)


def sap_embedded(data: bytes) -> None:
    """Serialized JSON inside a body: `data`, `apns.customValues`, a Web Push pushToken."""
    text = text_of(data)
    request = request_of(b"", JSON)

    def action() -> None:
        payloads.content_of(sap_schemas.NotificationIn(data=text), "notification")
        apns = sap_schemas.ApnsIn(customValues=text)
        payloads.content_of(sap_schemas.NotificationIn(apns=apns), "notification")
        empty = RegistrationWrite(values={}, capabilities=None)
        devices_io.token_of(text[:4096], Platform.WEBPUSH, empty)

    guard(request, sap_errors.render_push, action)


# --- MobileFirst: requests.py's reader, messages (single, bulk), settings, the token form. ---


def _mobilefirst_bulk(document: object) -> None:
    """messages.py send_messages's checks, without the send."""
    if isinstance(document, dict):
        document = document.get("ArrayOfMessageBody", document.get("messages"))
    if not isinstance(document, list) or not document:
        return
    if len(document) > mobilefirst_messages.MAX_BULK:
        return
    for index, item in enumerate(document):
        _mobilefirst_one(mobilefirst.parse(messages_io.MessageIn, item, prefix=f"[{index}]."))


def _mobilefirst_one(body: messages_io.MessageIn) -> None:
    mobilefirst_messages._spec(body)
    messages_io.message_of(body)
    messages_io.options_of(body, NOW)


def mobilefirst_message(data: bytes) -> None:
    route, raw = pick(data, 2)
    request = request_of(raw, JSON)

    def action() -> None:
        document = run_now(mobilefirst.read_json(request))
        if route == 1:
            _mobilefirst_bulk(document)
        else:
            _mobilefirst_one(mobilefirst.parse(messages_io.MessageIn, document))

    guard(request, mobilefirst_errors.render, action)


def mobilefirst_embedded(data: bytes) -> None:
    """`settings.apns.payload` / `settings.gcm.payload`: serialized JSON inside a body."""
    text = text_of(data)
    request = request_of(b"", JSON)
    settings = messages_io.MessageSettings(
        apns=messages_io.ApnsSettings(payload=text), gcm=messages_io.GcmSettings(payload=text)
    )
    body = messages_io.MessageIn(message=messages_io.MessageText(alert="a"), settings=settings)
    guard(request, mobilefirst_errors.render, lambda: messages_io.message_of(body))


def mobilefirst_settings(data: bytes) -> None:
    """apnsConf (base64 .p12 or PEM), gcmConf, wnsConf, smsConf onto credential fields."""
    route, raw = pick(data, len(CONFS))
    conf = CONFS[route]
    request = request_of(raw, JSON)
    action = lambda: conf.fields(run_now(mobilefirst.body_of(request, conf.model)))  # noqa: E731
    guard(request, mobilefirst_errors.render, action)


def mobilefirst_token_form(data: bytes) -> None:
    request = request_of(data, "application/x-www-form-urlencoded")
    guard(request, token._render, lambda: run_now(token._form(request)))


# --- ServiceNow: routes.py's reader into its two bodies. ---


def servicenow_body(data: bytes) -> None:
    route, raw = pick(data, 2)
    model = (InstallationIn, RemoveInstallationIn)[route]
    request = request_of(raw, JSON)
    guard(request, servicenow_errors.render, lambda: run_now(servicenow._read(request, model)))


# --- Discord: FastAPI reads the body (its parser), the dialect fills and renders the form. ---

DISCORD_FORMS: tuple[type[RegisterDeviceIn] | type[UnregisterDeviceIn] | type[SyncDevicesIn], ...]
DISCORD_FORMS = (RegisterDeviceIn, UnregisterDeviceIn, SyncDevicesIn)


@cache
def _adapter(model: type[BaseModel]) -> TypeAdapter[Any]:
    return TypeAdapter(cast(Any, model | None))  # a type built at run time


def _fastapi_body(raw: bytes, model: type[BaseModel]) -> Any:
    """What fastapi.routing's request handler does with a JSON body of `Body()` type
    `model | None`: decode errors become json_invalid, other read errors a 400."""
    try:
        document = json.loads(raw) if raw else None
    except json.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}
        raise RequestValidationError([{**error, "input": {}, "ctx": {"error": exc.msg}}]) from None
    except Exception:  # as FastAPI does: any other failure to read is a 400
        raise HTTPException(400, "There was an error parsing the body") from None
    try:
        return _adapter(model).validate_python(document, from_attributes=True)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None


def discord_body(data: bytes) -> None:
    route, raw = pick(data, len(DISCORD_FORMS))
    model = DISCORD_FORMS[route]
    request = request_of(raw, JSON)
    accepted = (PushgateError, RequestValidationError, HTTPException)
    action = lambda: discord._form(model, _fastapi_body(raw, model))  # noqa: E731
    guard(request, discord_errors.render_error, action, accepted)


_EMBEDDED_NAMES = ("endpoint", "keys", "p256dh", "auth", "aps", "payload", "data")

TARGETS: dict[str, FuzzTarget] = {
    target.name: target
    for target in (
        FuzzTarget(
            "pushapi_xml",
            pushapi_xml,
            lambda: seeds.PUSHAPI_XML,
            (*XML_WORDS, *(name.encode() for name in FIELD_KINDS)),
        ),
        json_target(
            "pushapi_json",
            pushapi_json,
            unrouted(seeds.PUSHAPI_JSON),
            routed=False,
            extra=(*FIELD_KINDS, *(name.lower() for name in FIELD_KINDS)),
        ),
        json_target(
            "sap_push", sap_push, lambda: seeds.SAP_PUSH, *(model for model, _ in SAP_FLOWS)
        ),
        json_target(
            "sap_device",
            sap_device,
            lambda: seeds.SAP_DEVICE,
            sap_schemas.DeviceRegistrationIn,
            sap_schemas.ReceiptIn,
        ),
        json_target(
            "sap_embedded",
            sap_embedded,
            unrouted(seeds.EMBEDDED_JSON),
            routed=False,
            extra=_EMBEDDED_NAMES,
        ),
        json_target(
            "mobilefirst_message",
            mobilefirst_message,
            lambda: seeds.MOBILEFIRST_MESSAGE,
            messages_io.MessageIn,
            extra=("ArrayOfMessageBody", "messages", "visual", "binding", "template", "text"),
        ),
        json_target(
            "mobilefirst_embedded",
            mobilefirst_embedded,
            unrouted(seeds.EMBEDDED_JSON),
            routed=False,
            extra=_EMBEDDED_NAMES,
        ),
        json_target(
            "mobilefirst_settings",
            mobilefirst_settings,
            seeds.mobilefirst_settings,
            *(conf.model for conf in CONFS),
        ),
        FuzzTarget(
            "mobilefirst_token_form",
            mobilefirst_token_form,
            lambda: seeds.TOKEN_FORM,
            (b"&", b"=", b"%", b"%ff", b"+", b"grant_type", b"client_credentials", b"scope"),
        ),
        json_target(
            "servicenow_body",
            servicenow_body,
            lambda: seeds.SERVICENOW,
            InstallationIn,
            RemoveInstallationIn,
        ),
        json_target("discord_body", discord_body, lambda: seeds.DISCORD, *DISCORD_FORMS),
    )
}
