"""SQLite's side of the hot upsert: one writer thread, group commit.

SQLite has one writer at a time, so statements that queue while the writer is busy are
committed together: one thread hand-off and one commit for the whole group, each statement
keeping its own result or error (a failed statement is undone alone; the group commits).
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_MAX_GROUP = 256  # statements per commit: bounds the latency a group adds


class SqliteGroupWriter:
    """One thread, one connection: runs queued statements as one transaction per group."""

    def __init__(
        self, path: str, write_gate: asyncio.Lock | None, max_pages: int | None = None
    ) -> None:
        self._path = path
        self._max_pages = max_pages
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
                # Any other error (SQLITE_FULL among them) fails the whole group: SQLite may
                # already have rolled the transaction back, so no statement of it is kept.
            conn.execute("COMMIT")
        except BaseException:
            conn.rollback()
            raise
        return outcomes

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=True)
            for pragma in sqlite_pragmas(self._max_pages):
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


def sqlite_pragmas(max_pages: int | None) -> list[str]:
    """What every SQLite connection of ours says first (the pool's and the fast writer's)."""
    pragmas = [
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",  # durable across process crashes in WAL mode
        "PRAGMA foreign_keys=ON",
        "PRAGMA busy_timeout=5000",
    ]
    if max_pages is not None:
        pragmas.append(f"PRAGMA max_page_count={int(max_pages)}")
    return pragmas
