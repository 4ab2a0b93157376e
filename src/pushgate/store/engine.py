"""The database handle: an async engine plus, on SQLite, the in-process writer gate."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from pushgate.domain.platforms import Platform
from pushgate.domain.records import Registration
from pushgate.domain.text import UNSTORABLE_MESSAGE
from pushgate.errors import InvalidInput, NotFound, StorageUnavailable
from pushgate.store.event_interest import EventInterest
from pushgate.store.fast import FastRegistrationWriter

_READONLY = "pushgate_readonly"


class Database:
    """Owns the engine. Built by the composition root, passed to services through UnitOfWork."""

    def __init__(
        self, url: str, *, pool_size: int = 20, echo: bool = False, schema: str | None = None
    ) -> None:
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                # Private: the file holds key hashes and sealed provider secrets.
                Path(parsed.database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            kwargs["pool_size"] = 8
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
            if schema is not None:  # tests isolate each run in a schema of its own
                kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        # SQLite has one writer at a time. Letting several pooled connections race for the
        # write lock makes them sleep in SQLite's busy handler (up to 100 ms a try), which
        # wrecks p99; queueing writers on one asyncio lock keeps them in order instead.
        # Other processes on the same file still meet busy_timeout.
        self._write_gate: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self.fast = FastRegistrationWriter(
            url, pool_size=pool_size, schema=schema, write_gate=self._write_gate
        )
        # Which apps' webhooks want which events: the hot upsert asks before it takes its path.
        self.event_interest = EventInterest()

    @asynccontextmanager
    async def connect(self, *, readonly: bool = False) -> AsyncIterator[AsyncConnection]:
        """One transaction: committed on normal exit, rolled back on error."""
        if self._write_gate is not None and not readonly:
            async with self._write_gate, self._transaction(readonly=False) as conn:
                yield conn
        else:
            async with self._transaction(readonly=readonly) as conn:
                yield conn

    @asynccontextmanager
    async def _transaction(self, *, readonly: bool) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.connect() as conn:
                if readonly:
                    conn = await conn.execution_options(**{_READONLY: True})
                async with conn.begin():
                    yield conn
        except (OperationalError, OSError, DBAPIError) as exc:
            if _is_unstorable_text(exc):
                raise InvalidInput(UNSTORABLE_MESSAGE) from exc
            if isinstance(exc, DBAPIError) and not _is_unavailable(exc):
                raise
            raise StorageUnavailable("the database is unreachable; retry shortly") from exc
        except UnicodeEncodeError as exc:  # a lone surrogate, which no driver can encode
            raise InvalidInput(UNSTORABLE_MESSAGE) from exc

    async def ping(self) -> bool:
        try:
            async with self.connect(readonly=True) as conn:
                await conn.exec_driver_sql("SELECT 1")
        except StorageUnavailable:
            return False
        return True

    async def fast_upsert(
        self, app_id: int, platform: Platform, token: str, values: dict[str, Any], now: datetime
    ) -> tuple[Registration, bool]:
        """The hot registration upsert (see store/fast.py)."""
        try:
            return await self.fast.upsert(app_id, platform, token, values, now)
        except (sqlite3.IntegrityError, asyncpg.ForeignKeyViolationError):
            # The app vanished between authentication (cached) and this write.
            raise NotFound("no app with this name", field="app") from None
        except (
            UnicodeEncodeError,
            asyncpg.CharacterNotInRepertoireError,
            asyncpg.UntranslatableCharacterError,
        ) as exc:
            raise InvalidInput(UNSTORABLE_MESSAGE) from exc
        except (
            OSError,
            sqlite3.OperationalError,
            asyncpg.PostgresConnectionError,
            asyncpg.CannotConnectNowError,
        ) as exc:
            raise StorageUnavailable("the database is unreachable; retry shortly") from exc

    async def dispose(self) -> None:
        await self.fast.close()
        await self.engine.dispose()


def _is_unstorable_text(exc: Exception) -> bool:
    # The front doors refuse such text first (domain/text.py); this is the net under them, so
    # a value that slipped through is a 400, never a 500.
    orig = getattr(exc, "orig", None)
    return isinstance(
        orig,
        asyncpg.CharacterNotInRepertoireError | asyncpg.UntranslatableCharacterError,
    ) or isinstance(getattr(orig, "__cause__", None), UnicodeEncodeError)


def _is_unavailable(exc: DBAPIError) -> bool:
    # Connection loss and "database is locked"/"disk full" mean "try later"; constraint and
    # syntax errors are bugs or conflicts and must surface as they are.
    return bool(exc.connection_invalidated) or isinstance(exc, OperationalError)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so we can say BEGIN IMMEDIATE for writers.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",  # durable across process crashes in WAL mode
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=5000",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get(_READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")
