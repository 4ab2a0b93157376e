"""Notifications: send (inline for small targets), status, deliveries, receipts, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from pushgate.api.v1.common import ROUTER_DEFAULTS, errors
from pushgate.api.v1.notification_schemas import (
    DeliveryList,
    DeliveryOut,
    NotificationList,
    NotificationOut,
    ReceiptIn,
    SendIn,
)
from pushgate.domain.roles import Role
from pushgate.domain.statuses import RECEIPT_STATUSES, DeliveryStatus
from pushgate.domain.targets import required_role
from pushgate.errors import InvalidInput
from pushgate.http.deps import PageDep, PrincipalDep, RuntimeDep, next_cursor
from pushgate.services import notifications as service
from pushgate.services.auth import Principal, app_id_for, app_id_for_any
from pushgate.store.uow import unit_of_work

router = APIRouter(tags=["notifications"], **ROUTER_DEFAULTS)

# Reading a notification or its deliveries: a key that sends, or one that reads registrations.
_READERS = (Role.PUSH_SINGLE, Role.PUSH_MULTIPLE, Role.PUSH_ALL, Role.PUSHREGISTRATIONS_READ)
_SENDERS = (Role.PUSH_SINGLE, Role.PUSH_MULTIPLE, Role.PUSH_ALL)
_IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Repeat within 24 h: the first answer is returned, nothing is sent again",
    ),
]


async def _app_for_any(
    runtime: RuntimeDep, principal: Principal, app: str, roles: tuple[Role, ...]
) -> int:
    return await app_id_for_any(runtime.db, principal, app, roles)


@router.post(
    "/apps/{app}/notifications",
    response_model=NotificationOut,
    status_code=202,
    responses={
        200: {"model": NotificationOut, "description": "Delivered inline: every target answered"}
    },
)
async def send_notification(
    app: str,
    body: SendIn,
    request: Request,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    idempotency_key: _IdempotencyKey = None,
) -> Response:
    """Send a notification. Small targets are delivered inline (200 with per-target results
    when every target answered); everything else is queued (202) — poll its status."""
    now = runtime.clock()
    # Authorize the app before reading the body's rules; the target decides the exact role.
    await _app_for_any(runtime, principal, app, _SENDERS)
    parsed = body.to_request(now)
    app_id = await app_id_for(runtime.db, principal, app, required_role(parsed.target))
    body_hash = service.request_hash(await request.body()) if idempotency_key else None
    outcome = await service.accept(
        runtime.engine,
        app_id,
        parsed,
        idempotency_key=idempotency_key,
        body_hash=body_hash,
        now=now,
    )
    if isinstance(outcome, service.Replay):
        return await _replayed(runtime, app_id, outcome)
    results = outcome.results
    complete = results is not None and all(r.status.is_final for r in results)
    status = 200 if complete else 202
    text = NotificationOut.of(outcome.notification, results=results).model_dump_json()
    if idempotency_key:
        await service.save_response(runtime.engine, outcome.notification.id, status, text)
    return Response(text, status_code=status, media_type="application/json")


async def _replayed(runtime: RuntimeDep, app_id: int, replay: service.Replay) -> Response:
    headers = {"Idempotent-Replayed": "true"}
    if replay.body is not None and replay.status is not None:
        return Response(
            replay.body, status_code=replay.status, media_type="application/json", headers=headers
        )
    async with unit_of_work(runtime.db, readonly=True) as uow:
        found = await service.get_notification(uow, app_id, replay.notification_id)
    text = NotificationOut.of(found).model_dump_json()
    return Response(text, status_code=202, media_type="application/json", headers=headers)


@router.get("/apps/{app}/notifications", response_model=NotificationList)
async def list_notifications(
    app: str, page: PageDep, principal: PrincipalDep, runtime: RuntimeDep
) -> NotificationList:
    """The app's notifications, newest first."""
    app_id = await _app_for_any(runtime, principal, app, _READERS)
    async with unit_of_work(runtime.db, readonly=True) as uow:
        found = await uow.notifications.list_page(app_id, after=page.after, limit=page.limit)
    return NotificationList(
        items=[NotificationOut.of(n) for n in found],
        next_cursor=next_cursor([n.id for n in found], page.limit),
    )


@router.get("/apps/{app}/notifications/{notification_id}", response_model=NotificationOut)
async def get_notification(
    app: str, notification_id: str, principal: PrincipalDep, runtime: RuntimeDep
) -> NotificationOut:
    """What was asked, where it stands, and counts by status (QUEUED, SENT, ERROR...)."""
    app_id = await _app_for_any(runtime, principal, app, _READERS)
    async with unit_of_work(runtime.db, readonly=True) as uow:
        found = await service.get_notification(uow, app_id, notification_id)
    return NotificationOut.of(found, detail=True)


@router.delete(
    "/apps/{app}/notifications/{notification_id}",
    status_code=204,
    response_class=Response,
    responses=errors(401, 403, 404, 409, 503),
)
async def cancel_notification(
    app: str, notification_id: str, principal: PrincipalDep, runtime: RuntimeDep
) -> Response:
    """Cancel a notification that has not started sending (409 once it has)."""
    app_id = await _app_for_any(runtime, principal, app, _SENDERS)
    async with unit_of_work(runtime.db) as uow:
        await service.cancel_notification(uow, app_id, notification_id, runtime.clock())
    return Response(status_code=204)


@router.get("/apps/{app}/notifications/{notification_id}/deliveries", response_model=DeliveryList)
async def list_deliveries(
    app: str,
    notification_id: str,
    page: PageDep,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    status: Annotated[
        str | None, Query(max_length=16, description="QUEUED, SENT, ERROR...")
    ] = None,
) -> DeliveryList:
    """The deliveries recorded so far (a delivery not yet attempted is counted as QUEUED in
    the notification's counts, and listed once it has been tried)."""
    app_id = await _app_for_any(runtime, principal, app, _READERS)
    wanted = _status(status, field="status") if status else None
    async with unit_of_work(runtime.db, readonly=True) as uow:
        found = await service.list_deliveries(
            uow, app_id, notification_id, status=wanted, after=page.after, limit=page.limit
        )
    return DeliveryList(
        items=[DeliveryOut.of(d) for d in found],
        next_cursor=next_cursor([d.registration_id for d in found], page.limit),
    )


@router.get("/deliveries/{delivery_id}", response_model=DeliveryOut)
async def get_delivery(
    delivery_id: str, principal: PrincipalDep, runtime: RuntimeDep
) -> DeliveryOut:
    """One delivery: status, SAP result code, message, provider reference, attempts."""
    async with unit_of_work(runtime.db, readonly=True) as uow:
        record, _ = await service.get_delivery(uow, principal, delivery_id, _READERS)
    return DeliveryOut.of(record)


@router.post("/deliveries/{delivery_id}/receipt", response_model=DeliveryOut)
async def report_receipt(
    delivery_id: str, body: ReceiptIn, principal: PrincipalDep, runtime: RuntimeDep
) -> DeliveryOut:
    """The app reports RECEIVED, CONSUMED or CONFIRMED (forward moves only; 409 otherwise)."""
    reported = _status(body.status, field="status")
    if reported not in RECEIPT_STATUSES:
        raise InvalidInput("must be RECEIVED, CONSUMED or CONFIRMED", field="status")
    async with unit_of_work(runtime.db) as uow:
        record = await service.report_receipt(
            uow, principal, delivery_id, reported, runtime.clock()
        )
    return DeliveryOut.of(record)


def _status(name: str, *, field: str) -> DeliveryStatus:
    try:
        return DeliveryStatus[name.strip().upper()]
    except KeyError:
        raise InvalidInput(
            "must be QUEUED, SENT, ERROR, RECEIVED, CONSUMED or CONFIRMED", field=field
        ) from None
