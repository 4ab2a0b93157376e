"""Alembic migrations, run programmatically: `pushgate migrate`, `serve` start-up and tests."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from pushgate.store.engine import Database

_HERE = Path(__file__).parent


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.attributes["connection"] = connection
    return config


async def upgrade(db: Database, revision: str = "head") -> None:
    """Create or upgrade the schema to `revision` in one transaction."""

    def _run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    async with db.connect() as conn:
        await conn.run_sync(_run)


async def current_revision(db: Database) -> str | None:
    from alembic.migration import MigrationContext

    def _read(connection: Connection) -> str | None:
        # Reading the revision is not news: keep alembic's "Context impl ..." line quiet.
        quiet = logging.getLogger("alembic.runtime.migration")
        level = quiet.level
        quiet.setLevel(logging.WARNING)
        try:
            return MigrationContext.configure(connection).get_current_revision()
        finally:
            quiet.setLevel(level)

    async with db.connect(readonly=True) as conn:
        return await conn.run_sync(_read)


def head_revision() -> str | None:
    """The newest revision this code knows (what `migrate` upgrades to)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
