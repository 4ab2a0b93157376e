"""The hot write path: a registration upsert as one driver-level statement.

Through SQLAlchemy's async adapters an upsert transaction costs ~18 thread hand-offs on
aiosqlite and three round trips (BEGIN, INSERT, COMMIT) on PostgreSQL: ~2 ms, ~500/s
(measured, see bench/registrations.py). The common registration write — no topics,
capabilities or user-id history to maintain — is a single `INSERT ... ON CONFLICT DO UPDATE
... RETURNING` statement, which each database runs atomically on its own: one hand-off to
SQLite's thread, one prepared-statement round trip to PostgreSQL. Everything else keeps to
SQLAlchemy Core in a UnitOfWork.

On SQLite, writes are one at a time anyway, so upserts that arrive while the writer is busy
are committed together: one thread hand-off and one commit for the whole group (group
commit), each statement keeping its own result or error.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from pushgate.domain.ids import new_id
from pushgate.domain.platforms import Platform
from pushgate.domain.records import Registration
from pushgate.store.tables import registrations

_COLUMNS = tuple(c.name for c in registrations.c)
_TIME_COLUMNS = frozenset(("created_at", "updated_at", "last_seen_at", "deactivated_at"))
_BOOL_COLUMNS = frozenset(("sandbox", "active"))
_SQLITE_ONLY = "sqlite"
_MAX_GROUP = 256  # upserts per SQLite commit: bounds the latency a group adds


def _sqlite_time(value: datetime) -> str:
    # The exact text SQLAlchemy's SQLite DateTime writes, so both paths read the same rows.
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class FastRegistrationWriter:
    """Owns a driver connection (SQLite) or pool (PostgreSQL) for the hot upsert."""

    def __init__(
        self, url: str, *, pool_size: int, schema: str | None, write_gate: asyncio.Lock | None
    ) -> None:
        parsed = make_url(url)
        is_sqlite = parsed.get_backend_name() == _SQLITE_ONLY
        self._sqlite_path = parsed.database or ""
        self._dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool_size = pool_size
        self._schema = schema
        self._pool: asyncpg.Pool | None = None
        self._sqlite = _SqliteGroupWriter(self._sqlite_path, write_gate) if is_sqlite else None
        self._opening = asyncio.Lock()
        self._statements: dict[tuple[str, ...], str] = {}

    async def upsert(
        self, app_id: int, platform: Platform, token: str, values: dict[str, Any], now: datetime
    ) -> tuple[Registration, bool]:
        """Insert or update by (app, platform, token); True when inserted."""
        fresh_id = new_id()
        names = tuple(sorted(values))
        sql = self._statements.get(names) or self._build(names)
        params: list[Any] = [fresh_id, app_id, platform.value, token, now, now, now]
        params += [values[name] for name in names]
        if self._sqlite is not None:
            params = [_sqlite_time(p) if isinstance(p, datetime) else p for p in params]
            row = dict(zip(_COLUMNS, await self._sqlite.execute(sql, params), strict=True))
        else:
            pool = await self._postgres_pool()
            record = await pool.fetchrow(sql, *params)
            assert record is not None  # noqa: S101 - RETURNING always yields the row
            row = dict(record)
        return _registration(row), row["id"] == fresh_id

    def _build(self, names: tuple[str, ...]) -> str:
        fixed = ("id", "app_id", "platform", "token", "created_at", "updated_at", "last_seen_at")
        insert_names = (*fixed, *names)
        count = len(insert_names)
        marks = ["?"] * count if self._sqlite is not None else [f"${i + 1}" for i in range(count)]
        defaults = {"active": "TRUE", "sandbox": "FALSE"}
        extra = [(n, v) for n, v in defaults.items() if n not in names]
        columns = ", ".join([*insert_names, *(n for n, _ in extra)])
        placeholders = ", ".join([*marks, *(v for _, v in extra)])
        # A device that registers again is alive again, whatever deactivated it before.
        updates = [f"{n} = excluded.{n}" for n in (*names, "updated_at", "last_seen_at")]
        updates += ["active = TRUE", "deactivated_at = NULL", "deactivation_reason = NULL"]
        sql = (
            f"INSERT INTO registrations ({columns}) VALUES ({placeholders}) "  # noqa: S608 - names are our column names
            f"ON CONFLICT (app_id, platform, token) DO UPDATE SET {', '.join(updates)} "
            f"RETURNING {', '.join(_COLUMNS)}"
        )
        self._statements[names] = sql
        return sql

    async def _postgres_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    settings = {"search_path": self._schema} if self._schema else None
                    self._pool = await asyncpg.create_pool(
                        self._dsn,
                        min_size=1,
                        max_size=self._pool_size,
                        server_settings=settings,
                        reset=_keep_session,
                    )
        return self._pool

    async def close(self) -> None:
        if self._sqlite is not None:
            await self._sqlite.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


class _SqliteGroupWriter:
    """One thread, one connection: runs queued statements as one transaction per group."""

    def __init__(self, path: str, write_gate: asyncio.Lock | None) -> None:
        self._path = path
        self._gate = write_gate or asyncio.Lock()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="pushgate-sqlite-writer")
        self._conn: sqlite3.Connection | None = None
        self._queue: list[tuple[str, list[Any], asyncio.Future[tuple[Any, ...]]]] = []
        self._draining = False

    async def execute(self, sql: str, params: list[Any]) -> tuple[Any, ...]:
        """Run one statement in the next group; its first row."""
        future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        self._queue.append((sql, params, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                group, self._queue = self._queue[:_MAX_GROUP], self._queue[_MAX_GROUP:]
                statements = [(sql, params) for sql, params, _ in group]
                try:
                    async with self._gate:
                        outcomes = await loop.run_in_executor(
                            self._executor, self._run_group, statements
                        )
                except (sqlite3.Error, OSError) as exc:  # BEGIN or COMMIT failed: all fail
                    outcomes = [exc] * len(group)
                for (_, _, future), outcome in zip(group, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._draining = False

    def _run_group(self, statements: list[tuple[str, list[Any]]]) -> list[Any]:
        conn = self._connection()
        outcomes: list[Any] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                try:
                    outcomes.append(conn.execute(sql, params).fetchone())
                except sqlite3.IntegrityError as exc:  # only this statement is undone
                    outcomes.append(exc)
            conn.execute("COMMIT")
        except BaseException:
            conn.rollback()
            raise
        return outcomes

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=True)
            for pragma in (
                "PRAGMA journal_mode=WAL",
                "PRAGMA synchronous=NORMAL",
                "PRAGMA foreign_keys=ON",
                "PRAGMA busy_timeout=5000",
            ):
                conn.execute(pragma)
            self._conn = conn
        return self._conn

    async def close(self) -> None:
        def _close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._executor, _close)
        self._executor.shutdown(wait=True)


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """asyncpg's default reset costs a round trip per release (RESET ALL, UNLISTEN...).

    This pool only ever runs single autocommit statements that leave no session state.
    """


def _registration(row: dict[str, Any]) -> Registration:
    for name in _TIME_COLUMNS:
        value = row[name]
        if isinstance(value, str):
            row[name] = datetime.fromisoformat(value).replace(tzinfo=UTC)
    for name in _BOOL_COLUMNS:
        row[name] = bool(row[name])
    row["platform"] = Platform(row["platform"])
    return Registration(**row)
