"""Notifications: insert with the idempotency key, progress counters, completion, cancel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, select, true, update

from pushgate.domain.events import EventKind
from pushgate.domain.notifications import Counts, Lane, Notification, NotificationState
from pushgate.domain.statuses import DeliveryStatus
from pushgate.store.repos._base import Repo
from pushgate.store.repos.events import EventRepo
from pushgate.store.tables import deliveries, jobs, notifications

_N = notifications
# The counter column of each status an app receipt can move a delivery between.
_COUNTER_OF = {
    DeliveryStatus.SENT: "sent",
    DeliveryStatus.ERROR: "errors",
    DeliveryStatus.RECEIVED: "received",
    DeliveryStatus.CONSUMED: "consumed",
    DeliveryStatus.CONFIRMED: "confirmed",
}


def _notification(row: Any) -> Notification:
    return Notification(
        id=row.id,
        app_id=row.app_id,
        kind=row.kind,
        lane=Lane(row.lane),
        state=NotificationState(row.state),
        request_json=row.request,
        epoch=row.epoch,
        send_at=row.send_at,
        local_time=row.local_time,
        expires_at=row.expires_at,
        idempotency_key=row.idempotency_key,
        counts=Counts(
            row.planned,
            row.targeted,
            row.sent,
            row.errors,
            row.received,
            row.consumed,
            row.confirmed,
        ),
        fanout_done=row.fanout_done,
        batches_open=row.batches_open,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        completed_at=row.completed_at,
    )


@dataclass(frozen=True, slots=True)
class NewNotification:
    id: str
    app_id: int
    kind: str
    lane: Lane
    state: NotificationState
    request_json: str
    send_at: datetime | None
    local_time: bool
    expires_at: datetime
    idempotency_key: str | None
    request_hash: str | None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What one batch (or retry round) adds to its notification's counters."""

    planned_done: int = 0  # the batch's planned size, now no longer open
    batches_done: int = 0
    targeted: int = 0
    sent: int = 0
    errors: int = 0


@dataclass(frozen=True, slots=True)
class StoredResponse:
    notification_id: str
    request_hash: str | None
    status: int | None
    body: str | None
    created_at: datetime


class NotificationRepo(Repo):
    async def insert(self, new: NewNotification, now: datetime) -> None:
        await self.conn.execute(
            notifications.insert().values(
                id=new.id,
                app_id=new.app_id,
                kind=new.kind,
                lane=new.lane.value,
                state=new.state.value,
                request=new.request_json,
                epoch=0,
                send_at=new.send_at,
                local_time=new.local_time,
                expires_at=new.expires_at,
                idempotency_key=new.idempotency_key,
                request_hash=new.request_hash,
                created_at=now,
                updated_at=now,
            )
        )

    async def get(self, notification_id: str, app_id: int | None = None) -> Notification | None:
        stmt = select(_N).where(_N.c.id == notification_id)
        if app_id is not None:
            stmt = stmt.where(_N.c.app_id == app_id)
        row = (await self.conn.execute(stmt)).first()
        return _notification(row) if row else None

    async def list_page(self, app_id: int, *, after: str | None, limit: int) -> list[Notification]:
        stmt = select(_N).where(_N.c.app_id == app_id)
        if after is not None:
            stmt = stmt.where(_N.c.id < after)  # newest first
        rows = await self.conn.execute(stmt.order_by(_N.c.id.desc()).limit(limit))
        return [_notification(r) for r in rows]

    async def by_idempotency_key(self, app_id: int, key: str) -> StoredResponse | None:
        stmt = select(
            _N.c.id, _N.c.request_hash, _N.c.response_status, _N.c.response, _N.c.created_at
        ).where(_N.c.app_id == app_id, _N.c.idempotency_key == key)
        row = (await self.conn.execute(stmt)).first()
        return StoredResponse(*row) if row else None

    async def forget_idempotency_key(self, app_id: int, key: str) -> None:
        """Free a key older than its window, so it can name a new request."""
        await self.conn.execute(
            update(_N)
            .where(_N.c.app_id == app_id, _N.c.idempotency_key == key)
            .values(idempotency_key=None)
        )

    async def save_response(self, notification_id: str, status: int, body: str) -> None:
        await self.conn.execute(
            update(_N)
            .where(_N.c.id == notification_id)
            .values(response_status=status, response=body)
        )

    async def mark_sending(self, notification_id: str, now: datetime) -> None:
        await self.conn.execute(
            update(_N)
            .where(_N.c.id == notification_id, _N.c.state.in_(("queued", "scheduled")))
            .values(state=NotificationState.SENDING.value, started_at=now, updated_at=now)
        )

    async def add_planned(
        self, notification_id: str, planned: int, batches: int, *, fanout_done: bool, now: datetime
    ) -> None:
        values: dict[str, Any] = {
            "planned": _N.c.planned + planned,
            "batches_open": _N.c.batches_open + batches,
            "updated_at": now,
        }
        if fanout_done:
            values["fanout_done"] = True
        await self.conn.execute(update(_N).where(_N.c.id == notification_id).values(**values))
        if fanout_done:
            await self.complete_if_done(notification_id, now)

    async def apply(
        self,
        notification_id: str,
        outcome: BatchOutcome,
        now: datetime,
        *,
        epoch: int | None = None,
    ) -> None:
        """Add a batch's outcome to the counters; mark the notification done when it is.

        A batch of an older epoch (planned before a recovery sweep re-planned the
        notification) still adds its deliveries, but not to the new plan's counters.
        """
        current = _N.c.epoch == epoch if epoch is not None else true()
        await self.conn.execute(
            update(_N)
            .where(_N.c.id == notification_id)
            .values(
                planned=_N.c.planned - case((current, outcome.planned_done), else_=0),
                batches_open=_N.c.batches_open - case((current, outcome.batches_done), else_=0),
                targeted=_N.c.targeted + outcome.targeted,
                sent=_N.c.sent + outcome.sent,
                errors=_N.c.errors + outcome.errors,
                updated_at=now,
            )
        )
        await self.complete_if_done(notification_id, now)

    async def complete_if_done(self, notification_id: str, now: datetime) -> None:
        final = _N.c.sent + _N.c.errors + _N.c.received + _N.c.consumed + _N.c.confirmed
        done = (
            await self.conn.execute(
                update(_N)
                .where(
                    _N.c.id == notification_id,
                    _N.c.state == NotificationState.SENDING.value,
                    _N.c.fanout_done.is_(True),
                    _N.c.batches_open <= 0,
                    _N.c.targeted <= final,
                )
                .values(state=NotificationState.DONE.value, completed_at=now, updated_at=now)
                .returning(_N.c.app_id, _N.c.kind, _N.c.targeted, _N.c.sent, _N.c.errors, final)
            )
        ).first()
        if done is not None:
            await self._record_completion(notification_id, done, now)

    async def _record_completion(self, notification_id: str, done: Any, now: datetime) -> None:
        """message.delivered (some device reached) or message.failed, with the counts, in
        the transaction that finished the notification: exactly once per notification."""
        reached = int(done[5]) - int(done.errors)
        kind = EventKind.MESSAGE_DELIVERED if reached > 0 else EventKind.MESSAGE_FAILED
        data = {
            "notification_id": notification_id,
            "target": done.kind,
            "targeted": int(done.targeted),
            "reached": reached,
            "errors": int(done.errors),
        }
        await EventRepo(self.conn).append(done.app_id, kind.value, notification_id, data, now)

    async def move_count(
        self, notification_id: str, old: DeliveryStatus, new: DeliveryStatus, now: datetime
    ) -> None:
        """A receipt moved one delivery from `old` to `new`."""
        before, after = _COUNTER_OF[old], _COUNTER_OF[new]
        await self.conn.execute(
            update(_N)
            .where(_N.c.id == notification_id)
            .values({before: _N.c[before] - 1, after: _N.c[after] + 1, "updated_at": now})
        )

    async def cancel(self, app_id: int, notification_id: str, now: datetime) -> bool:
        """Cancel a notification whose sending has not started; False when it has."""
        result = await self.conn.execute(
            update(_N)
            .where(
                _N.c.id == notification_id,
                _N.c.app_id == app_id,
                _N.c.state.in_(("scheduled", "queued")),
                _N.c.started_at.is_(None),
            )
            .values(state=NotificationState.CANCELLED.value, updated_at=now, completed_at=now)
        )
        if not result.rowcount:
            return False
        await self.conn.execute(delete(jobs).where(jobs.c.notification_id == notification_id))
        return True

    async def delete_for_app(self, app_id: int) -> None:
        """Deliveries have no foreign key (hot table): remove them with their notifications."""
        ids = select(_N.c.id).where(_N.c.app_id == app_id).scalar_subquery()
        await self.conn.execute(delete(deliveries).where(deliveries.c.notification_id.in_(ids)))

    async def stalled(self, before: datetime, limit: int) -> list[Notification]:
        """Notifications due to be sending that made no progress since `before`."""
        stmt = (
            select(_N)
            .where(
                _N.c.state.in_(("scheduled", "queued", "sending")),
                _N.c.updated_at < before,
                _N.c.send_at.is_(None) | (_N.c.send_at < before),
            )
            .order_by(_N.c.updated_at)
            .limit(limit)
        )
        return [_notification(r) for r in await self.conn.execute(stmt)]

    async def replan(self, notification_id: str, epoch: int, now: datetime) -> int | None:
        """Start a new epoch: its plan counts from nothing (recorded deliveries stay)."""
        result = await self.conn.execute(
            update(_N)
            .where(_N.c.id == notification_id, _N.c.epoch == epoch)
            .values(epoch=epoch + 1, planned=0, batches_open=0, fanout_done=False, updated_at=now)
        )
        return epoch + 1 if result.rowcount else None
