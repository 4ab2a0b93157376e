"""Webhooks, the kinds they subscribe to, and their lines of deliveries.

Deliveries are written in the transaction that records their event (EventRepo.append), so
none is lost; the sender (delivery/webhook_sender.py) works one webhook's line at a time
under a lease on the webhook row, oldest delivery first.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from pushgate.domain.records import Event
from pushgate.domain.webhooks import ALL_KINDS, DeliveryState, Webhook, WebhookDelivery
from pushgate.errors import Conflict
from pushgate.store.repos._base import Repo
from pushgate.store.tables import apps, events, webhook_deliveries, webhook_kinds, webhooks

_W = webhooks.c
_D = webhook_deliveries.c
_PENDING = DeliveryState.PENDING


@dataclass(frozen=True, slots=True)
class Head:
    """The oldest pending delivery of a claimed webhook, with what sending it takes."""

    delivery_id: int
    attempts: int
    event: Event
    app_name: str
    webhook_name: str
    url: str
    sealed_secret: str


def _delivery(row: Any) -> WebhookDelivery:
    return WebhookDelivery(
        row.id,
        row.webhook_id,
        row.event_id,
        row.kind,
        row.status,
        row.attempts,
        row.last_status,
        row.last_error,
        row.last_attempt_at,
        row.created_at,
        row.completed_at,
    )


class WebhookRepo(Repo):
    async def create(
        self,
        app_id: int,
        name: str,
        url: str,
        kinds: tuple[str, ...],
        sealed_secret: str,
        now: datetime,
    ) -> Webhook:
        stmt = (
            insert(webhooks)
            .values(
                app_id=app_id,
                name=name,
                url=url,
                sealed_secret=sealed_secret,
                created_at=now,
                updated_at=now,
            )
            .returning(_W.id)
        )
        try:
            async with self.conn.begin_nested():
                webhook_id = (await self.conn.execute(stmt)).scalar_one()
        except IntegrityError:
            raise Conflict("a webhook with this name exists", field="name") from None
        await self._set_kinds(webhook_id, kinds)
        found = await self.get(app_id, name)
        assert found is not None  # noqa: S101 - inserted just now in this transaction
        return found

    async def update(
        self,
        app_id: int,
        name: str,
        *,
        url: str | None,
        kinds: tuple[str, ...] | None,
        sealed_secret: str | None,
        now: datetime,
    ) -> Webhook | None:
        values: dict[str, Any] = {"updated_at": now}
        if url is not None:
            values["url"] = url
        if sealed_secret is not None:
            values["sealed_secret"] = sealed_secret
        stmt = (
            update(webhooks)
            .where(_W.app_id == app_id, _W.name == name)
            .values(**values)
            .returning(_W.id)
        )
        webhook_id = (await self.conn.execute(stmt)).scalar_one_or_none()
        if webhook_id is None:
            return None
        if kinds is not None:
            await self.conn.execute(
                delete(webhook_kinds).where(webhook_kinds.c.webhook_id == webhook_id)
            )
            await self._set_kinds(webhook_id, kinds)
        return await self.get(app_id, name)

    async def _set_kinds(self, webhook_id: int, kinds: tuple[str, ...]) -> None:
        rows = [{"webhook_id": webhook_id, "kind": k, "position": i} for i, k in enumerate(kinds)]
        await self.conn.execute(insert(webhook_kinds), rows)

    async def get(self, app_id: int, name: str) -> Webhook | None:
        found = await self._select(and_(_W.app_id == app_id, _W.name == name), limit=1)
        return found[0] if found else None

    async def list_page(self, app_id: int, *, after: str | None, limit: int) -> list[Webhook]:
        condition = _W.app_id == app_id
        if after is not None:
            condition = and_(condition, _W.name > after)
        return await self._select(condition, limit=limit)

    async def _select(self, condition: Any, *, limit: int) -> list[Webhook]:
        pending = (
            select(func.count())
            .where(_D.webhook_id == _W.id, _D.status == _PENDING)
            .scalar_subquery()
        )
        stmt = select(webhooks, pending.label("pending")).where(condition)
        rows = (await self.conn.execute(stmt.order_by(_W.name).limit(limit))).all()
        if not rows:
            return []
        kinds: dict[int, list[str]] = defaultdict(list)
        kind_rows = await self.conn.execute(
            select(webhook_kinds.c.webhook_id, webhook_kinds.c.kind)
            .where(webhook_kinds.c.webhook_id.in_([r.id for r in rows]))
            .order_by(webhook_kinds.c.webhook_id, webhook_kinds.c.position)
        )
        for webhook_id, kind in kind_rows:
            kinds[webhook_id].append(kind)
        return [
            Webhook(
                r.id,
                r.app_id,
                r.name,
                r.url,
                tuple(kinds[r.id]),
                r.created_at,
                r.updated_at,
                r.next_attempt_at,
                int(r.pending or 0),
            )
            for r in rows
        ]

    async def delete(self, app_id: int, name: str) -> bool:
        stmt = delete(webhooks).where(_W.app_id == app_id, _W.name == name)
        return bool((await self.conn.execute(stmt)).rowcount)

    async def subscribers(self, app_id: int, kind: str) -> list[int]:
        """Ids of the app's webhooks that want `kind`."""
        stmt = (
            select(_W.id)
            .join(webhook_kinds, webhook_kinds.c.webhook_id == _W.id)
            .where(_W.app_id == app_id, webhook_kinds.c.kind.in_((kind, ALL_KINDS)))
            .distinct()
        )
        return [row[0] for row in await self.conn.execute(stmt)]

    async def wanted_kinds(self, app_id: int) -> frozenset[str]:
        """Every kind some webhook of the app wants (`*` among them when one wants all)."""
        stmt = (
            select(webhook_kinds.c.kind)
            .join(webhooks, webhooks.c.id == webhook_kinds.c.webhook_id)
            .where(_W.app_id == app_id)
            .distinct()
        )
        return frozenset(row[0] for row in await self.conn.execute(stmt))

    async def enqueue(self, webhook_ids: list[int], event_id: int, now: datetime) -> None:
        rows = [
            {"webhook_id": w, "event_id": event_id, "status": _PENDING, "created_at": now}
            for w in webhook_ids
        ]
        await self.conn.execute(insert(webhook_deliveries), rows)

    async def deliveries_page(
        self, webhook_id: int, *, status: str | None, after: int | None, limit: int
    ) -> list[WebhookDelivery]:
        """Newest first; `after` is the id of the last one of the previous page."""
        stmt = (
            select(webhook_deliveries, events.c.kind)
            .join(events, events.c.id == _D.event_id)
            .where(_D.webhook_id == webhook_id)
            .order_by(_D.id.desc())
            .limit(limit)
        )
        if status is not None:
            stmt = stmt.where(_D.status == status)
        if after is not None:
            stmt = stmt.where(_D.id < after)
        return [_delivery(row) for row in await self.conn.execute(stmt)]

    # The sender's side.

    async def due(self, now: datetime, limit: int) -> list[int]:
        """Webhooks with a pending delivery, not waiting for a retry, not leased."""
        has_pending = exists().where(_D.webhook_id == _W.id, _D.status == _PENDING)
        stmt = (
            select(_W.id)
            .where(
                has_pending,
                or_(_W.next_attempt_at.is_(None), _W.next_attempt_at <= now),
                or_(_W.lease_until.is_(None), _W.lease_until < now),
            )
            .order_by(_W.id)
            .limit(limit)
        )
        return [row[0] for row in await self.conn.execute(stmt)]

    async def claim(self, webhook_id: int, owner: str, now: datetime, until: datetime) -> bool:
        """Take the webhook's line if nobody holds it (compare-and-set on the lease)."""
        stmt = (
            update(webhooks)
            .where(_W.id == webhook_id, or_(_W.lease_until.is_(None), _W.lease_until < now))
            .values(lease_owner=owner, lease_until=until)
        )
        return bool((await self.conn.execute(stmt)).rowcount)

    async def head(self, webhook_id: int, owner: str) -> Head | None:
        """The oldest pending delivery of a webhook this owner holds, or None."""
        stmt = (
            select(
                _D.id.label("delivery_id"),
                _D.attempts,
                events.c.id.label("event_id"),
                events.c.app_id,
                events.c.kind,
                events.c.subject,
                events.c.data,
                events.c.created_at,
                apps.c.name.label("app_name"),
                _W.name.label("webhook_name"),
                _W.url,
                _W.sealed_secret,
            )
            .select_from(webhook_deliveries)
            .join(webhooks, _W.id == _D.webhook_id)
            .join(events, events.c.id == _D.event_id)
            .join(apps, apps.c.id == _W.app_id)
            .where(_D.webhook_id == webhook_id, _D.status == _PENDING, _W.lease_owner == owner)
            .order_by(_D.id)
            .limit(1)
        )
        row = (await self.conn.execute(stmt)).first()
        if row is None:
            return None
        event = Event(
            row.event_id, row.app_id, row.kind, row.subject, json.loads(row.data), row.created_at
        )
        return Head(
            row.delivery_id,
            row.attempts,
            event,
            row.app_name,
            row.webhook_name,
            row.url,
            row.sealed_secret,
        )

    async def record(
        self,
        webhook_id: int,
        owner: str,
        delivery_id: int,
        *,
        status: str,
        http_status: int | None,
        error: str | None,
        now: datetime,
        retry_at: datetime | None,
    ) -> bool:
        """One attempt's outcome, if the owner still holds the webhook; False otherwise."""
        held = await self.conn.execute(
            update(webhooks)
            .where(_W.id == webhook_id, _W.lease_owner == owner)
            .values(next_attempt_at=retry_at)
        )
        if not held.rowcount:
            return False
        await self.conn.execute(
            update(webhook_deliveries)
            .where(_D.id == delivery_id, _D.status == _PENDING)
            .values(
                status=status,
                attempts=_D.attempts + 1,
                last_status=http_status,
                last_error=error[:255] if error else None,
                last_attempt_at=now,
                completed_at=None if status == _PENDING else now,
            )
        )
        return True

    async def extend(self, webhook_id: int, owner: str, until: datetime) -> bool:
        stmt = (
            update(webhooks)
            .where(_W.id == webhook_id, _W.lease_owner == owner)
            .values(lease_until=until)
        )
        return bool((await self.conn.execute(stmt)).rowcount)

    async def release(self, webhook_id: int, owner: str) -> None:
        await self.conn.execute(
            update(webhooks)
            .where(_W.id == webhook_id, _W.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )

    async def prune(self, before: datetime) -> int:
        """Forget finished deliveries completed before `before`."""
        stmt = delete(webhook_deliveries).where(_D.status != _PENDING, _D.completed_at < before)
        return int((await self.conn.execute(stmt)).rowcount or 0)
