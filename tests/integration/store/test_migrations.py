"""The migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from pushgate.store.engine import Database
from pushgate.store.migrations import current_revision, head_revision, upgrade
from pushgate.store.tables import metadata

pytestmark = pytest.mark.anyio


async def test_migrated_schema_matches_the_tables(database: Database) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection)
        return list(compare_metadata(context, metadata))

    async with database.connect(readonly=True) as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


async def test_upgrade_is_idempotent_and_reports_head(database: Database) -> None:
    await upgrade(database)  # already at head: a no-op, not an error
    assert await current_revision(database) == head_revision() == "0008"
