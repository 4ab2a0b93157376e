"""The webhook-interest cache the registration upsert asks: one database read per app per
expiry, however many requests find it expired at once (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from pushgate.store.engine import Database
from pushgate.store.event_interest import EventInterest
from pushgate.store.uow import unit_of_work

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


async def _app_with_webhook(db: Database, kinds: tuple[str, ...]) -> int:
    async with unit_of_work(db) as uow:
        app_id = (await uow.apps.create("app", "", NOW)).id
        await uow.webhooks.create(app_id, "hook", "https://hooks.example/in", kinds, "sealed", NOW)
    return app_id


async def test_requests_finding_the_entry_expired_share_one_read(database: Database) -> None:
    app_id = await _app_with_webhook(database, ("device.registered",))
    interest = EventInterest(ttl_s=0.0)  # expired at every look that finds no read under way
    found = await asyncio.gather(*(interest.kinds(database, app_id) for _ in range(64)))
    assert set(found) == {frozenset({"device.registered"})}
    # Before, each of the 64 read on its own (a burst of reads waiting for pool connections).
    assert interest.reads == 1


async def test_a_webhook_changed_during_a_read_is_not_hidden_by_it(database: Database) -> None:
    app_id = await _app_with_webhook(database, ("device.registered",))
    interest = EventInterest(ttl_s=60.0)
    reading = asyncio.ensure_future(interest.kinds(database, app_id))
    await asyncio.sleep(0)  # one turn of the loop: the read has begun (a yield, not a wait)
    interest.forget(app_id)  # a webhook of the app changed in this process meanwhile
    assert await reading == frozenset({"device.registered"})
    await interest.kinds(database, app_id)
    assert interest.reads == 2  # the read begun before the change was not cached
