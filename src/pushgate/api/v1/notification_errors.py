"""A notification's errors by result code and provider reason: the funnel's error breakdown."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from pushgate.api.v1.common import ROUTER_DEFAULTS
from pushgate.domain.roles import Role
from pushgate.http.deps import PrincipalDep, RuntimeDep
from pushgate.services import delivery_status
from pushgate.services.auth import app_id_for_any
from pushgate.store.uow import unit_of_work

router = APIRouter(tags=["notifications"], **ROUTER_DEFAULTS)

_READERS = (Role.PUSH_SINGLE, Role.PUSH_MULTIPLE, Role.PUSH_ALL, Role.PUSHREGISTRATIONS_READ)


class ErrorGroupOut(BaseModel):
    code: int = Field(description="SAP result code (docs/delivery.md): 4 configuration, 6 token")
    reason: str = Field(description="The provider's reason, as recorded ('' when none)")
    count: int


class ErrorBreakdown(BaseModel):
    notification_id: str
    items: list[ErrorGroupOut] = Field(
        description=f"Most frequent first, at most {delivery_status.MAX_ERROR_GROUPS} groups"
    )


@router.get("/apps/{app}/notifications/{notification_id}/errors", response_model=ErrorBreakdown)
async def notification_errors(
    app: str, notification_id: str, principal: PrincipalDep, runtime: RuntimeDep
) -> ErrorBreakdown:
    """The notification's ERROR deliveries so far, counted by result code and reason."""
    app_id = await app_id_for_any(runtime.db, principal, app, _READERS)
    async with unit_of_work(runtime.db, readonly=True) as uow:
        groups = await delivery_status.error_breakdown(uow, app_id, notification_id)
    return ErrorBreakdown(
        notification_id=notification_id,
        items=[ErrorGroupOut(code=int(g.code), reason=g.reason, count=g.count) for g in groups],
    )
