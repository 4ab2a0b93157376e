"""The device runtime API: a device registers itself, manages its topics and reports what
became of a notification, signed in as an app user (Basic name:password, or a user token).

Paths follow SAP's runtime API (`v1/runtime/applications/{applicationId}/os/{os}/devices/
{deviceId}`, as SAP's SDKs call it); the topic and status paths are pushgate's, in its style
(docs/dialects.md). The user becomes the registration's `username`, and the user's global
user id its userUUID.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from pushgate.dialects.sap import devices_io, examples, paths
from pushgate.dialects.sap.auth import app_user
from pushgate.dialects.sap.backend import registration_out, status_body
from pushgate.dialects.sap.bodies import read
from pushgate.dialects.sap.errors import render_plain
from pushgate.dialects.sap.openapi import APP_USER, operation, path_parameters
from pushgate.dialects.sap.schemas import (
    DeviceRegistrationIn,
    NotificationStatusResponse,
    ReceiptIn,
    RegistrationOut,
    TopicsOut,
)
from pushgate.errors import MissingField
from pushgate.http.deps import RuntimeDep
from pushgate.http.dialect import dialect_route
from pushgate.services import devices
from pushgate.store.uow import unit_of_work

router = APIRouter(route_class=dialect_route(render_plain), tags=["SAP Mobile Services runtime"])


def _json(
    model: RegistrationOut | TopicsOut | NotificationStatusResponse, status: int = 200
) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")


async def register_device(request: Request, runtime: RuntimeDep) -> Response:
    """Register (201) or update (200) the device; PUT without pushToken changes the named
    fields of an existing registration only."""
    device, platform_name = await devices_io.device_of(request, runtime)
    body = await read(request, DeviceRegistrationIn)
    write = devices_io.write_of(body)
    now = runtime.clock()
    if body.pushToken is None:
        if request.method == "POST":
            raise MissingField("pushToken: is required to register", field="pushToken")
        async with unit_of_work(runtime.db) as uow:
            updated = await devices.update(uow, device, write, now)
        return _json(registration_out(updated))
    token, write = devices_io.token_of(body.pushToken, device.platform, write)
    registration, created = await devices.register(
        runtime.db,
        device,
        platform_name,
        token,
        write,
        now,
        endpoints=runtime.engine.registry.options,
    )
    return _json(registration_out(registration), 201 if created else 200)


async def get_device(request: Request, runtime: RuntimeDep) -> Response:
    """The device's registration."""
    device, _ = await devices_io.device_of(request, runtime)
    async with unit_of_work(runtime.db, readonly=True) as uow:
        found = await devices.get(uow, device)
    return _json(registration_out(found))


async def delete_device(request: Request, runtime: RuntimeDep) -> Response:
    """Unregister the device: it receives nothing more."""
    device, _ = await devices_io.device_of(request, runtime)
    async with unit_of_work(runtime.db) as uow:
        await devices.delete(uow, device, runtime.clock())
    return Response(status_code=204)


async def list_topics(request: Request, runtime: RuntimeDep) -> Response:
    device, _ = await devices_io.device_of(request, runtime)
    async with unit_of_work(runtime.db, readonly=True) as uow:
        found = await devices.get(uow, device)
    return _json(TopicsOut(topics=list(found.topics)))


async def subscribe(request: Request, runtime: RuntimeDep) -> Response:
    """Subscribe the device to the topic (any name: topics are not validated); idempotent."""
    device, _ = await devices_io.device_of(request, runtime)
    async with unit_of_work(runtime.db) as uow:
        found = await devices.subscribe(uow, device, request.path_params["topic"], runtime.clock())
    return _json(TopicsOut(topics=list(found.topics)))


async def unsubscribe(request: Request, runtime: RuntimeDep) -> Response:
    device, _ = await devices_io.device_of(request, runtime)
    async with unit_of_work(runtime.db) as uow:
        await devices.unsubscribe(uow, device, request.path_params["topic"])
    return Response(status_code=204)


async def report_status(request: Request, runtime: RuntimeDep) -> Response:
    """The device reports RECEIVED, CONSUMED or CONFIRMED for a notification it was sent
    (the notificationId of pushResults); the answer is the new status."""
    user = await app_user(request, runtime, request.path_params["applicationId"])
    body = await read(request, ReceiptIn)
    value = request.path_params.get("notificationId") or body.notificationId
    if not value:
        raise MissingField("notificationId: is required", field="notificationId")
    reported = devices_io.receipt_status(body.status)
    async with unit_of_work(runtime.db) as uow:
        record = await devices.report_receipt(uow, user, value, reported, runtime.clock())
    return _json(status_body(devices_io.state_of(record, user.app_name)))


_DEVICE = "/v1/runtime/applications/{applicationId}/os/{os}/devices/{deviceId}"
_DEVICE_PARAMS = path_parameters("applicationId", "os", "deviceId")
_ERRORS = (400, 401, 403, 404, 500)
_Ok = dict[int, tuple[type[BaseModel] | None, str]]
_REGISTERED: _Ok = {200: (RegistrationOut, "Updated"), 201: (RegistrationOut, "Registered")}
for _method in ("POST", "PUT"):
    paths.add(
        router,
        _DEVICE,
        register_device,
        [_method],
        **operation(
            "Register the device for push" if _method == "POST" else "Update the device",
            ok=_REGISTERED,
            errors=_ERRORS,
            parameters=_DEVICE_PARAMS,
            body=DeviceRegistrationIn,
            examples=examples.REGISTRATION,
            security=APP_USER,
        ),
    )
paths.add(
    router,
    _DEVICE,
    get_device,
    ["GET"],
    **operation(
        "The device's registration",
        ok={200: (RegistrationOut, "The registration")},
        errors=_ERRORS,
        parameters=_DEVICE_PARAMS,
        security=APP_USER,
    ),
)
paths.add(
    router,
    _DEVICE,
    delete_device,
    ["DELETE"],
    **operation(
        "Unregister the device",
        ok={204: (None, "Unregistered")},
        errors=_ERRORS,
        parameters=_DEVICE_PARAMS,
        security=APP_USER,
    ),
)
_TOPIC_PARAMS = path_parameters("applicationId", "os", "deviceId", "topic")
paths.add(
    router,
    _DEVICE + "/topics",
    list_topics,
    ["GET"],
    **operation(
        "The device's topics",
        ok={200: (TopicsOut, "The topics")},
        errors=_ERRORS,
        parameters=_DEVICE_PARAMS,
        security=APP_USER,
    ),
)
paths.add(
    router,
    _DEVICE + "/topics/{topic}",
    subscribe,
    ["PUT"],
    **operation(
        "Subscribe the device to a topic",
        ok={200: (TopicsOut, "Its topics now")},
        errors=_ERRORS,
        parameters=_TOPIC_PARAMS,
        security=APP_USER,
    ),
)
paths.add(
    router,
    _DEVICE + "/topics/{topic}",
    unsubscribe,
    ["DELETE"],
    **operation(
        "Unsubscribe the device from a topic",
        ok={204: (None, "Unsubscribed")},
        errors=_ERRORS,
        parameters=_TOPIC_PARAMS,
        security=APP_USER,
    ),
)
_STATUS_ERRORS = (400, 401, 403, 404, 409, 500)
_STATUS_OK: _Ok = {200: (NotificationStatusResponse, "The notification's status now")}
for _path, _parameters in (
    (
        "/v1/runtime/applications/{applicationId}/notifications/{notificationId}/status",
        path_parameters("applicationId", "notificationId"),
    ),
    (
        "/v1/runtime/applications/{applicationId}/notifications/status",
        path_parameters("applicationId"),
    ),
):
    for _method in ("PUT", "POST"):
        paths.add(
            router,
            _path,
            report_status,
            [_method],
            **operation(
                "Report a notification's status (RECEIVED, CONSUMED, CONFIRMED)",
                ok=_STATUS_OK,
                errors=_STATUS_ERRORS,
                parameters=_parameters,
                body=ReceiptIn,
                security=APP_USER,
            ),
        )
