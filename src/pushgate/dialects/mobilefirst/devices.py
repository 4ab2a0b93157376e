"""Device registrations and subscriptions (the seed's detailed endpoints).

Both need the scopes `devices.write` and `push.application.<applicationId>`, reads included,
as the seed says. Rules: services/app_devices.py.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from pushgate.dialects.mobilefirst import views
from pushgate.dialects.mobilefirst.errors import Keyed, Missing, render
from pushgate.dialects.mobilefirst.openapi import TAG, documented
from pushgate.dialects.mobilefirst.paging import listing, page_info
from pushgate.dialects.mobilefirst.requests import COMMON, Caller, authorized, body_of, the_app
from pushgate.dialects.mobilefirst.schemas import (
    DeviceIn,
    DeviceList,
    DeviceOut,
    SubscriptionIn,
    SubscriptionList,
    SubscriptionOut,
)
from pushgate.errors import InvalidInput, NotFound
from pushgate.http.deps import RuntimeDep
from pushgate.http.dialect import dialect_route
from pushgate.providers.base import ProviderOptions
from pushgate.services import app_devices
from pushgate.services.app_devices import DeviceWrite
from pushgate.store.uow import unit_of_work

router = APIRouter(route_class=dialect_route(render), tags=[TAG], dependencies=COMMON)

APP = "/imfpush/v1/apps/{applicationId}"
DevicesCaller = Annotated[Caller, Depends(authorized("devices.write"))]
DEVICE_EXAMPLE = {
    "deviceId": "12345-6789",
    "phoneNumber": "123456789",
    "platform": "A",
    "token": "xyz",
}
UPDATE_EXAMPLE = {
    "deviceId": "12345-6789",
    "phoneNumber": "123456789",
    "token": "xyz",
    "userId": "admin",
}
SUBSCRIPTION_EXAMPLE = {"deviceId": "12345-6789", "tagName": "testTag"}


def _endpoints(runtime: RuntimeDep) -> ProviderOptions:
    settings = runtime.settings
    return ProviderOptions(
        allow_private_addresses=settings.endpoint_allow_private,
        allowed_hosts=frozenset(h.lower() for h in settings.endpoint_allow_hosts),
    )


def _write(body: DeviceIn) -> DeviceWrite:
    return DeviceWrite(
        platform=body.platform,
        token=body.token,
        phone_number=body.phoneNumber,
        user=body.userId,
        user_agent=body.userAgent,
    )


def _device_missing(exc: NotFound) -> Missing:
    return Missing("device_not_found", exc.message, field="deviceId")


@router.post(
    APP + "/devices",
    **documented(
        "Push Device Registration (POST): register a device (a known deviceId is updated)",
        ok=201,
        answer=DeviceOut,
        errors=(400, 404, 405),
        body=DeviceIn,
        example=DEVICE_EXAMPLE,
    ),
)
async def register_device(
    applicationId: str, request: Request, runtime: RuntimeDep, caller: DevicesCaller
) -> JSONResponse:
    body = await body_of(request, DeviceIn)
    if not body.deviceId:
        raise InvalidInput("deviceId is required", field="deviceId")
    app = the_app(caller)
    async with unit_of_work(runtime.db) as uow:
        device, created = await app_devices.save_device(
            uow,
            app.id,
            body.deviceId,
            _write(body),
            runtime.clock(),
            create=True,
            endpoints=_endpoints(runtime),
        )
    return JSONResponse(views.device(device), status_code=201 if created else 200)


@router.get(
    APP + "/devices",
    **documented(
        "Push Device registrations (GET): devices matching filter, userId; paged",
        ok=200,
        answer=DeviceList,
        errors=(400, 404),
    ),
)
async def list_devices(
    applicationId: str,
    request: Request,
    runtime: RuntimeDep,
    caller: DevicesCaller,
    offset: str | None = None,
    size: str | None = None,
    expand: str | None = None,
    expend: str | None = None,
    filter: str | None = None,
    userId: str | None = None,
) -> JSONResponse:
    page = listing(request, "userId")
    async with unit_of_work(runtime.db, readonly=True) as uow:
        found = await app_devices.list_devices(
            uow, the_app(caller).id, page.where, offset=page.offset, size=page.size
        )
    devices = [views.device_of(push, phone, expand=page.expand) for push, phone in found.items]
    info = page_info(request, page, len(devices), found.total)
    return JSONResponse({"devices": devices, "pageInfo": info})


@router.get(
    APP + "/devices/{deviceId}",
    **documented(
        "Push Device Registration (GET): one device", ok=200, answer=DeviceOut, errors=(404,)
    ),
)
async def get_device(
    applicationId: str, deviceId: str, runtime: RuntimeDep, caller: DevicesCaller
) -> JSONResponse:
    async with unit_of_work(runtime.db, readonly=True) as uow:
        try:
            device = await app_devices.get_device(uow, the_app(caller).id, deviceId)
        except NotFound as exc:
            raise _device_missing(exc) from None
    return JSONResponse(views.device(device))


@router.put(
    APP + "/devices/{deviceId}",
    **documented(
        "Push Device Registration (PUT): change the userId, token, phone number or platform",
        ok=200,
        answer=DeviceOut,
        errors=(400, 404, 405),
        body=DeviceIn,
        example=UPDATE_EXAMPLE,
    ),
)
async def update_device(
    applicationId: str,
    deviceId: str,
    request: Request,
    runtime: RuntimeDep,
    caller: DevicesCaller,
) -> JSONResponse:
    body = await body_of(request, DeviceIn)
    if body.deviceId is not None and body.deviceId != deviceId:
        raise InvalidInput("deviceId of the body differs from the path's", field="deviceId")
    async with unit_of_work(runtime.db) as uow:
        try:
            device, _ = await app_devices.save_device(
                uow,
                the_app(caller).id,
                deviceId,
                _write(body),
                runtime.clock(),
                create=False,
                endpoints=_endpoints(runtime),
            )
        except NotFound as exc:
            if exc.field != "deviceId":
                raise
            raise _device_missing(exc) from None
    return JSONResponse(views.device(device))


@router.delete(
    APP + "/devices/{deviceId}",
    **documented(
        "Push Device Registration (DELETE): unregister a device",
        ok=204,
        answer=None,
        errors=(404,),
    ),
)
async def delete_device(
    applicationId: str, deviceId: str, runtime: RuntimeDep, caller: DevicesCaller
) -> Response:
    async with unit_of_work(runtime.db) as uow:
        try:
            await app_devices.delete_device(uow, the_app(caller).id, deviceId, runtime.clock())
        except NotFound as exc:
            raise _device_missing(exc) from None
    return Response(status_code=204)


@router.post(
    APP + "/subscriptions",
    **documented(
        "Push Device Subscription (POST): subscribe a device to a tag (created when new)",
        ok=201,
        answer=SubscriptionOut,
        errors=(400, 404, 405),
        body=SubscriptionIn,
        example=SUBSCRIPTION_EXAMPLE,
    ),
)
async def subscribe(
    applicationId: str, request: Request, runtime: RuntimeDep, caller: DevicesCaller
) -> JSONResponse:
    body = await body_of(request, SubscriptionIn)
    async with unit_of_work(runtime.db) as uow:
        try:
            found = await app_devices.subscribe(
                uow, the_app(caller).id, body.deviceId, body.tagName, runtime.clock()
            )
        except NotFound as exc:
            raise _device_missing(exc) from None
        except InvalidInput as exc:
            if exc.field != "userId":
                raise
            raise Keyed("user_too_long", exc.message, field="userId") from None
    view = {"deviceId": found.device.device_id, "tagName": found.tag}
    view["subscriptionId"] = found.subscription_id
    return JSONResponse(view, status_code=201)


@router.get(
    APP + "/subscriptions",
    **documented(
        "Push Device Subscriptions (GET): subscriptions matching filter, deviceId, tagName, "
        "userId; paged",
        ok=200,
        answer=SubscriptionList,
        errors=(400, 404),
    ),
)
async def list_subscriptions(
    applicationId: str,
    request: Request,
    runtime: RuntimeDep,
    caller: DevicesCaller,
    offset: str | None = None,
    size: str | None = None,
    expand: str | None = None,
    expend: str | None = None,
    filter: str | None = None,
    deviceId: str | None = None,
    tagName: str | None = None,
    userId: str | None = None,
) -> JSONResponse:
    page = listing(request, "deviceId", "tagName", "userId")
    async with unit_of_work(runtime.db, readonly=True) as uow:
        found = await app_devices.list_subscriptions(
            uow, the_app(caller).id, page.where, offset=page.offset, size=page.size
        )
    items = [views.subscription(s, expand=page.expand) for s in found.items]
    info = page_info(request, page, len(items), found.total)
    return JSONResponse({"devices": items, "pageInfo": info})


def _subscription_missing(exc: NotFound) -> Missing:
    return Missing("subscription_not_found", exc.message, field="subscriptionId")


@router.get(
    APP + "/subscriptions/{subscriptionId}",
    **documented(
        "Push Device Subscription (GET): one subscription, in the list's shape",
        ok=200,
        answer=SubscriptionList,
        errors=(404,),
    ),
)
async def get_subscription(
    applicationId: str,
    subscriptionId: str,
    request: Request,
    runtime: RuntimeDep,
    caller: DevicesCaller,
) -> JSONResponse:
    async with unit_of_work(runtime.db, readonly=True) as uow:
        try:
            found = await app_devices.get_subscription(uow, the_app(caller).id, subscriptionId)
        except NotFound as exc:
            raise _subscription_missing(exc) from None
    info = {"count": "1", "next": "", "previous": "", "totalCount": "1"}
    return JSONResponse({"devices": [views.subscription(found)], "pageInfo": info})


@router.delete(
    APP + "/subscriptions/{subscriptionId}",
    **documented(
        "Push Device Subscription (DELETE): unsubscribe (the device and the tag stay)",
        ok=204,
        answer=None,
        errors=(404,),
    ),
)
async def unsubscribe(
    applicationId: str, subscriptionId: str, runtime: RuntimeDep, caller: DevicesCaller
) -> Response:
    async with unit_of_work(runtime.db) as uow:
        try:
            await app_devices.unsubscribe(uow, the_app(caller).id, subscriptionId, runtime.clock())
        except NotFound as exc:
            raise _subscription_missing(exc) from None
    return Response(status_code=204)
