"""What every repository shares: its connection and the dialect's INSERT ... ON CONFLICT."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


class Repo:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.is_sqlite = conn.dialect.name == "sqlite"

    def upsert_insert(self, table: Table) -> Any:
        """An INSERT that supports on_conflict_do_update/do_nothing on either database."""
        return sqlite.insert(table) if self.is_sqlite else postgresql.insert(table)
