"""PostgreSQL refusing a connection for lack of resources ("too many connections", SQLSTATE
53300) is an outage to retry after, answered 503 like any other, never a 500 (seen under
load: "sorry, too many clients already"). A role with CONNECTION LIMIT 0 is refused every
connection the same way."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from pushgate.config import async_database_url
from pushgate.domain.platforms import Platform
from pushgate.errors import StorageUnavailable
from pushgate.store.engine import Database
from tests.conftest import _postgres_admin, postgres_url_of

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]
ROLE = "pushgate_no_connections"


@pytest.fixture
async def refused_db(
    postgres_test_database: object,  # the shared test database exists (or is skipped)
) -> AsyncIterator[Database]:
    admin: asyncpg.Connection = await _postgres_admin()
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", ROLE)
        if not exists:
            # Another pytest worker may create it meanwhile.
            with contextlib.suppress(asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
                await admin.execute(f"CREATE ROLE {ROLE} LOGIN CONNECTION LIMIT 0")
    finally:
        await admin.close()
    url = postgres_url_of("test").replace("://postgres@", f"://{ROLE}@", 1)
    db = Database(async_database_url(url), pool_size=1)
    try:
        yield db
    finally:
        await db.dispose()


async def test_too_many_connections_is_storage_unavailable(refused_db: Database) -> None:
    with pytest.raises(StorageUnavailable):
        async with refused_db.connect(readonly=True) as conn:
            await conn.exec_driver_sql("SELECT 1")
    with pytest.raises(StorageUnavailable):
        await refused_db.fast_upsert(1, Platform.APNS, "ab", {}, datetime.now(UTC))
    assert not await refused_db.ping()
