"""Sending notifications: accept (with its job, in one transaction), inline delivery, replay.

An accepted notification is committed together with its fan-out job (the outbox), so it is
never lost and a failed request leaves nothing behind. Small targets are then delivered
inside the request, up to a deadline, so the answer can carry a result per target; what
misses the deadline goes on in the background and is reported as queued.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.exc import IntegrityError

from pushgate.delivery.engine import DeliveryEngine
from pushgate.domain.events import EventKind
from pushgate.domain.ids import new_id
from pushgate.domain.jobs import Job, JobKind, NewJob
from pushgate.domain.notifications import (
    Lane,
    Notification,
    NotificationRequest,
    NotificationState,
    delivery_id,
    split_delivery_id,
)
from pushgate.domain.roles import Role, grants
from pushgate.domain.statuses import DeliveryStatus, ResultCode, receipt_allowed
from pushgate.domain.targets import TargetKind
from pushgate.domain.timezones import EARLIEST_OFFSET
from pushgate.errors import Conflict, InvalidInput, NotFound
from pushgate.services.auth import Principal
from pushgate.store.repos.audience import PageQuery
from pushgate.store.repos.deliveries import DeliveryRecord, DeliveryRow
from pushgate.store.repos.notifications import NewNotification
from pushgate.store.uow import UnitOfWork, unit_of_work
from pushgate.telemetry import NOTIFICATIONS_ACCEPTED

_log = structlog.get_logger("pushgate.notifications")
IDEMPOTENCY_WINDOW = timedelta(hours=24)
MAX_SCHEDULE_AHEAD = timedelta(days=365)
# A replayed key whose first request died before saving its answer: after this long, the
# notification's current state is the answer.
_RESPONSE_GRACE = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class TargetResult:
    registration_id: str
    delivery_id: str
    platform: str
    status: DeliveryStatus
    code: ResultCode
    message: str | None


@dataclass(frozen=True, slots=True)
class Replay:
    """The first answer to a request repeating an Idempotency-Key."""

    notification_id: str
    status: int | None
    body: str | None


@dataclass(frozen=True, slots=True)
class Accepted:
    notification: Notification
    # Inline delivery's answers (None: queued, no per-target answer yet).
    results: list[TargetResult] | None


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def lane_of(request: NotificationRequest) -> Lane:
    return Lane.FAST if request.target.is_small else Lane.BULK


def _check_schedule(request: NotificationRequest, now: datetime) -> datetime | None:
    """When sending starts (None: now)."""
    if request.local_time and request.send_at is None:
        raise InvalidInput("local_time needs send_at (a wall-clock time)", field="local_time")
    if request.send_at is None:
        return None
    if request.send_at - now > MAX_SCHEDULE_AHEAD:
        raise InvalidInput("must lie at most 365 days ahead", field="send_at")
    start = request.send_at - EARLIEST_OFFSET if request.local_time else request.send_at
    return start if start > now else None


async def accept(
    engine: DeliveryEngine,
    app_id: int,
    request: NotificationRequest,
    *,
    idempotency_key: str | None,
    body_hash: str | None,
    now: datetime,
) -> Accepted | Replay:
    """Store the notification and its job; deliver inline when the target is small."""
    starts_at = _check_schedule(request, now)
    inline = request.target.is_small and starts_at is None
    new = _new_notification(app_id, request, starts_at, idempotency_key, body_hash)
    notification_id = new.id
    job = NewJob(notification_id, JobKind.FANOUT, new.lane, 0, starts_at or now)
    try:
        async with unit_of_work(engine.db) as uow:
            if idempotency_key is not None:
                replay = await _replay(uow, app_id, idempotency_key, body_hash, now)
                if replay is not None:
                    return replay
            await uow.notifications.insert(new, now)
            await uow.events.append(
                app_id,
                EventKind.MESSAGE_ACCEPTED.value,
                notification_id,
                {"notification_id": notification_id, "target": new.kind, "state": new.state.value},
                now,
            )
            leased = await engine.queue.enqueue_leased(uow, job, local=True) if inline else None
            if leased is None:
                await engine.queue.enqueue(uow, job)
    except IntegrityError:
        if idempotency_key is None:
            raise
        # A concurrent request with the same key won the insert.
        async with unit_of_work(engine.db, readonly=True) as uow:
            replay = await _replay(uow, app_id, idempotency_key, body_hash, now)
        if replay is None:
            raise
        return replay
    NOTIFICATIONS_ACCEPTED.labels(new.kind).inc()
    _log.info("notification accepted", notification=notification_id, target=new.kind)
    results = await _deliver_inline(engine, leased) if leased is not None else None
    async with unit_of_work(engine.db, readonly=True) as uow:
        stored = await uow.notifications.get(notification_id)
    assert stored is not None  # noqa: S101 - just committed; only app deletion removes it
    return Accepted(stored, _with_missing(request, results, notification_id))


def _new_notification(
    app_id: int,
    request: NotificationRequest,
    starts_at: datetime | None,
    idempotency_key: str | None,
    body_hash: str | None,
) -> NewNotification:
    return NewNotification(
        id=new_id(),
        app_id=app_id,
        kind=request.target.kind.value,
        lane=lane_of(request),
        state=NotificationState.SCHEDULED if starts_at else NotificationState.QUEUED,
        request_json=request.to_json(),
        send_at=request.send_at,
        local_time=request.local_time,
        expires_at=request.options.expires_at,
        idempotency_key=idempotency_key,
        request_hash=body_hash,
    )


async def _replay(
    uow: UnitOfWork, app_id: int, key: str, body_hash: str | None, now: datetime
) -> Replay | None:
    found = await uow.notifications.by_idempotency_key(app_id, key)
    if found is None:
        return None
    if now - found.created_at > IDEMPOTENCY_WINDOW:
        await uow.notifications.forget_idempotency_key(app_id, key)
        return None
    if found.request_hash != body_hash:
        raise Conflict(
            "this Idempotency-Key was used for a different request", field="idempotency-key"
        )
    if found.body is None and now - found.created_at < _RESPONSE_GRACE:
        raise Conflict(
            "the first request with this Idempotency-Key is still being processed; retry",
            field="idempotency-key",
            details={"retry_after_s": 1},
        )
    return Replay(found.notification_id, found.status, found.body)


async def _deliver_inline(engine: DeliveryEngine, job: Job) -> list[TargetResult] | None:
    """Run the leased job now; its results if they are in before the deadline."""
    task = engine.spawn(engine.run_job(job, page_size=engine.config.inline_max))
    try:
        done = await asyncio.wait_for(asyncio.shield(task), engine.config.inline_deadline_s)
    except TimeoutError:
        # It goes on in the background; each target is reported queued (-1) for now.
        return await _queued_results(engine, job.notification_id)
    except Exception:
        _log.exception(
            "inline delivery failed; left to the worker", notification=job.notification_id
        )
        return await _queued_results(engine, job.notification_id)
    return [_result(row) for batch in done for row in batch.rows]


async def _queued_results(engine: DeliveryEngine, notification_id: str) -> list[TargetResult]:
    """The small target's registrations, each as "queued" (-1), or as already recorded."""
    async with unit_of_work(engine.db, readonly=True) as uow:
        notification = await uow.notifications.get(notification_id)
        assert notification is not None  # noqa: S101 - committed just before
        query = PageQuery(limit=engine.config.inline_max)
        page = await uow.audience.page(notification.app_id, notification.request().target, query)
        recorded = {
            d.registration_id: d
            for d in await uow.deliveries.list_page(
                notification_id, status=None, after=None, limit=engine.config.inline_max
            )
        }
    results: list[TargetResult] = []
    for row in page.rows:
        found = recorded.get(row.registration_id)
        status = found.status if found else DeliveryStatus.QUEUED
        code = found.code if found and found.status.is_final else ResultCode.QUEUED
        message = found.reason if found else "queued: the provider has not answered yet"
        rid = row.registration_id
        results.append(
            TargetResult(
                rid, delivery_id(notification_id, rid), row.platform.value, status, code, message
            )
        )
    return results


def _result(row: DeliveryRow) -> TargetResult:
    nid, rid, status, code, _attempts, platform, reason, _ref, _at, _updated = row
    status_value = DeliveryStatus(status)
    return TargetResult(
        rid,
        delivery_id(nid, rid),
        platform,
        status_value,
        ResultCode.QUEUED if status_value is DeliveryStatus.QUEUED else ResultCode(code),
        reason or ("success" if status_value is DeliveryStatus.SENT else None),
    )


def _with_missing(
    request: NotificationRequest, results: list[TargetResult] | None, notification_id: str
) -> list[TargetResult] | None:
    """Named registrations that were not reached get their own "not found" answer."""
    if results is None or request.target.kind is not TargetKind.REGISTRATIONS:
        return results
    reached = {r.registration_id for r in results}
    missing = [
        TargetResult(
            rid,
            delivery_id(notification_id, rid),
            "",
            DeliveryStatus.ERROR,
            ResultCode.TARGET_NOT_FOUND,
            "no active registration with this id",
        )
        for rid in dict.fromkeys(request.target.registration_ids)
        if rid not in reached
    ]
    return results + missing


async def save_response(
    engine: DeliveryEngine, notification_id: str, status: int, body: str
) -> None:
    """Keep the answer for requests repeating the Idempotency-Key."""
    async with unit_of_work(engine.db) as uow:
        await uow.notifications.save_response(notification_id, status, body)


async def get_notification(uow: UnitOfWork, app_id: int, notification_id: str) -> Notification:
    found = await uow.notifications.get(notification_id, app_id)
    if found is None:
        raise NotFound("no notification with this id", field="id")
    return found


async def cancel_notification(
    uow: UnitOfWork, app_id: int, notification_id: str, now: datetime
) -> None:
    """Cancel a notification that has not started sending (a scheduled one, typically)."""
    await get_notification(uow, app_id, notification_id)
    if not await uow.notifications.cancel(app_id, notification_id, now):
        raise Conflict("sending has started; it can no longer be cancelled", field="id")


async def list_deliveries(
    uow: UnitOfWork,
    app_id: int,
    notification_id: str,
    *,
    status: DeliveryStatus | None,
    after: str | None,
    limit: int,
) -> list[DeliveryRecord]:
    await get_notification(uow, app_id, notification_id)
    return await uow.deliveries.list_page(notification_id, status=status, after=after, limit=limit)


async def get_delivery(
    uow: UnitOfWork, principal: Principal, value: str, roles: tuple[Role, ...]
) -> tuple[DeliveryRecord, Notification]:
    """A delivery by its public id; unknown and foreign ids get the same 404."""
    missing = NotFound("no delivery with this id", field="delivery_id")
    parts = split_delivery_id(value)
    if parts is None:
        raise missing
    notification = await uow.notifications.get(parts[0])
    if notification is None or not _may_see(principal, notification.app_id, roles):
        raise missing
    record = await uow.deliveries.get(*parts)
    if record is None:
        raise missing
    return record, notification


def _may_see(principal: Principal, app_id: int, roles: tuple[Role, ...]) -> bool:
    if principal.is_admin:
        return True
    return principal.app_id == app_id and any(grants(principal.roles, r) for r in roles)


async def report_receipt(
    uow: UnitOfWork, principal: Principal, value: str, reported: DeliveryStatus, now: datetime
) -> DeliveryRecord:
    """The app reports RECEIVED, CONSUMED or CONFIRMED: only forward moves from SENT on."""
    record, notification = await get_delivery(
        uow, principal, value, (Role.REGISTRATIONS_WRITE, Role.PUSH_SINGLE)
    )
    if record.status is DeliveryStatus.QUEUED:
        raise Conflict(
            "not sent yet; report the receipt once it is",
            field="status",
            details={"retry_after_s": 1},
        )
    if not receipt_allowed(record.status, reported):
        raise Conflict(
            f"a delivery in status {record.status.name} cannot move to {reported.name}",
            field="status",
        )
    moved = await uow.deliveries.set_status(
        record.notification_id, record.registration_id, record.status, reported, now
    )
    if not moved:
        raise Conflict("the delivery changed meanwhile; read it and retry", field="status")
    await uow.notifications.move_count(notification.id, record.status, reported, now)
    updated = await uow.deliveries.get(record.notification_id, record.registration_id)
    assert updated is not None  # noqa: S101 - moved just now in this transaction
    return updated
