"""An app's event log (a credential turned suspect, ...), oldest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from pushgate.api.v1.common import ROUTER_DEFAULTS
from pushgate.domain.events import EventKind
from pushgate.domain.records import Event
from pushgate.domain.roles import Role
from pushgate.http.deps import MAX_PAGE, AppScope, app_scope
from pushgate.services import events as event_service

router = APIRouter(tags=["events"], **ROUTER_DEFAULTS)


class EventOut(BaseModel):
    id: int
    kind: str
    subject: str | None
    data: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, event: Event) -> EventOut:
        return cls(
            id=event.id,
            kind=event.kind,
            subject=event.subject,
            data=event.data,
            created_at=event.created_at,
        )


class EventList(BaseModel):
    items: list[EventOut]
    next_after: int | None


AdminReadScope = Annotated[
    AppScope, Depends(app_scope(Role.APP_ADMIN, readonly=True), scope="function")
]


@router.get("/apps/{app}/events", response_model=EventList)
async def list_events(
    scope: AdminReadScope,
    after: Annotated[int | None, Query(ge=0, description="next_after of the previous page")] = None,
    kind: EventKind | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> EventList:
    """Events in the order they happened; follow `next_after` to read on."""
    found = await event_service.list_events(
        scope.uow, scope.app_id, after=after, limit=limit, kind=kind.value if kind else None
    )
    return EventList(
        items=[EventOut.of(e) for e in found],
        next_after=found[-1].id if len(found) == limit else None,
    )
