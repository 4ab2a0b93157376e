"""The per-app event log: appended by the services and the delivery engine, read in order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from pushgate.domain.records import Event, JsonObject
from pushgate.store.repos._base import Repo
from pushgate.store.repos.webhooks import WebhookRepo
from pushgate.store.tables import events


def _event(row: Any) -> Event:
    return Event(row.id, row.app_id, row.kind, row.subject, json.loads(row.data), row.created_at)


class EventRepo(Repo):
    async def append(
        self,
        app_id: int,
        kind: str,
        subject: str | None,
        data: JsonObject,
        now: datetime,
        *,
        only_if_wanted: bool = False,
    ) -> int | None:
        """Record the event and queue it for every webhook of the app that wants its kind, in
        the caller's transaction. `only_if_wanted`: not at all when no webhook wants it."""
        hooks = WebhookRepo(self.conn)
        subscribers = await hooks.subscribers(app_id, kind)
        if only_if_wanted and not subscribers:
            return None
        stmt = (
            insert(events)
            .values(
                app_id=app_id,
                kind=kind,
                subject=subject,
                data=json.dumps(data, sort_keys=True),
                created_at=now,
            )
            .returning(events.c.id)
        )
        event_id = int((await self.conn.execute(stmt)).scalar_one())
        if subscribers:
            await hooks.enqueue(subscribers, event_id, now)
        return event_id

    async def append_many(
        self,
        app_id: int,
        kind: str,
        items: Sequence[tuple[str | None, JsonObject]],
        now: datetime,
        *,
        only_if_wanted: bool = False,
    ) -> None:
        """Several events of one kind (subject, data each), in order, as append() does."""
        hooks = WebhookRepo(self.conn)
        subscribers = await hooks.subscribers(app_id, kind)
        if not items or (only_if_wanted and not subscribers):
            return
        rows = [
            {
                "app_id": app_id,
                "kind": kind,
                "subject": subject,
                "data": json.dumps(data, sort_keys=True),
                "created_at": now,
            }
            for subject, data in items
        ]
        stmt = insert(events).returning(events.c.id, sort_by_parameter_order=True)
        event_ids = [row[0] for row in await self.conn.execute(stmt, rows)]
        for event_id in event_ids:
            if subscribers:
                await hooks.enqueue(subscribers, event_id, now)

    async def list_page(
        self, app_id: int, *, after: int | None, limit: int, kind: str | None = None
    ) -> list[Event]:
        stmt = select(events).where(events.c.app_id == app_id).order_by(events.c.id).limit(limit)
        if after is not None:
            stmt = stmt.where(events.c.id > after)
        if kind is not None:
            stmt = stmt.where(events.c.kind == kind)
        return [_event(r) for r in await self.conn.execute(stmt)]
