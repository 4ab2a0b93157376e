"""Messages: send one (`POST .../messages`) or several (`POST .../messages/bulk`), read one,
delete one. Scopes: `messages.write` (`messages.read` suffices to read) with
`push.application.<applicationId>`. Sending answers 202: delivery goes on afterwards."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from pushgate.dialects.mobilefirst.errors import Keyed, Missing, render
from pushgate.dialects.mobilefirst.messages_io import MessageIn, message_of, options_of
from pushgate.dialects.mobilefirst.openapi import TAG, documented, inline_schema
from pushgate.dialects.mobilefirst.requests import (
    COMMON,
    Caller,
    authorized,
    parse,
    read_json,
    the_app,
)
from pushgate.dialects.mobilefirst.schemas import BulkAccepted, MessageAccepted, MessageOut
from pushgate.dialects.mobilefirst.views import iso
from pushgate.domain.notifications import Notification
from pushgate.domain.platforms import resolve_platform
from pushgate.errors import InvalidInput, NotFound
from pushgate.http.deps import Runtime, RuntimeDep
from pushgate.http.dialect import dialect_route
from pushgate.services import app_messages
from pushgate.services.app_messages import (
    AppDisabled,
    Channel,
    MessageTarget,
    UnknownDevices,
    UnknownTag,
)
from pushgate.store.uow import unit_of_work

router = APIRouter(route_class=dialect_route(render), tags=[TAG], dependencies=COMMON)

MESSAGES = "/imfpush/v1/apps/{applicationId}/messages"
Writer = Annotated[Caller, Depends(authorized("messages.write"))]
Reader = Annotated[Caller, Depends(authorized("messages.read"))]
MAX_BULK = 100
EXAMPLE = {
    "message": {"alert": "Test message"},
    "notificationType": 1,
    "settings": {"apns": {"badge": 1, "sound": "song.mp3"}, "gcm": {"timeToLive": 10}},
    "target": {"tagNames": ["Gold"], "platforms": ["A,G"]},
}


def _platform_letters(values: list[str] | None) -> frozenset[Any]:
    """["A,G", "W"] (the seed's examples pack several in one string) -> platforms."""
    found = set()
    for value in values or ():
        for name in value.split(","):
            if name.strip():
                found.add(resolve_platform(name.strip(), field="target.platforms").platform)
    return frozenset(found)


def _spec(body: MessageIn) -> MessageTarget:
    target = body.target
    return MessageTarget(
        device_ids=tuple(target.deviceIds or ()) if target else (),
        user_ids=tuple(target.userIds or ()) if target else (),
        tag_names=tuple(target.tagNames or ()) if target else (),
        platforms=_platform_letters(target.platforms if target else None),
        channel=Channel(body.notificationType or 1),
    )


async def _send(runtime: Runtime, app_id: int, body: MessageIn) -> Notification:
    now = runtime.clock()
    message, options = message_of(body), options_of(body, now)
    try:
        return await app_messages.send_message(
            runtime.engine, app_id, message, options, _spec(body), now
        )
    except UnknownDevices as exc:
        raise Missing("device_not_found", exc.message, field=exc.field) from None
    except UnknownTag as exc:
        raise Missing("tag_not_found", exc.message, field=exc.field) from None
    except AppDisabled as exc:
        raise Keyed("app_disabled", exc.message, field="applicationId") from None


def _accepted(notification: Notification, body: MessageIn) -> dict[str, Any]:
    alert = body.message.alert if body.message else None
    return {
        "messageId": notification.id,
        "message": {"alert": alert} if alert is not None else {},
        "notificationType": body.notificationType or 1,
    }


@router.post(
    MESSAGES,
    **documented(
        "Push Message (POST): send a message to devices, users, tags or platforms",
        ok=202,
        answer=MessageAccepted,
        errors=(400, 404, 405),
        body=MessageIn,
        example=EXAMPLE,
    ),
)
async def send_message(
    applicationId: str, request: Request, runtime: RuntimeDep, caller: Writer
) -> JSONResponse:
    body = parse(MessageIn, await read_json(request))
    notification = await _send(runtime, the_app(caller).id, body)
    return JSONResponse(_accepted(notification, body), status_code=202)


@router.post(
    MESSAGES + "/bulk",
    **documented(
        "Push Messages (POST): send several messages (a JSON array) at once",
        ok=202,
        answer=BulkAccepted,
        errors=(400, 404, 405),
        body={"type": "array", "items": inline_schema(MessageIn), "maxItems": MAX_BULK},
        example=[EXAMPLE],
    ),
)
async def send_messages(
    applicationId: str, request: Request, runtime: RuntimeDep, caller: Writer
) -> JSONResponse:
    document = await read_json(request)
    if isinstance(document, dict):  # the vendor's admin API wraps the array
        document = document.get("ArrayOfMessageBody", document.get("messages"))
    if not isinstance(document, list) or not document:
        raise InvalidInput("the body is a non-empty JSON array of messages", field="body")
    if len(document) > MAX_BULK:
        raise InvalidInput(f"at most {MAX_BULK} messages at once", field="body")
    bodies = [parse(MessageIn, item, prefix=f"[{i}].") for i, item in enumerate(document)]
    for body in bodies:  # every message is checked before any is sent
        message_of(body)
    app_id = the_app(caller).id
    sent = [_accepted(await _send(runtime, app_id, body), body) for body in bodies]
    return JSONResponse({"messages": sent}, status_code=202)


def _missing(exc: NotFound) -> Missing:
    return Missing("message_not_found", exc.message, field="messageId")


@router.get(
    MESSAGES + "/{messageId}",
    **documented("Push Message (GET): one message", ok=200, answer=MessageOut, errors=(404,)),
)
async def get_message(
    applicationId: str, messageId: str, runtime: RuntimeDep, caller: Reader
) -> JSONResponse:
    async with unit_of_work(runtime.db, readonly=True) as uow:
        try:
            found = await app_messages.get_message(uow, the_app(caller).id, messageId)
        except NotFound as exc:
            raise _missing(exc) from None
    content = found.request().message.default
    alert = content.alert if content.alert is not None else (content.data or {}).get("alert")
    view = {
        "alert": alert,
        "messageId": found.id,
        "notificationType": int(app_messages.channel_of(found)),
        "state": found.state.value,
        "counts": found.counts.by_status(),
        "createdTime": iso(found.created_at),
    }
    return JSONResponse({k: v for k, v in view.items() if v is not None})


@router.delete(
    MESSAGES + "/{messageId}",
    **documented(
        "Push Message (DELETE): forget a message (a pending one is not sent)",
        ok=204,
        answer=None,
        errors=(404,),
    ),
)
async def delete_message(
    applicationId: str, messageId: str, runtime: RuntimeDep, caller: Writer
) -> Response:
    async with unit_of_work(runtime.db) as uow:
        try:
            await app_messages.delete_message(uow, the_app(caller).id, messageId, runtime.clock())
        except NotFound as exc:
            raise _missing(exc) from None
    return Response(status_code=204)
