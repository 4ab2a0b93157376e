"""Fresh databases for tests that run pushgate in other processes, and fast seeding."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg

from pushgate.config import async_database_url
from pushgate.domain.ids import new_id
from pushgate.store.engine import Database
from pushgate.store.migrations import upgrade
from pushgate.store.uow import unit_of_work
from tests.conftest import POSTGRES_URL, service_unavailable


@asynccontextmanager
async def fresh_postgres() -> AsyncIterator[str]:
    """A new, migrated PostgreSQL database on the test server; its URL. Dropped afterwards."""
    name = "pushgate_e2e_" + secrets.token_hex(5)
    try:
        admin = await asyncpg.connect(POSTGRES_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        service_unavailable(f"PostgreSQL at {POSTGRES_URL}", str(exc) or type(exc).__name__)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
        db = Database(async_database_url(url), pool_size=2)
        await upgrade(db)
        await db.dispose()
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def seed_topic(db: Database, app_id: int, topic: str, count: int, now: datetime) -> None:
    """`count` iOS registrations (tokens 0..count-1 in hex) subscribed to `topic`."""
    async with unit_of_work(db) as uow:
        topic_id = (await uow.topics.ensure(app_id, [topic], now))[topic]
    for start in range(0, count, 10_000):
        rows: list[tuple[Any, ...]] = []
        subs: list[tuple[Any, ...]] = []
        for i in range(start, min(start + 10_000, count)):
            rid = new_id()
            rows.append((rid, app_id, "apns", f"{i:064x}", now, now, now, False, True))
            subs.append((rid, topic_id, now))
        async with unit_of_work(db) as uow:
            r = "registrations (id, app_id, platform, token, created_at, updated_at, last_seen_at, "
            if db.is_sqlite:
                text = [
                    (*row[:4], *(t.strftime("%Y-%m-%d %H:%M:%S.%f") for t in row[4:7]), 0, 1)
                    for row in rows
                ]
                await uow.conn.exec_driver_sql(
                    f"INSERT INTO {r}sandbox, active) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                    text,
                )
                await uow.conn.exec_driver_sql(
                    "INSERT INTO subscriptions VALUES (?, ?, ?)",
                    [(s[0], s[1], s[2].strftime("%Y-%m-%d %H:%M:%S.%f")) for s in subs],
                )
            else:
                await uow.conn.exec_driver_sql(
                    f"INSERT INTO {r}sandbox, active) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",  # noqa: S608
                    rows,
                )
                await uow.conn.exec_driver_sql(
                    "INSERT INTO subscriptions VALUES ($1, $2, $3)", subs
                )
