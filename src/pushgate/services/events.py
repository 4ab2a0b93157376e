"""The per-app event log."""

from __future__ import annotations

from datetime import datetime

from pushgate.domain.events import EventKind
from pushgate.domain.records import Event, JsonObject
from pushgate.store.uow import UnitOfWork


async def record_event(
    uow: UnitOfWork,
    app_id: int,
    kind: EventKind,
    subject: str | None,
    data: JsonObject,
    now: datetime,
) -> None:
    """Append an event in the caller's transaction: it exists exactly when the change does."""
    await uow.events.append(app_id, kind.value, subject, data, now)


async def list_events(
    uow: UnitOfWork, app_id: int, *, after: int | None, limit: int, kind: str | None
) -> list[Event]:
    return await uow.events.list_page(app_id, after=after, limit=limit, kind=kind)
