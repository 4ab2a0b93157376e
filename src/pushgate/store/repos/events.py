"""The per-app event log: appended by the services and the delivery engine, read in order."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from pushgate.domain.records import Event, JsonObject
from pushgate.store.repos._base import Repo
from pushgate.store.tables import events


def _event(row: Any) -> Event:
    return Event(row.id, row.app_id, row.kind, row.subject, json.loads(row.data), row.created_at)


class EventRepo(Repo):
    async def append(
        self, app_id: int, kind: str, subject: str | None, data: JsonObject, now: datetime
    ) -> None:
        await self.conn.execute(
            insert(events).values(
                app_id=app_id,
                kind=kind,
                subject=subject,
                data=json.dumps(data, sort_keys=True),
                created_at=now,
            )
        )

    async def list_page(
        self, app_id: int, *, after: int | None, limit: int, kind: str | None = None
    ) -> list[Event]:
        stmt = select(events).where(events.c.app_id == app_id).order_by(events.c.id).limit(limit)
        if after is not None:
            stmt = stmt.where(events.c.id > after)
        if kind is not None:
            stmt = stmt.where(events.c.kind == kind)
        return [_event(r) for r in await self.conn.execute(stmt)]
