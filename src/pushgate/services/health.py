"""The health of a deployment: database, queue, and each provider as seen from here.

A provider is DEGRADED while a credential of it is suspect (the mass-invalidation guard) or
many of its deliveries wait for a retry (answers of 429, 5xx or no answer), else UP; nothing
is sent to a provider to find out.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import redis.asyncio as redis_async
from redis.exceptions import RedisError

from pushgate.errors import StorageUnavailable
from pushgate.services.credential_checks import PROVIDERS
from pushgate.store.engine import Database
from pushgate.store.uow import unit_of_work

RETRY_BACKLOG = 1000  # deliveries waiting for a retry on one provider: DEGRADED
_PING_S = 2.0


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    state: str
    retrying: int
    suspect_credentials: int


@dataclass(frozen=True, slots=True)
class Health:
    database: bool
    queue: bool
    providers: dict[str, ProviderHealth]

    @property
    def up(self) -> bool:
        return self.database and self.queue


async def _redis_up(url: str) -> bool:
    client = redis_async.from_url(url, socket_connect_timeout=_PING_S, socket_timeout=_PING_S)
    try:
        async with asyncio.timeout(_PING_S):
            return bool(await client.ping())
    except (RedisError, OSError, TimeoutError):
        return False
    finally:
        await client.aclose()


async def check(db: Database, *, redis_url: str | None) -> Health:
    """The database answers; the queue (the database's table, or Redis) answers; per
    provider, its retry backlog and suspect credentials."""
    database = await db.ping()
    queue = await _redis_up(redis_url) if redis_url else database
    retrying: dict[str, int] = {}
    suspect: dict[str, int] = {}
    if database:
        try:
            async with unit_of_work(db, readonly=True) as uow:
                retrying = await uow.health.retrying()
                suspect = await uow.health.suspect_credentials()
        except StorageUnavailable:
            database = False
    providers = {}
    for provider in PROVIDERS:
        waiting = sum(n for p, n in retrying.items() if p.startswith(provider))
        bad = suspect.get(provider, 0)
        state = "DEGRADED" if bad or waiting >= RETRY_BACKLOG else "UP"
        providers[provider] = ProviderHealth(state if database else "UNKNOWN", waiting, bad)
    return Health(database, queue, providers)
