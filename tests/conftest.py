"""Shared fixtures: a real database per test (SQLite file and PostgreSQL schema) and the API.

PostgreSQL tests skip with a one-line reason when the server is unreachable, except when
PUSHGATE_REQUIRE_SERVICES=1 (CI), where they fail.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from pushgate.app import build_runtime, create_app
from pushgate.config import Settings, async_database_url
from pushgate.http.deps import Runtime
from pushgate.store.engine import Database
from pushgate.store.migrations import upgrade

POSTGRES_URL = os.environ.get(
    "PUSHGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_SERVICES = os.environ.get("PUSHGATE_REQUIRE_SERVICES") == "1"
ADMIN_KEY = "pga_test-admin-key-" + secrets.token_hex(8)
MASTER_KEY = "x" * 43 + "="  # a valid Fernet key (32 bytes of 0xc7), tests only


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def service_unavailable(what: str, reason: str) -> None:
    """Skip outside CI, fail in CI: a missing server must never turn CI green."""
    message = f"{what} unreachable: {reason}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (PUSHGATE_REQUIRE_SERVICES=1)")
    pytest.skip(message)


class PostgresSchema:
    """A fresh schema in the test database, dropped afterwards."""

    def __init__(self) -> None:
        self.name = "t_" + secrets.token_hex(6)

    async def create(self) -> None:
        try:
            conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
        except (OSError, asyncpg.PostgresError) as exc:
            service_unavailable(f"PostgreSQL at {POSTGRES_URL}", str(exc) or type(exc).__name__)
        try:
            await conn.execute(f'CREATE SCHEMA "{self.name}"')
        finally:
            await conn.close()

    async def drop(self) -> None:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')
        finally:
            await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
async def database(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database of the parametrised backend."""
    if backend == "sqlite":
        db = Database(async_database_url(f"sqlite:///{tmp_path / 'pushgate.db'}"))
        await upgrade(db)
        yield db
        await db.dispose()
        return
    schema = PostgresSchema()
    await schema.create()
    db = Database(async_database_url(POSTGRES_URL), schema=schema.name, pool_size=5)
    try:
        await upgrade(db)
        yield db
    finally:
        await db.dispose()
        await schema.drop()


def make_settings(tmp_path: Path, database_url: str | None = None, **overrides: Any) -> Settings:
    return Settings.model_validate(
        {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "admin_key": SecretStr(ADMIN_KEY),
            "master_key": SecretStr(MASTER_KEY),
            # every request re-checks its key: revocation tests see it at once
            "auth_cache_ttl_s": 0,
            **overrides,
        }
    )


class FixedClock:
    """Time injected into services; tests move it explicitly."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def runtime(database: Database, tmp_path: Path) -> Runtime:
    built, _ = await build_runtime(make_settings(tmp_path), db=database)
    return built


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime.settings, runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pushgate.test") as http:
        yield http


@pytest.fixture
def admin() -> dict[str, str]:
    return {"X-API-Key": ADMIN_KEY}


REDIS_URL = os.environ.get("PUSHGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own on the test Redis; its keys are deleted afterwards."""
    import redis.asyncio as redis_async
    from redis.exceptions import RedisError

    client = redis_async.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        service_unavailable(f"Redis at {REDIS_URL}", str(exc) or type(exc).__name__)
    prefix = "pgtest-" + secrets.token_hex(6)
    try:
        yield prefix
    finally:
        keys = [key async for key in client.scan_iter(match=prefix + ":*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def wait_for(
    condition: Callable[[], Awaitable[bool]], *, timeout_s: float = 10.0, what: str = "condition"
) -> None:
    """Poll `condition` until it holds; fail after `timeout_s` (a deadline, not a sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await condition():
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.02)
