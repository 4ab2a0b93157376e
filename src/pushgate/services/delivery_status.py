"""The status of one delivery by its public id, including one not attempted yet.

A delivery row is written when a provider is first tried; until then the delivery exists only
as a registration the notification still has to reach. Its id is handed out with the send's
answer (the SAP seed's pushResults), so asking for it must say QUEUED, not "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass

from pushgate.domain.notifications import NotificationState, split_delivery_id
from pushgate.domain.roles import Role, grants
from pushgate.domain.statuses import DeliveryStatus, ResultCode
from pushgate.errors import NotFound
from pushgate.services.auth import Principal
from pushgate.store.uow import UnitOfWork

_FINISHED = (NotificationState.DONE, NotificationState.CANCELLED)


@dataclass(frozen=True, slots=True)
class DeliveryState:
    delivery_id: str
    notification_id: str
    registration_id: str
    app_name: str
    platform: str
    status: DeliveryStatus
    code: ResultCode
    reason: str | None
    provider_ref: str | None


async def delivery_state(
    uow: UnitOfWork, principal: Principal, value: str, roles: tuple[Role, ...]
) -> DeliveryState:
    """The delivery's status; unknown ids and other apps' deliveries get the same 404."""
    missing = NotFound("no notification with this id", field="notificationId")
    parts = split_delivery_id(value)
    if parts is None:
        raise missing
    notification_id, registration_id = parts
    notification = await uow.notifications.get(notification_id)
    if notification is None or not _may_see(principal, notification.app_id, roles):
        raise missing
    app = await uow.apps.get(notification.app_id)
    if app is None:
        raise missing
    record = await uow.deliveries.get(notification_id, registration_id)
    if record is not None:
        return DeliveryState(
            value,
            notification_id,
            registration_id,
            app.name,
            record.platform,
            record.status,
            record.code if record.status.is_final else ResultCode.QUEUED,
            record.reason,
            record.provider_ref,
        )
    # Not attempted yet: queued while the notification is still being delivered to an
    # active registration of its app; once it is finished, the delivery never happened.
    registration = await uow.registrations.get(notification.app_id, registration_id)
    if registration is None or not registration.active or notification.state in _FINISHED:
        raise missing
    return DeliveryState(
        value,
        notification_id,
        registration_id,
        app.name,
        registration.platform.value,
        DeliveryStatus.QUEUED,
        ResultCode.QUEUED,
        None,
        None,
    )


def _may_see(principal: Principal, app_id: int, roles: tuple[Role, ...]) -> bool:
    if principal.is_admin:
        return True
    return principal.app_id == app_id and any(grants(principal.roles, r) for r in roles)


@dataclass(frozen=True, slots=True)
class ErrorGroup:
    code: ResultCode
    reason: str
    count: int


MAX_ERROR_GROUPS = 50


async def error_breakdown(uow: UnitOfWork, app_id: int, notification_id: str) -> list[ErrorGroup]:
    """The notification's errors so far by result code and provider reason (the funnel's
    "error by reason"), most frequent first."""
    if await uow.notifications.get(notification_id, app_id) is None:
        raise NotFound("no notification with this id", field="id")
    groups = await uow.deliveries.error_counts(notification_id, MAX_ERROR_GROUPS)
    return [ErrorGroup(ResultCode(code), reason, n) for code, reason, n in groups]
