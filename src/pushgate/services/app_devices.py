"""Devices of an app by device id, as MobileFirst's back-end API manages them.

A device is the registration of its push token (platform and token) that carries its device
id, plus, when the device has a phone number, an SMS registration of that number with the
same device id: `notificationType` 2 (SMS) reaches the latter. Tags (topics) a device is
subscribed to are subscribed by both, so an SMS to a tag reaches the subscribed devices'
phones. Writing a device with a new token (or number) replaces its registration and carries
its subscriptions over; the device id is unique among these devices of an app.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pushgate.domain.events import EventKind
from pushgate.domain.filters import FieldFilter
from pushgate.domain.names import check_topic_name
from pushgate.domain.platforms import Platform
from pushgate.domain.records import Registration, RegistrationFilter, RegistrationWrite
from pushgate.errors import InvalidInput, MissingField, NotFound
from pushgate.providers.base import ProviderOptions
from pushgate.services.events import record_device_event
from pushgate.services.registrations import check_endpoint_token, check_token
from pushgate.store.repos.listings import registration_of
from pushgate.store.uow import UnitOfWork

T = TypeVar("T")
PUSH_PLATFORMS = {"A": Platform.APNS, "G": Platform.FCM, "W": Platform.WNS}
MAX_USER_FOR_TAGS = 254  # the seed: a subscription of a device whose userId is longer is 400
_MAX_PER_DEVICE = 50


def platform_letter(platform: Platform) -> str:
    """MobileFirst's letter for a platform (the canonical name when it has none)."""
    if platform in (Platform.APNS, Platform.APNS_VOIP):
        return "A"
    return {Platform.FCM: "G", Platform.WNS: "W"}.get(platform, platform.value)


@dataclass(frozen=True, slots=True)
class AppDevice:
    device_id: str
    push: Registration
    phone: Registration | None  # the SMS registration of its phone number


@dataclass(frozen=True, slots=True)
class DeviceWrite:
    """What a POST or PUT names; None leaves a field as it is ("" removes a phone number)."""

    platform: str | None = None
    token: str | None = None
    phone_number: str | None = None
    user: str | None = None
    user_agent: str | None = None


def _push_platform(name: str) -> Platform:
    platform = PUSH_PLATFORMS.get(name.strip().upper())
    if platform is None:
        raise InvalidInput("must be A (Apple), G (Google) or W (Windows)", field="platform")
    return platform


def _identity(current: Registration | None, write: DeviceWrite) -> tuple[Platform, str]:
    """The platform and token the device will have: the write's, else its current ones."""
    if write.platform:
        platform = _push_platform(write.platform)
    elif current is not None:
        platform = current.platform
    else:
        raise MissingField("a new device needs its platform", field="platform")
    if write.token:
        return platform, check_token(write.token)
    if current is None:
        raise MissingField("a new device needs its token", field="token")
    return platform, current.token


async def find_device(uow: UnitOfWork, app_id: int, device_id: str) -> AppDevice | None:
    found = await uow.registrations.list_page(
        app_id, RegistrationFilter(device_id=device_id), after=None, limit=_MAX_PER_DEVICE
    )
    pushes = [r for r in found if r.platform is not Platform.SMS]
    phones = [r for r in found if r.platform is Platform.SMS]
    if not pushes:
        return None
    return AppDevice(device_id, pushes[-1], phones[-1] if phones else None)


async def get_device(uow: UnitOfWork, app_id: int, device_id: str) -> AppDevice:
    found = await find_device(uow, app_id, device_id)
    if found is None:
        raise NotFound("no device with this id", field="deviceId")
    return found


async def save_device(
    uow: UnitOfWork,
    app_id: int,
    device_id: str,
    write: DeviceWrite,
    now: datetime,
    *,
    create: bool,
    endpoints: ProviderOptions | None = None,
) -> tuple[AppDevice, bool]:
    """Create (when `create`) or update the device; True when it was created."""
    existing = await find_device(uow, app_id, device_id)
    if existing is None and not create:
        raise NotFound("no device with this id", field="deviceId")
    platform, token = _identity(existing.push if existing else None, write)
    await check_endpoint_token(platform, token, endpoints or ProviderOptions())
    values: dict[str, Any] = {"device_id": device_id}
    if write.user is not None:
        values["user_name"] = write.user or None
    if write.user_agent is not None:
        values["device_model"] = write.user_agent or None
    push_values = dict(values)
    if platform is Platform.APNS:
        # The app's APNs environment (MobileFirst's apnsConf isSandBox), kept as the app's
        # push platform "A".
        named = await uow.platforms.get(app_id, "A")
        push_values["sandbox"] = bool(named and named.sandbox)
    push, _ = await uow.registrations.upsert(
        app_id, platform, token, RegistrationWrite(push_values), now
    )
    topics = await _replace(uow, app_id, existing.push if existing else None, push, now)
    phone = await _save_phone(uow, app_id, existing, write, values, topics, now)
    device = AppDevice(device_id, await uow.registrations.load_extras(push), phone)
    kind = EventKind.DEVICE_REGISTERED if existing is None else EventKind.DEVICE_UPDATED
    await record_device_event(uow, kind, device.push, now)
    return device, existing is None


async def _replace(
    uow: UnitOfWork, app_id: int, old: Registration | None, new: Registration, now: datetime
) -> tuple[str, ...]:
    """Carry the old registration's topics over to its replacement; the device's topics."""
    if old is None:
        return new.topics
    if old.id != new.id:
        await _subscribe_all(uow, app_id, [new], old.topics, now)
        await uow.registrations.delete(app_id, old.id)
    return tuple(sorted(set(old.topics) | set(new.topics)))


async def _save_phone(
    uow: UnitOfWork,
    app_id: int,
    existing: AppDevice | None,
    write: DeviceWrite,
    values: dict[str, Any],
    topics: tuple[str, ...],
    now: datetime,
) -> Registration | None:
    old = existing.phone if existing else None
    if write.phone_number is None:
        if old is not None and len(values) > 1:  # the user or user agent changed
            await uow.registrations.update(app_id, old.id, dict(values), now)
            return await uow.registrations.get(app_id, old.id)
        return old
    if write.phone_number == "":
        if old is not None:
            await uow.registrations.delete(app_id, old.id)
        return None
    number = check_token(write.phone_number)
    phone, _ = await uow.registrations.upsert(
        app_id, Platform.SMS, number, RegistrationWrite(dict(values)), now
    )
    if old is not None and old.id != phone.id:
        await uow.registrations.delete(app_id, old.id)
    await _subscribe_all(uow, app_id, [phone], topics, now)
    return await uow.registrations.get(app_id, phone.id)


async def _subscribe_all(
    uow: UnitOfWork,
    app_id: int,
    targets: list[Registration],
    names: tuple[str, ...],
    now: datetime,
) -> None:
    if not names:
        return
    ids = await uow.topics.ensure(app_id, names, now)
    for registration in targets:
        for name in names:
            await uow.topics.subscribe(registration.id, ids[name], now)


async def delete_device(uow: UnitOfWork, app_id: int, device_id: str, now: datetime) -> None:
    """Delete the device's registrations (its subscriptions go with them)."""
    device = await get_device(uow, app_id, device_id)
    for registration in (device.push, device.phone):
        if registration is not None:
            await uow.registrations.delete(app_id, registration.id)
    await record_device_event(uow, EventKind.DEVICE_DELETED, device.push, now)


@dataclass(frozen=True, slots=True)
class Subscription:
    device: AppDevice
    tag: str
    topic_id: int
    created_at: datetime | None

    @property
    def subscription_id(self) -> str:
        return subscription_id(self.device.push.id, self.topic_id)


def subscription_id(registration_id: str, topic_id: int) -> str:
    """A subscription's public id: its device registration's id and its topic's."""
    return f"{registration_id}-{topic_id}"


def _split_subscription_id(value: str) -> tuple[str, int] | None:
    registration_id, sep, topic = value.partition("-")
    if not sep or len(registration_id) != 32 or not topic.isdigit() or len(topic) > 18:
        return None
    return registration_id, int(topic)


async def subscribe(
    uow: UnitOfWork, app_id: int, device_id: str, tag: str, now: datetime
) -> Subscription:
    """Subscribe the device (its push and SMS registrations) to the tag, created when new."""
    device = await get_device(uow, app_id, device_id)
    if device.push.user_name is not None and len(device.push.user_name) > MAX_USER_FOR_TAGS:
        raise InvalidInput(
            f"the device's userId is longer than {MAX_USER_FOR_TAGS} characters", field="userId"
        )
    name = check_topic_name(tag, field="tagName")
    already = name in device.push.topics
    registrations = [r for r in (device.push, device.phone) if r is not None]
    await _subscribe_all(uow, app_id, registrations, (name,), now)
    topic = await uow.topics.get(app_id, name)
    assert topic is not None  # noqa: S101 - ensured just now
    if not already:
        await record_device_event(uow, EventKind.DEVICE_SUBSCRIBED, device.push, now, topic=name)
    return Subscription(device, name, topic.id, now)


async def get_subscription(uow: UnitOfWork, app_id: int, value: str) -> Subscription:
    missing = NotFound("no subscription with this id", field="subscriptionId")
    parts = _split_subscription_id(value)
    if parts is None:
        raise missing
    registration = await uow.registrations.get(app_id, parts[0])
    if registration is None or registration.device_id is None:
        raise missing
    device = await find_device(uow, app_id, registration.device_id)
    tag = await uow.listings.topic_name(app_id, parts[1])
    if device is None or device.push.id != registration.id or tag not in registration.topics:
        raise missing
    assert tag is not None  # noqa: S101 - in registration.topics
    return Subscription(device, tag, parts[1], None)


async def unsubscribe(uow: UnitOfWork, app_id: int, value: str, now: datetime) -> None:
    """Remove the subscription; the device and the tag stay."""
    found = await get_subscription(uow, app_id, value)
    for registration in (found.device.push, found.device.phone):
        if registration is not None:
            await uow.topics.unsubscribe(registration.id, found.topic_id)
    await record_device_event(
        uow, EventKind.DEVICE_UNSUBSCRIBED, found.device.push, now, topic=found.tag
    )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int


async def list_devices(
    uow: UnitOfWork, app_id: int, where: FieldFilter, *, offset: int, size: int
) -> Page[tuple[Registration, str | None]]:
    """Devices (push registration, phone number) matching the filter, and how many match."""
    page = await uow.listings.devices(app_id, where, offset=offset, size=size)
    return Page([(registration_of(r), r.phone_number) for r in page.rows], page.total)


async def list_subscriptions(
    uow: UnitOfWork, app_id: int, where: FieldFilter, *, offset: int, size: int
) -> Page[Subscription]:
    page = await uow.listings.subscriptions(app_id, where, offset=offset, size=size)
    items = []
    for row in page.rows:
        push = registration_of(row)
        assert push.device_id is not None  # noqa: S101 - devices carry a device id
        items.append(
            Subscription(
                AppDevice(push.device_id, push, None), row.tag_name, row.topic_id, row.subscribed_at
            )
        )
    return Page(items, page.total)
