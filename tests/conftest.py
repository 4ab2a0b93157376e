"""Shared fixtures: a real database per test (SQLite file and PostgreSQL database) and the API.

PostgreSQL tests skip with a one-line reason when the server is unreachable, except when
PUSHGATE_REQUIRE_SERVICES=1 (CI), where they fail.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from pushgate.app import build_runtime, create_app
from pushgate.config import Settings, async_database_url
from pushgate.http.deps import Runtime
from pushgate.store.engine import Database
from pushgate.store.migrations import upgrade
from pushgate.store.tables import metadata

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


async def _postgres_admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(POSTGRES_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        service_unavailable(f"PostgreSQL at {POSTGRES_URL}", str(exc) or type(exc).__name__)
        raise  # unreachable: service_unavailable skips or fails


def run_aside(work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run `work` to completion on a loop of its own in another thread.

    Session fixtures are first requested from inside a test's running event loop, where
    asyncio.run() is refused.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, work()).result()


def postgres_url_of(name: str) -> str:
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session; each test gets a copy (migrating costs ~0.2 s)."""
    path = tmp_path_factory.mktemp("template") / "pushgate.db"

    async def migrate() -> None:
        db = Database(async_database_url(f"sqlite:///{path}"))
        await upgrade(db)
        await db.dispose()

    run_aside(migrate)
    # the last connection closed checkpoints the WAL: the main file alone is the database
    assert not path.with_name(path.name + "-wal").exists(), "template left a WAL behind"
    return path


class PostgresTestDatabase:
    """One migrated PostgreSQL database per session (per xdist worker), emptied after each test.

    Migrating a database takes ~0.4 s and cloning a migrated template ~0.3 s on this machine's
    disk, both nearly all fsyncs; deleting every row of the test's tables (children first) and
    restarting the sequences takes ~30 ms, and leaves the next test exactly what a fresh
    migration does (the migrations insert no rows). Commits skip the wait for the disk
    (synchronous_commit=off, set on this throwaway database only).
    """

    def __init__(self) -> None:
        self.name = "pgtest_" + secrets.token_hex(5)
        self.url = postgres_url_of(self.name)
        children_first = [table.name for table in reversed(metadata.sorted_tables)]
        self._empty = ";".join(f'DELETE FROM "{name}"' for name in children_first)  # noqa: S608

    async def create(self) -> None:
        admin = await _postgres_admin()
        try:
            await admin.execute(f'CREATE DATABASE "{self.name}"')
            await admin.execute(f'ALTER DATABASE "{self.name}" SET synchronous_commit = off')
        finally:
            await admin.close()
        db = Database(async_database_url(self.url), pool_size=1)
        try:
            await upgrade(db)
        finally:
            await db.dispose()

    async def empty(self) -> None:
        """Back to freshly migrated: whatever the last test left connected is cut off first."""
        conn = await asyncpg.connect(self.url, timeout=5)
        try:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            sequences = await conn.fetch("SELECT schemaname, sequencename FROM pg_sequences")
            restarts = [f'ALTER SEQUENCE "{s}"."{n}" RESTART' for s, n in sequences]
            await conn.execute(";".join([self._empty, *restarts]))
        finally:
            await conn.close()

    async def drop(self) -> None:
        admin = await _postgres_admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="session")
def postgres_test_database() -> Iterator[PostgresTestDatabase]:
    database = PostgresTestDatabase()
    run_aside(database.create)
    try:
        yield database
    finally:
        run_aside(database.drop)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
async def database(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Database]:
    """A migrated, empty database of the parametrised backend."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "pushgate.db"
        shutil.copyfile(template, path)
        db = Database(async_database_url(f"sqlite:///{path}"))
        yield db
        await db.dispose()
        return
    shared: PostgresTestDatabase = request.getfixturevalue("postgres_test_database")
    await shared.empty()  # before, not after: a test whose teardown failed leaves no trace
    db = Database(async_database_url(shared.url), pool_size=5)
    try:
        yield db
    finally:
        await db.dispose()


def make_settings(tmp_path: Path, database_url: str | None = None, **overrides: Any) -> Settings:
    return Settings.model_validate(
        {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "admin_key": SecretStr(ADMIN_KEY),
            "master_key": SecretStr(MASTER_KEY),
            # every request re-checks its key: revocation tests see it at once
            "auth_cache_ttl_s": 0,
            # argon2's cheapest parameters: the production cost (~50 ms a hash) is a setting,
            # and paid per user and per sign-in it was a tenth of the suite's time
            "password_hash_memory_kib": 8,
            "password_hash_passes": 1,
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


_SHARED_APPS: dict[int, FastAPI] = {}


def shared_app(runtime: Runtime) -> FastAPI:
    """The ASGI app, built once per process (per body limit) and pointed at this runtime.

    FastAPI builds the state of every included route on the first request an app serves:
    ~0.5 s of CPU for pushgate's routes, which per test was a third of the suite's time. The
    app keeps nothing of its own between requests but the runtime it is given here (the only
    setting create_app reads when handed a runtime is the body limit).
    """
    app = _SHARED_APPS.get(runtime.settings.max_body_bytes)
    if app is None:
        app = _SHARED_APPS[runtime.settings.max_body_bytes] = create_app(runtime.settings, runtime)
    app.state.runtime = runtime
    return app


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = shared_app(runtime)
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
