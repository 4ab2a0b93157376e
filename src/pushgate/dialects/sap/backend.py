"""The back-end reads: a notification's status, and the device registrations.

`notificationId` in the status path is the per-delivery id of pushResults (one notification
to one registration): the document's status has one provider reference and one
notificationType, which only a delivery has. Registrations are the active ones (a
registration whose token the provider rejected is gone, as at SAP), in SAP's field names.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from pushgate.dialects.sap import paths
from pushgate.dialects.sap.auth import app_of, service_key
from pushgate.dialects.sap.errors import render_plain, render_status
from pushgate.dialects.sap.names import os_of
from pushgate.dialects.sap.openapi import operation, path_parameters, status_operation
from pushgate.dialects.sap.schemas import (
    NotificationStatusResponse,
    RegistrationList,
    RegistrationOut,
    SapStatus,
    StatusDetails,
)
from pushgate.domain.records import Registration, RegistrationFilter
from pushgate.domain.roles import Role
from pushgate.domain.statuses import DeliveryStatus
from pushgate.errors import InvalidInput, NotFound
from pushgate.http.deps import MAX_PAGE, RuntimeDep, decode_cursor, next_cursor
from pushgate.http.dialect import dialect_route
from pushgate.services import registrations as registration_service
from pushgate.services.delivery_status import DeliveryState, delivery_state
from pushgate.store.uow import unit_of_work

_TAGS = ["SAP Mobile Services push"]
status_router = APIRouter(route_class=dialect_route(render_status), tags=list(_TAGS))
registrations_router = APIRouter(route_class=dialect_route(render_plain), tags=list(_TAGS))

# A key that sends, or one that reads registrations, may read a delivery's status.
_READERS = (Role.PUSH_SINGLE, Role.PUSH_MULTIPLE, Role.PUSH_ALL, Role.PUSHREGISTRATIONS_READ)
_DEFAULT_TOP = 100


def status_body(state: DeliveryState) -> NotificationStatusResponse:
    """The document's status answer; statusInfo says why for an ERROR or a queued retry."""
    return NotificationStatusResponse(
        status=SapStatus(code=int(state.code), notification=None, parameters=None),
        statusDetails=StatusDetails(
            notificationId=state.delivery_id,
            providerReference=state.provider_ref,
            applicationId=state.app_name,
            notificationType=os_of(state.platform),
            status=state.status.name,
            statusInfo=state.reason if state.status is not DeliveryStatus.SENT else None,
            caller="push",
        ),
    )


async def notification_status(request: Request, runtime: RuntimeDep) -> Response:
    """Notification status: QUEUED, SENT, ERROR, then what the app reported (RECEIVED,
    CONSUMED, CONFIRMED)."""
    principal = await service_key(request, runtime)
    async with unit_of_work(runtime.db, readonly=True) as uow:
        state = await delivery_state(
            uow, principal, request.path_params["notificationId"], _READERS
        )
    return Response(status_body(state).model_dump_json(), media_type="application/json")


def registration_out(r: Registration) -> RegistrationOut:
    return RegistrationOut(
        id=r.id,
        device=r.device_id,
        deviceModel=r.device_model,
        formFactor=r.form_factor,
        pushGroup=r.push_group,
        pushProvider=os_of(r.platform.value),
        userLocale=r.locale,
        username=r.user_name,
    )


async def _reader_app(request: Request, runtime: RuntimeDep) -> int:
    principal = await service_key(request, runtime)
    return await app_of(runtime, principal, None, Role.PUSHREGISTRATIONS_READ)


async def get_registration(request: Request, runtime: RuntimeDep) -> Response:
    """One registration, by the id pushResults name as `target`."""
    app_id = await _reader_app(request, runtime)
    async with unit_of_work(runtime.db, readonly=True) as uow:
        found = await uow.registrations.get(app_id, request.path_params["registrationId"])
    if found is None or not found.active:
        raise NotFound("no registration with this id", field="registrationId")
    return Response(registration_out(found).model_dump_json(), media_type="application/json")


def _top(value: str | None) -> int:
    if value is None:
        return _DEFAULT_TOP
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise InvalidInput(f"must be a whole number from 1 to {MAX_PAGE}", field="$top")
    return int(value)


async def list_registrations(request: Request, runtime: RuntimeDep) -> Response:
    """Registrations by username, by push group, both, or all; a page at a time ($top,
    and $skiptoken from @odata.nextLink)."""
    app_id = await _reader_app(request, runtime)
    query = request.query_params
    limit = _top(query.get("$top"))
    token = query.get("$skiptoken")
    if token is not None and len(token) > 512:
        raise InvalidInput("not a $skiptoken this API returned", field="$skiptoken")
    after = decode_cursor(token) if token else None
    where = RegistrationFilter(
        user_name=query.get("username"), push_group=query.get("pushGroup"), active=True
    )
    async with unit_of_work(runtime.db, readonly=True) as uow:
        found = await registration_service.list_registrations(
            uow, app_id, where, after=after, limit=limit
        )
    body = RegistrationList(value=[registration_out(r) for r in found])
    cursor = next_cursor([r.id for r in found], limit)
    if cursor is not None:
        body.next_link = str(request.url.include_query_params(**{"$skiptoken": cursor}))
    text = body.model_dump_json(by_alias=True, exclude_none=True)
    return Response(text, media_type="application/json")


paths.add(
    status_router,
    "/v2/backend/notifications/{notificationId}/status",
    notification_status,
    ["GET"],
    **status_operation("Notification status", path_parameters("notificationId")),
)
paths.add(
    registrations_router,
    "/v2/backend/registrations/{registrationId}",
    get_registration,
    ["GET"],
    **operation(
        "Registration by id",
        ok={200: (RegistrationOut, "The registration")},
        errors=(401, 403, 404, 500),
        parameters=path_parameters("registrationId"),
    ),
)
_QUERY = [
    {"name": "username", "in": "query", "required": False, "schema": {"type": "string"}},
    {"name": "pushGroup", "in": "query", "required": False, "schema": {"type": "string"}},
    {
        "name": "$top",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": _DEFAULT_TOP},
    },
    {
        "name": "$skiptoken",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "maxLength": 512},
    },
]
paths.add(
    registrations_router,
    "/v2/backend/registrations",
    list_registrations,
    ["GET"],
    **operation(
        "Registrations by username or push group (or all)",
        ok={200: (RegistrationList, "The registrations, under value")},
        errors=(400, 401, 403, 500),
        parameters=_QUERY,
    ),
)
