"""The database handle: an async engine plus, on SQLite, the in-process writer gate."""

from __future__ import annotations

import asyncio
import errno
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
from pushgate.errors import InvalidInput, NotFound, StorageFull, StorageUnavailable
from pushgate.store.event_interest import EventInterest
from pushgate.store.fast import FastRegistrationWriter
from pushgate.store.sqlite_writer import sqlite_pragmas

_READONLY = "pushgate_readonly"
_SQLITE_FULL = 13  # SQLITE_FULL, the primary result code (the low byte of an extended one)
_POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full
_UNREACHABLE = "the database is unreachable; retry shortly"
_FULL = "storage full: the database has no space left for this write; nothing of it was kept"


class Database:
    """Owns the engine. Built by the composition root, passed to services through UnitOfWork."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 20,
        echo: bool = False,
        schema: str | None = None,
        sqlite_max_pages: int | None = None,
    ) -> None:
        """`sqlite_max_pages` caps a SQLite database's size (PRAGMA max_page_count on every
        connection): past it writes fail as on a full disk, which tests use to fill a
        database without filling a disk."""
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
            _configure_sqlite(self.engine, sqlite_max_pages)
        self.fast = FastRegistrationWriter(
            url,
            pool_size=pool_size,
            schema=schema,
            write_gate=self._write_gate,
            sqlite_max_pages=sqlite_max_pages,
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
            if _is_full(exc):  # the transaction was rolled back whole: nothing half-written
                raise StorageFull(_FULL) from exc
            if isinstance(exc, DBAPIError) and not _is_unavailable(exc):
                raise
            raise StorageUnavailable(_UNREACHABLE) from exc
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
            asyncpg.InsufficientResourcesError,  # too many connections; disk full
            asyncpg.OperatorInterventionError,  # shutting down, cannot connect now
        ) as exc:
            if _is_full(exc):  # its group's transaction was rolled back whole
                raise StorageFull(_FULL) from exc
            raise StorageUnavailable(_UNREACHABLE) from exc

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


def _is_full(exc: BaseException) -> bool:
    """No space for the write: SQLite's SQLITE_FULL (disk full, or max_page_count reached),
    PostgreSQL's disk_full, or ENOSPC from the OS. Like an outage it passes (StorageFull is a
    StorageUnavailable, so workers retry later), but callers are told why."""
    orig = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    if isinstance(orig, sqlite3.Error):
        return bool(getattr(orig, "sqlite_errorcode", 0) & 0xFF == _SQLITE_FULL)
    if isinstance(orig, OSError):
        return orig.errno == errno.ENOSPC
    return bool(getattr(orig, "sqlstate", None) == _POSTGRES_DISK_FULL)


# SQLSTATE classes that mean "try later": 08 connection exception, 53 insufficient resources
# (too many connections, out of memory), 57 operator intervention (shutting down, cannot
# connect now). Seen under load: "sorry, too many clients already" was a 500.
_RETRY_LATER_SQLSTATE_CLASSES = frozenset({"08", "53", "57"})


def _is_unavailable(exc: DBAPIError) -> bool:
    # Connection loss and "database is locked"/"disk full" mean "try later"; constraint and
    # syntax errors are bugs or conflicts and must surface as they are.
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
    return (
        bool(exc.connection_invalidated)
        or isinstance(exc, OperationalError)
        or sqlstate[:2] in _RETRY_LATER_SQLSTATE_CLASSES
    )


def _configure_sqlite(engine: AsyncEngine, max_pages: int | None) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so we can say BEGIN IMMEDIATE for writers.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in sqlite_pragmas(max_pages):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get(_READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")
