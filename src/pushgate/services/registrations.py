"""Device registrations: upsert by (app, platform, token), queries, topics of a device."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from pushgate.domain.events import EventKind
from pushgate.domain.names import check_topic_name
from pushgate.domain.platforms import Platform, resolve_platform
from pushgate.domain.records import Registration, RegistrationFilter, RegistrationWrite
from pushgate.errors import Forbidden, InvalidInput, MissingField, NotFound
from pushgate.providers.addresses import UnresolvableHost, check_push_endpoint
from pushgate.providers.base import ProviderOptions
from pushgate.services.events import record_device_event
from pushgate.store.engine import Database
from pushgate.store.uow import UnitOfWork, unit_of_work

MAX_TOKEN_LENGTH = 2048
_ENDPOINT_CHECK_S = 2.0  # DNS for the registration-time SSRF check


def _check_token(token: str) -> str:
    # Shape is the provider's business (a bad token fails at send and is deactivated then);
    # we only refuse what cannot be a token of any provider.
    # isprintable() is False for control characters, separators but the ASCII space, NUL
    # and lone surrogates, in one C-level pass (this is the hot registration path).
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isprintable() or " " in token:
        raise InvalidInput(
            f"must be 1-{MAX_TOKEN_LENGTH} printable characters without white space",
            field="token",
        )
    return token


def check_token(token: str) -> str:
    """A token any provider could have (its shape is the provider's business): else 400."""
    return _check_token(token)


async def check_endpoint_token(platform: Platform, token: str, options: ProviderOptions) -> None:
    """A Web Push endpoint is an address the worker will call: refuse private ones (SSRF).

    A name that does not resolve now, or not quickly, passes: the adapter checks again at
    every send, which is the check that counts.
    """
    # WNS channel URIs are URLs too, but vendor APIs register opaque WNS tokens (MobileFirst's
    # "W"): token shapes are the provider's business, checked at send (the adapter's guard).
    if platform is not Platform.WEBPUSH:
        return
    try:
        async with asyncio.timeout(_ENDPOINT_CHECK_S):
            await check_push_endpoint(
                token,
                allow_private=options.allow_private_addresses,
                allow_hosts=options.allowed_hosts,
            )
    except (UnresolvableHost, TimeoutError):
        return


async def register_device(
    db: Database,
    app_id: int,
    platform_name: str,
    token: str,
    write: RegistrationWrite,
    now: datetime,
    *,
    endpoints: ProviderOptions | None = None,
) -> tuple[Registration, bool]:
    """Create or update the registration of (app, platform, token); True when created."""
    resolved = resolve_platform(platform_name)
    _check_token(token)
    await check_endpoint_token(resolved.platform, token, endpoints or ProviderOptions())
    values = dict(write.values)
    if resolved.sandbox is not None:
        values.setdefault("sandbox", resolved.sandbox)
    write = replace(write, values=values)
    _check_topics(write.topics)
    if _fits_one_statement(resolved.platform, write) and not await _wants_device_events(db, app_id):
        return await db.fast_upsert(app_id, resolved.platform, token, write.values, now)
    async with unit_of_work(db) as uow:
        registration, created = await _register(uow, app_id, resolved.platform, token, write, now)
        kind = EventKind.DEVICE_REGISTERED if created else EventKind.DEVICE_UPDATED
        await record_device_event(uow, kind, registration, now)
        return registration, created


_REGISTRATION_KINDS = frozenset({"*", EventKind.DEVICE_REGISTERED, EventKind.DEVICE_UPDATED})


async def _wants_device_events(db: Database, app_id: int) -> bool:
    """A webhook of the app wants registration events: the write must record them (the
    one-statement path cannot), so it takes the UnitOfWork path."""
    return bool(await db.event_interest.kinds(db, app_id) & _REGISTRATION_KINDS)


async def wants_device_events(db: Database, app_id: int) -> bool:
    """The same question for the bulk import (services/registration_import.py)."""
    return await _wants_device_events(db, app_id)


def as_user(write: RegistrationWrite, user_name: str) -> RegistrationWrite:
    """A device's own write, signed in as `user_name`: the registration carries that user.

    Naming another user is refused, not silently overridden.
    """
    named = write.values.get("user_name", user_name)
    if named != user_name:
        raise Forbidden("a user may only register devices of its own", field="user")
    return replace(write, values={**write.values, "user_name": user_name})


def _fits_one_statement(platform: Platform, write: RegistrationWrite) -> bool:
    """Writes that touch only the registration row take the one-statement path."""
    simple = write.topics is None and write.capabilities is None and write.active is None
    needs_keys = platform is Platform.WEBPUSH and not (
        write.values.get("p256dh") and write.values.get("auth_secret")
    )
    return simple and not write.values.get("user_uuid") and not needs_keys


async def _register(
    uow: UnitOfWork,
    app_id: int,
    platform: Platform,
    token: str,
    write: RegistrationWrite,
    now: datetime,
) -> tuple[Registration, bool]:
    try:
        registration, created = await uow.registrations.upsert(app_id, platform, token, write, now)
    except IntegrityError:
        # The app vanished between authentication (cached) and this write.
        raise NotFound("no app with this name", field="app") from None
    if (
        created
        and platform is Platform.WEBPUSH
        and not (registration.p256dh and registration.auth_secret)
    ):
        raise MissingField("a Web Push subscription needs keys.p256dh and keys.auth", field="keys")
    await _apply_sets(uow, app_id, registration.id, write, now, fresh=created)
    user_uuid = write.values.get("user_uuid")
    if user_uuid:
        await uow.registrations.record_user_uuid(registration.id, user_uuid, now)
    if not created:
        return await uow.registrations.load_extras(registration), created
    # A new registration holds exactly what this write gave it: no need to read it back.
    return replace(
        registration,
        topics=tuple(sorted(set(write.topics or ()))),
        capabilities=tuple(sorted(set(write.capabilities or ()))),
        user_uuid_history=(user_uuid,) if user_uuid else (),
    ), created


async def update_registration(
    uow: UnitOfWork, app_id: int, registration_id: str, write: RegistrationWrite, now: datetime
) -> Registration:
    """Change the fields the write names; platform and token are the identity and stay."""
    _check_topics(write.topics)
    values: dict[str, Any] = dict(write.values)
    if write.active is not None:
        values["active"] = write.active
        values["deactivated_at"] = None if write.active else now
        values["deactivation_reason"] = None if write.active else "deactivated by client"
    if not await uow.registrations.update(app_id, registration_id, values, now):
        raise NotFound("no registration with this id", field="id")
    await _apply_sets(uow, app_id, registration_id, write, now, fresh=False)
    if write.values.get("user_uuid"):
        await uow.registrations.record_user_uuid(registration_id, write.values["user_uuid"], now)
    updated = await get_registration(uow, app_id, registration_id)
    await record_device_event(uow, EventKind.DEVICE_UPDATED, updated, now)
    return updated


async def get_registration(uow: UnitOfWork, app_id: int, registration_id: str) -> Registration:
    registration = await uow.registrations.get(app_id, registration_id)
    if registration is None:
        raise NotFound("no registration with this id", field="id")
    return registration


async def list_registrations(
    uow: UnitOfWork, app_id: int, where: RegistrationFilter, *, after: str | None, limit: int
) -> list[Registration]:
    return await uow.registrations.list_page(app_id, where, after=after, limit=limit)


async def delete_registration(
    uow: UnitOfWork, app_id: int, registration_id: str, now: datetime | None = None
) -> None:
    found = await uow.registrations.get(app_id, registration_id)
    if found is None or not await uow.registrations.delete(app_id, registration_id):
        raise NotFound("no registration with this id", field="id")
    if now is not None:
        await record_device_event(uow, EventKind.DEVICE_DELETED, found, now)


async def subscribe(
    uow: UnitOfWork, app_id: int, registration_id: str, topic: str, now: datetime
) -> Registration:
    """Subscribe the registration to the topic, creating the topic when missing."""
    before = await get_registration(uow, app_id, registration_id)
    topic_ids = await uow.topics.ensure(app_id, [check_topic_name(topic, field="topic")], now)
    await uow.topics.subscribe(registration_id, topic_ids[topic], now)
    after = await get_registration(uow, app_id, registration_id)
    if topic not in before.topics:
        await record_device_event(uow, EventKind.DEVICE_SUBSCRIBED, after, now, topic=topic)
    return after


async def unsubscribe(
    uow: UnitOfWork, app_id: int, registration_id: str, topic: str, now: datetime | None = None
) -> None:
    registration = await get_registration(uow, app_id, registration_id)
    found = await uow.topics.get(app_id, topic)
    if found is None or not await uow.topics.unsubscribe(registration_id, found.id):
        raise NotFound("the registration is not subscribed to this topic", field="topic")
    if now is not None:
        await record_device_event(
            uow, EventKind.DEVICE_UNSUBSCRIBED, registration, now, topic=topic
        )


def _check_topics(names: tuple[str, ...] | None) -> None:
    for index, name in enumerate(names or ()):
        check_topic_name(name, field=f"topics[{index}]")


async def _apply_sets(
    uow: UnitOfWork,
    app_id: int,
    registration_id: str,
    write: RegistrationWrite,
    now: datetime,
    *,
    fresh: bool,
) -> None:
    if write.topics is not None:
        topic_ids = await uow.topics.ensure(app_id, write.topics, now)
        await uow.topics.replace_subscriptions(
            registration_id, topic_ids.values(), now, fresh=fresh
        )
    if write.capabilities is not None:
        await uow.registrations.replace_capabilities(
            registration_id, write.capabilities, fresh=fresh
        )
