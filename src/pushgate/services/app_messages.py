"""Messages as MobileFirst's API sends them: to devices, users, tags or platforms of an app,
as push, SMS or both, then read back or deleted by id.

A target names devices (by device id), or users and/or tags, or nothing (the whole app);
`platforms` narrows any of them. The channel decides which registrations of those devices
are reached: push (their provider tokens), SMS (the registrations of their phone numbers),
or both. Every message is one notification, sent the ordinary way (services/notifications.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from pushgate.delivery.engine import DeliveryEngine
from pushgate.domain.notifications import Notification, NotificationRequest
from pushgate.domain.payload import DeliveryOptions, Message
from pushgate.domain.platforms import Platform
from pushgate.domain.targets import MAX_LISTED, Target, TargetKind, check_target
from pushgate.errors import InvalidInput, NotFound
from pushgate.services import notifications
from pushgate.services.notifications import Accepted
from pushgate.store.uow import UnitOfWork, unit_of_work

PUSH_PLATFORMS = frozenset(p for p in Platform if p is not Platform.SMS)


class Channel(IntEnum):
    """MobileFirst's notificationType."""

    PUSH = 1
    SMS = 2
    BOTH = 3


@dataclass(frozen=True, slots=True)
class MessageTarget:
    device_ids: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()
    tag_names: tuple[str, ...] = ()
    platforms: frozenset[Platform] = frozenset()  # empty: every push platform
    channel: Channel = Channel.PUSH


class AppDisabled(InvalidInput):
    """The app's `enabled` is false: it takes no new messages."""


class UnknownDevices(NotFound):
    pass


class UnknownTag(NotFound):
    pass


def _platforms(spec: MessageTarget) -> frozenset[Platform]:
    push = spec.platforms or PUSH_PLATFORMS
    if spec.channel is Channel.SMS:
        return frozenset({Platform.SMS})
    if spec.channel is Channel.BOTH:
        return push | {Platform.SMS}
    return push


async def _target(uow: UnitOfWork, app_id: int, spec: MessageTarget) -> Target:
    platforms = _platforms(spec)
    if spec.device_ids:
        if spec.user_ids or spec.tag_names:
            raise InvalidInput(
                "deviceIds cannot be combined with userIds or tagNames", field="target.deviceIds"
            )
        ids = await uow.message_records.registrations_of_devices(app_id, spec.device_ids)
        if not ids:
            raise UnknownDevices("none of the deviceIds is a device", field="target.deviceIds")
        return Target(TargetKind.REGISTRATIONS, registration_ids=tuple(ids), platforms=platforms)
    if spec.tag_names:
        for name in spec.tag_names:
            if await uow.topics.get(app_id, name) is None:
                raise UnknownTag("no tag with this name", field="target.tagNames")
        return Target(
            TargetKind.TOPICS, topics=spec.tag_names, users=spec.user_ids, platforms=platforms
        )
    if spec.user_ids:
        return Target(TargetKind.USERS, users=spec.user_ids, platforms=platforms)
    return Target(TargetKind.APP, platforms=platforms)


async def send_message(
    engine: DeliveryEngine,
    app_id: int,
    message: Message,
    options: DeliveryOptions,
    spec: MessageTarget,
    now: datetime,
) -> Notification:
    """Accept the message (202 territory: delivery goes on after the answer)."""
    for name, values in (
        ("deviceIds", spec.device_ids),
        ("userIds", spec.user_ids),
        ("tagNames", spec.tag_names),
    ):
        if len(values) > MAX_LISTED:
            raise InvalidInput(f"lists at most {MAX_LISTED} entries", field=f"target.{name}")
    async with unit_of_work(engine.db, readonly=True) as uow:
        if not await uow.app_flags.enabled(app_id):
            raise AppDisabled("the application is disabled", field="enabled")
        target = check_target(await _target(uow, app_id, spec))
    request = NotificationRequest(target, message, options)
    accepted = await notifications.accept(
        engine, app_id, request, idempotency_key=None, body_hash=None, now=now
    )
    # Without an Idempotency-Key there is no replay; the type admits one.
    assert isinstance(accepted, Accepted)  # noqa: S101
    return accepted.notification


def channel_of(notification: Notification) -> Channel:
    platforms = notification.request().target.platforms
    if platforms == {Platform.SMS}:
        return Channel.SMS
    return Channel.BOTH if Platform.SMS in platforms else Channel.PUSH


async def get_message(uow: UnitOfWork, app_id: int, message_id: str) -> Notification:
    return await notifications.get_notification(uow, app_id, message_id)


async def delete_message(uow: UnitOfWork, app_id: int, message_id: str, now: datetime) -> None:
    """Forget the message: cancelled first if it has not started, then removed with its
    deliveries (a message still being sent stops: its remaining work finds nothing)."""
    found = await notifications.get_notification(uow, app_id, message_id)
    await uow.notifications.cancel(app_id, found.id, now)
    await uow.message_records.delete(app_id, found.id)
