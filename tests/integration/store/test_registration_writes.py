"""Registration writes on SQLite and PostgreSQL: the one-statement path and the UnitOfWork path
must agree, never duplicate, and keep one bad write from failing its neighbours."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from pushgate.domain.platforms import Platform
from pushgate.domain.records import RegistrationFilter, RegistrationWrite
from pushgate.errors import NotFound
from pushgate.services.registrations import register_device
from pushgate.store.engine import Database
from pushgate.store.uow import unit_of_work

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)


async def _app(db: Database, name: str = "app") -> int:
    async with unit_of_work(db) as uow:
        return (await uow.apps.create(name, "", NOW)).id


async def test_twenty_concurrent_upserts_of_one_token_make_one_registration(
    database: Database,
) -> None:
    app_id = await _app(database)

    async def one(index: int) -> str:
        # Half take the one-statement path, half the UnitOfWork path (topics named).
        topics = ("news",) if index % 2 else None
        write = RegistrationWrite(values={"user_name": f"u{index}"}, topics=topics)
        registration, _ = await register_device(database, app_id, "fcm", "same", write, NOW)
        return registration.id

    ids = await asyncio.gather(*(one(i) for i in range(20)))
    assert len(set(ids)) == 1
    async with unit_of_work(database, readonly=True) as uow:
        rows = await uow.registrations.list_page(app_id, RegistrationFilter(), after=None, limit=50)
    assert [r.token for r in rows] == ["same"]


async def test_fast_path_rows_read_back_identically_through_sqlalchemy(
    database: Database,
) -> None:
    app_id = await _app(database)
    write = RegistrationWrite(values={"user_name": "alice", "locale": "de-DE", "sandbox": True})
    created, was_created = await register_device(database, app_id, "ios", "tok", write, NOW)
    assert was_created
    async with unit_of_work(database, readonly=True) as uow:
        stored = await uow.registrations.get(app_id, created.id)
    assert stored == created
    assert stored.created_at == NOW
    assert stored.platform is Platform.APNS
    assert stored.sandbox is True
    assert stored.active is True


async def test_update_keeps_unnamed_fields_and_reactivates(database: Database) -> None:
    app_id = await _app(database)
    first, _ = await register_device(
        database,
        app_id,
        "fcm",
        "t",
        RegistrationWrite(values={"user_name": "a", "locale": "fr"}),
        NOW,
    )
    later = NOW + timedelta(minutes=5)
    async with unit_of_work(database) as uow:
        await uow.registrations.update(
            app_id, first.id, {"active": False, "deactivated_at": later}, later
        )
    again, created = await register_device(
        database, app_id, "gcm", "t", RegistrationWrite(values={"user_name": "b"}), later
    )
    assert not created
    assert again.id == first.id
    assert (again.user_name, again.locale) == ("b", "fr")
    assert again.active is True
    assert again.deactivated_at is None
    assert again.created_at == NOW
    assert again.updated_at == later


async def test_a_write_for_a_vanished_app_fails_alone(database: Database) -> None:
    app_id = await _app(database)
    missing_app = app_id + 1000

    async def write(target: int, token: str) -> object:
        try:
            await register_device(database, target, "fcm", token, RegistrationWrite({}), NOW)
        except NotFound as exc:
            return exc
        return "ok"

    outcomes = await asyncio.gather(
        *(write(missing_app if i == 5 else app_id, f"t{i}") for i in range(12))
    )
    assert isinstance(outcomes[5], NotFound)
    assert outcomes[5].field == "app"
    assert [o for i, o in enumerate(outcomes) if i != 5] == ["ok"] * 11


async def test_concurrent_upserts_of_mixed_shapes_each_get_their_own_row(
    database: Database,
) -> None:
    app_id = await _app(database)
    shapes: list[dict[str, object]] = [
        {"user_name": "u"},
        {"locale": "fr-FR", "sandbox": True},
        {},
        {"device_model": "Pixel", "user_name": "v", "email": "v@example.com"},
    ]

    async def one(index: int) -> tuple[int, object]:
        values = {
            k: f"{v}{index}" if isinstance(v, str) else v for k, v in shapes[index % 4].items()
        }
        registration, created = await register_device(
            database, app_id, "fcm", f"tok-{index}", RegistrationWrite(values=values), NOW
        )
        assert created
        assert registration.token == f"tok-{index}"
        for name, value in values.items():
            assert getattr(registration, name) == value
        return index, registration.id

    results = await asyncio.gather(*(one(i) for i in range(60)))
    assert len({registration_id for _, registration_id in results}) == 60


async def test_reregistration_returns_the_sets_a_read_returns(database: Database) -> None:
    app_id = await _app(database)
    full = RegistrationWrite(
        values={"user_uuid": "u1"}, topics=("sport", "news"), capabilities=("chat",)
    )
    created, _ = await register_device(database, app_id, "ios", "tok", full, NOW)
    await register_device(
        database, app_id, "ios", "tok", RegistrationWrite(values={"user_uuid": "u2"}), NOW
    )
    later = NOW + timedelta(seconds=1)
    plain = RegistrationWrite(values={"locale": "de"})  # the one-statement path
    again, was_created = await register_device(database, app_id, "apns", "tok", plain, later)
    assert not was_created
    assert again.topics == ("news", "sport")
    assert again.capabilities == ("chat",)
    assert again.user_uuid_history == ("u1", "u2")
    async with unit_of_work(database, readonly=True) as uow:
        assert await uow.registrations.get(app_id, created.id) == again
