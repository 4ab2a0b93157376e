"""Webhooks: pushgate's webhooks (services/webhooks.py) with MobileFirst's fields.

`eventTypes` is comma-separated (or a list): MobileFirst's device events (onDeviceRegister,
onDeviceUpdate, onDeviceUnregister, onSubscribe, onUnsubscribe), pushgate's own kinds
(message.accepted, message.delivered, message.failed, device.token_invalidated,
credential.suspect...) or ALL. The answer that creates a webhook (or rotates its secret with
`"rotateSecret": true`) carries the signing secret (docs/webhooks.md). Scopes:
`webhooks.write` (reads: `webhooks.read`) with `push.application.<applicationId>`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from pushgate.dialects.mobilefirst.errors import Missing, render
from pushgate.dialects.mobilefirst.openapi import TAG, documented
from pushgate.dialects.mobilefirst.requests import (
    COMMON,
    Caller,
    authorized,
    parse,
    read_json,
    the_app,
)
from pushgate.dialects.mobilefirst.schemas import WebhookIn, WebhookList, WebhookOut
from pushgate.domain.webhooks import ALL_KINDS, Webhook
from pushgate.errors import InvalidInput, MissingField, NotFound
from pushgate.http.deps import Runtime, RuntimeDep
from pushgate.http.dialect import dialect_route
from pushgate.services import webhooks as webhook_service
from pushgate.services.webhooks import UrlPolicy
from pushgate.store.uow import unit_of_work

router = APIRouter(route_class=dialect_route(render), tags=[TAG], dependencies=COMMON)

HOOKS = "/imfpush/v1/apps/{applicationId}/webhooks"
Writer = Annotated[Caller, Depends(authorized("webhooks.write"))]
Reader = Annotated[Caller, Depends(authorized("webhooks.read"))]
EXAMPLE = {
    "eventTypes": "onDeviceRegister,onDeviceUpdate,onDeviceUnregister,onSubscribe,onUnsubscribe",
    "name": "SampleWebhook",
    "url": "http://samplewebhook.com",
}
# MobileFirst's event types and pushgate's kinds.
KINDS = {
    "onDeviceRegister": "device.registered",
    "onDeviceUpdate": "device.updated",
    "onDeviceUnregister": "device.deleted",
    "onSubscribe": "device.subscribed",
    "onUnsubscribe": "device.unsubscribed",
    "ALL": ALL_KINDS,
}
_NAMES = {kind: name for name, kind in KINDS.items()}


def _kinds(value: str | list[str] | None) -> list[str] | None:
    if value is None:
        return None
    names = value.split(",") if isinstance(value, str) else value
    return [KINDS.get(n.strip(), n.strip()) for n in names if n.strip()]


def _view(webhook: Webhook, secret: str | None = None) -> dict[str, str]:
    view = {
        "name": webhook.name,
        "url": webhook.url,
        "eventTypes": ",".join(_NAMES.get(kind, kind) for kind in webhook.kinds),
    }
    if secret is not None:
        view["secret"] = secret
    return view


def _policy(runtime: Runtime) -> UrlPolicy:
    settings = runtime.settings
    return UrlPolicy(
        settings.endpoint_allow_private,
        frozenset(h.lower() for h in settings.endpoint_allow_hosts),
    )


def _as_event_types(exc: InvalidInput) -> InvalidInput:
    if exc.field == "events":
        exc.field = "eventTypes"
    return exc


@router.post(
    HOOKS,
    **documented(
        "Push Webhooks (POST): create a webhook; the answer carries its signing secret",
        ok=201,
        answer=WebhookOut,
        errors=(400, 404, 405, 409),
        body=WebhookIn,
        example=EXAMPLE,
    ),
)
async def create_webhook(
    applicationId: str, request: Request, runtime: RuntimeDep, caller: Writer
) -> JSONResponse:
    body = parse(WebhookIn, await read_json(request))
    for field in ("name", "url", "eventTypes"):
        if not getattr(body, field):
            raise MissingField(f"{field} is required", field=field)
    async with unit_of_work(runtime.db) as uow:
        try:
            webhook, secret = await webhook_service.create_webhook(
                uow, runtime.db, runtime.vault, _policy(runtime), the_app(caller).id,
                name=str(body.name), url=str(body.url), kinds=_kinds(body.eventTypes) or [],
                now=runtime.clock(),
            )  # fmt: skip
        except InvalidInput as exc:
            raise _as_event_types(exc) from None
    return JSONResponse(_view(webhook, secret), status_code=201)


async def _update(runtime: Runtime, caller: Caller, name: str, request: Request) -> JSONResponse:
    body = parse(WebhookIn, await read_json(request))
    if body.name is not None and body.name != name:
        raise InvalidInput("a webhook cannot be renamed; name must be the path's", field="name")
    rotate = body.rotateSecret is True
    async with unit_of_work(runtime.db) as uow:
        try:
            webhook, secret = await webhook_service.update_webhook(
                uow, runtime.db, runtime.vault, _policy(runtime), the_app(caller).id, name,
                url=body.url, kinds=_kinds(body.eventTypes), rotate_secret=rotate,
                now=runtime.clock(),
            )  # fmt: skip
        except NotFound as exc:
            raise Missing("webhook_not_found", exc.message, field="name") from None
        except InvalidInput as exc:
            raise _as_event_types(exc) from None
    return JSONResponse(_view(webhook, secret))


@router.put(
    HOOKS,
    **documented(
        "Push Webhooks (PUT): change the webhook the body names (url, eventTypes)",
        ok=200,
        answer=WebhookOut,
        errors=(400, 404, 405),
        body=WebhookIn,
        example=EXAMPLE,
    ),
)
async def update_named_webhook(
    applicationId: str, request: Request, runtime: RuntimeDep, caller: Writer
) -> JSONResponse:
    body = parse(WebhookIn, await read_json(request))
    if not body.name:
        raise MissingField("name is required", field="name")
    return await _update(runtime, caller, body.name, request)


@router.put(
    HOOKS + "/{webhookName}",
    **documented(
        "Push Webhooks (PUT): change a webhook (url, eventTypes)",
        ok=200,
        answer=WebhookOut,
        errors=(400, 404, 405),
        body=WebhookIn,
        example=EXAMPLE,
    ),
)
async def update_webhook(
    applicationId: str, webhookName: str, request: Request, runtime: RuntimeDep, caller: Writer
) -> JSONResponse:
    return await _update(runtime, caller, webhookName, request)


@router.get(
    HOOKS,
    **documented("Push Webhooks (GET): the app's webhooks", ok=200, answer=WebhookList,
                 errors=(404,)),
)  # fmt: skip
async def list_webhooks(applicationId: str, runtime: RuntimeDep, caller: Reader) -> JSONResponse:
    async with unit_of_work(runtime.db, readonly=True) as uow:
        found = await webhook_service.list_webhooks(uow, the_app(caller).id, after=None, limit=1000)
    return JSONResponse({"webhooks": [_view(w) for w in found]})


@router.get(
    HOOKS + "/{webhookName}",
    **documented("Push Webhook (GET): one webhook", ok=200, answer=WebhookOut, errors=(404,)),
)
async def get_webhook(
    applicationId: str, webhookName: str, runtime: RuntimeDep, caller: Reader
) -> JSONResponse:
    async with unit_of_work(runtime.db, readonly=True) as uow:
        try:
            found = await webhook_service.get_webhook(uow, the_app(caller).id, webhookName)
        except NotFound as exc:
            raise Missing("webhook_not_found", exc.message, field="webhookName") from None
    return JSONResponse(_view(found))


@router.delete(
    HOOKS + "/{webhookName}",
    **documented("Push Webhook (DELETE): delete a webhook", ok=204, answer=None, errors=(404,)),
)
async def delete_webhook(
    applicationId: str, webhookName: str, runtime: RuntimeDep, caller: Writer
) -> Response:
    async with unit_of_work(runtime.db) as uow:
        try:
            await webhook_service.delete_webhook(uow, runtime.db, the_app(caller).id, webhookName)
        except NotFound as exc:
            raise Missing("webhook_not_found", exc.message, field="webhookName") from None
    return Response(status_code=204)
