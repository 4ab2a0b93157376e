"""The per-app event log."""

from __future__ import annotations

from datetime import datetime

from pushgate.domain.events import ON_DEMAND_KINDS, EventKind
from pushgate.domain.records import Event, JsonObject, Registration
from pushgate.domain.webhooks import device_data
from pushgate.store.uow import UnitOfWork


async def record_event(
    uow: UnitOfWork,
    app_id: int,
    kind: EventKind,
    subject: str | None,
    data: JsonObject,
    now: datetime,
) -> None:
    """Append an event in the caller's transaction: it exists exactly when the change does.

    Device events are recorded only while a webhook of the app wants them (domain/events.py).
    """
    await uow.events.append(
        app_id, kind.value, subject, data, now, only_if_wanted=kind in ON_DEMAND_KINDS
    )


async def record_device_event(
    uow: UnitOfWork,
    kind: EventKind,
    registration: Registration,
    now: datetime,
    **extra: object,
) -> None:
    """A device event about `registration`, in the caller's transaction (when wanted)."""
    await record_event(
        uow, registration.app_id, kind, registration.id, device_data(registration, **extra), now
    )


async def list_events(
    uow: UnitOfWork, app_id: int, *, after: int | None, limit: int, kind: str | None
) -> list[Event]:
    return await uow.events.list_page(app_id, after=after, limit=limit, kind=kind)
