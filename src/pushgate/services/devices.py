"""A device managing itself, signed in as its app user (the SAP seed's runtime API).

The device names itself by (platform, device id); pushgate keys registrations by (platform,
token). One device of one user has one registration per platform: registering a new token
under the same device id replaces the old registration instead of leaving a stale one beside
it. The registration carries the user's name and the user's global user id, whose earlier
values stay searchable (history). A device may report receipts only for its own deliveries.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from pushgate.domain.notifications import NotificationState, split_delivery_id
from pushgate.domain.platforms import Platform
from pushgate.domain.records import Registration, RegistrationFilter, RegistrationWrite
from pushgate.domain.roles import Role
from pushgate.domain.statuses import DeliveryStatus
from pushgate.errors import Conflict, NotFound
from pushgate.providers.base import ProviderOptions
from pushgate.services import notifications, registrations
from pushgate.services.auth import Principal
from pushgate.services.user_auth import UserPrincipal
from pushgate.store.engine import Database
from pushgate.store.repos.deliveries import DeliveryRecord
from pushgate.store.uow import UnitOfWork, unit_of_work

_MAX_PER_DEVICE = 100  # registrations one (user, platform, device id) can have (normally one)


@dataclass(frozen=True, slots=True)
class Device:
    """A device as it names itself: its user, platform and device id."""

    user: UserPrincipal
    platform: Platform
    device_id: str

    def where(self) -> RegistrationFilter:
        return RegistrationFilter(
            user_name=self.user.user_name, platform=self.platform, device_id=self.device_id
        )


async def register(
    db: Database,
    device: Device,
    platform_name: str,
    token: str,
    write: RegistrationWrite,
    now: datetime,
    *,
    endpoints: ProviderOptions | None = None,
) -> tuple[Registration, bool]:
    """Create or update the device's registration; True when the device was new."""
    app_id = device.user.app_id
    async with unit_of_work(db, readonly=True) as uow:
        user = await uow.users.get(app_id, device.user.user_name)
    values = {**write.values, "device_id": device.device_id}
    if user is not None and user.user_uuid:
        values["user_uuid"] = user.user_uuid  # the identity provider's global user id
    write = registrations.as_user(replace(write, values=values), device.user.user_name)
    registration, created = await registrations.register_device(
        db, app_id, platform_name, token, write, now, endpoints=endpoints
    )
    async with unit_of_work(db) as uow:
        replaced = [r for r in await _registrations(uow, device) if r.id != registration.id]
        for stale in replaced:
            await registrations.delete_registration(uow, app_id, stale.id, now)
    return registration, created and not replaced


async def update(
    uow: UnitOfWork, device: Device, write: RegistrationWrite, now: datetime
) -> Registration:
    """Change the fields the write names on the device's registration (404 when none)."""
    found = await get(uow, device)
    write = registrations.as_user(write, device.user.user_name)
    return await registrations.update_registration(uow, device.user.app_id, found.id, write, now)


async def get(uow: UnitOfWork, device: Device) -> Registration:
    found = await _registrations(uow, device)
    if not found:
        raise NotFound("this user has no registration with this device id", field="deviceId")
    return found[-1]  # the newest


async def delete(uow: UnitOfWork, device: Device, now: datetime) -> None:
    """Unregister the device (each of its registrations: a device.deleted event each)."""
    found = await _registrations(uow, device)
    if not found:
        raise NotFound("this user has no registration with this device id", field="deviceId")
    for registration in found:
        await registrations.delete_registration(uow, device.user.app_id, registration.id, now)


async def subscribe(uow: UnitOfWork, device: Device, topic: str, now: datetime) -> Registration:
    """Subscribe the device to the topic (created when missing); idempotent."""
    found = await get(uow, device)
    return await registrations.subscribe(uow, device.user.app_id, found.id, topic, now)


async def unsubscribe(uow: UnitOfWork, device: Device, topic: str) -> None:
    found = await get(uow, device)
    await registrations.unsubscribe(uow, device.user.app_id, found.id, topic)


async def _registrations(uow: UnitOfWork, device: Device) -> list[Registration]:
    return await uow.registrations.list_page(
        device.user.app_id, device.where(), after=None, limit=_MAX_PER_DEVICE
    )


async def report_receipt(
    uow: UnitOfWork, user: UserPrincipal, value: str, reported: DeliveryStatus, now: datetime
) -> DeliveryRecord:
    """The device reports RECEIVED, CONSUMED or CONFIRMED for a delivery to one of its user's
    registrations; reporting the status it already has changes nothing."""
    missing = NotFound("no notification of this device with this id", field="notificationId")
    parts = split_delivery_id(value)
    if parts is None:
        raise missing
    notification = await uow.notifications.get(parts[0], user.app_id)
    registration = await uow.registrations.get(user.app_id, parts[1])
    if notification is None or registration is None or registration.user_name != user.user_name:
        raise missing
    record = await uow.deliveries.get(*parts)
    if record is None:
        if notification.state in (NotificationState.DONE, NotificationState.CANCELLED):
            raise missing
        raise Conflict(
            "not sent yet; report the receipt once it is",
            field="status",
            details={"retry_after_s": 1},
        )
    if record.status is reported:
        return record
    # The user owns the registration: the receipt is recorded as its app's own.
    as_app = Principal(
        user.app_id, user.app_name, frozenset({Role.REGISTRATIONS_WRITE}), f"user:{user.user_name}"
    )
    return await notifications.report_receipt(uow, as_app, value, reported, now)
