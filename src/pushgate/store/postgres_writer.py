"""PostgreSQL's side of the hot upsert: concurrent upserts as one multi-row statement.

Upserts that arrive while others are in flight are gathered by shape (the set of columns
they name) into `INSERT ... SELECT FROM unnest($1::text[], ...) ON CONFLICT DO UPDATE
RETURNING`: one round trip and one WAL flush for the group instead of one per registration.
A statement may not touch one row twice, so a second upsert of the same (app, platform,
token) waits for the next group. When a group fails on a constraint (an app deleted
meanwhile), its rows are retried one by one so only the offending one fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from pushgate.store.tables import registrations

_MAX_GROUP = 512  # rows per statement: bounds the latency a group adds
_IN_FLIGHT = 4  # groups on the wire at once; more only queue on the database's cores


@dataclass(slots=True)
class _Pending:
    names: tuple[str, ...]
    key: tuple[Any, ...]
    params: list[Any]
    future: asyncio.Future[dict[str, Any]]


_ARRAY_TYPES = {"app_id": "bigint[]", "sandbox": "boolean[]", "active": "boolean[]"}


def array_type(column: str) -> str:
    """The unnest() parameter type of a registrations column (all others are text)."""
    if column not in registrations.c:
        raise ValueError(f"not a registrations column: {column}")
    return _ARRAY_TYPES.get(column, "timestamptz[]" if column.endswith("_at") else "text[]")


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """asyncpg's default reset costs a round trip per release (RESET ALL, UNLISTEN...).

    This pool only ever runs single autocommit statements that leave no session state.
    """


class PostgresGroupWriter:
    def __init__(
        self,
        dsn: str,
        *,
        pool_size: int,
        schema: str | None,
        fixed_columns: Sequence[str],
        returning: str,
    ) -> None:
        self._dsn = dsn
        self._pool_size = pool_size
        self._schema = schema
        self._fixed = tuple(fixed_columns)
        self._returning = returning
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self._slots = asyncio.Semaphore(_IN_FLIGHT)
        self._queue: list[_Pending] = []
        self._draining = False
        self._statements: dict[tuple[str, ...], str] = {}

    async def upsert(self, names: tuple[str, ...], params: list[Any]) -> dict[str, Any]:
        """Params are the fixed columns then `names`; returns the stored row."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(names, (params[1], params[2], params[3]), params, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                await self._slots.acquire()  # while we wait, more upserts join the queue
                groups, self._queue = self._take_groups(self._queue)
                for group in groups:
                    task = asyncio.get_running_loop().create_task(self._run(group))
                    task.add_done_callback(lambda _t: self._slots.release())
                    await self._slots.acquire()
                self._slots.release()
        finally:
            self._draining = False

    @staticmethod
    def _take_groups(queue: list[_Pending]) -> tuple[list[list[_Pending]], list[_Pending]]:
        """Split up to _MAX_GROUP pending upserts by shape; repeated keys stay queued."""
        groups: dict[tuple[str, ...], list[_Pending]] = {}
        seen: set[tuple[Any, ...]] = set()
        rest: list[_Pending] = []
        for index, pending in enumerate(queue):
            if index >= _MAX_GROUP or pending.key in seen:
                rest.append(pending)
                continue
            seen.add(pending.key)
            groups.setdefault(pending.names, []).append(pending)
        return list(groups.values()), rest

    async def _run(self, group: list[_Pending]) -> None:
        try:
            rows = await self._execute(group[0].names, [p.params for p in group])
        except asyncpg.IntegrityConstraintViolationError as exc:
            if len(group) == 1:
                group[0].future.set_exception(exc)
                return
            await asyncio.gather(*(self._run([pending]) for pending in group))
            return
        except Exception as exc:
            for pending in group:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            return
        by_key = {(r["app_id"], r["platform"], r["token"]): dict(r) for r in rows}
        for pending in group:
            if not pending.future.done():
                pending.future.set_result(by_key[pending.key])

    async def _execute(self, names: tuple[str, ...], rows: list[list[Any]]) -> list[Any]:
        sql = self._statements.get(names) or self._build(names)
        columns = [list(values) for values in zip(*rows, strict=True)]
        pool = await self._connect()
        return list(await pool.fetch(sql, *columns))

    def _build(self, names: tuple[str, ...]) -> str:
        insert_names = (*self._fixed, *names)
        arrays = ", ".join(f"${i + 1}::{array_type(name)}" for i, name in enumerate(insert_names))
        defaults = [("active", "TRUE")] + ([("sandbox", "FALSE")] if "sandbox" not in names else [])
        columns = ", ".join([*insert_names, *(n for n, _ in defaults)])
        selected = ", ".join([*(f"v.{n}" for n in insert_names), *(v for _, v in defaults)])
        # A device that registers again is alive again, whatever deactivated it before.
        updates = [f"{n} = excluded.{n}" for n in (*names, "updated_at", "last_seen_at")]
        updates += ["active = TRUE", "deactivated_at = NULL", "deactivation_reason = NULL"]
        sql = (
            f"INSERT INTO registrations ({columns}) "  # noqa: S608 - names are our column names  # nosec B608
            f"SELECT {selected} FROM unnest({arrays}) AS v({', '.join(insert_names)}) "
            f"ON CONFLICT (app_id, platform, token) DO UPDATE SET {', '.join(updates)} "
            f"RETURNING {self._returning}"
        )
        self._statements[names] = sql
        return sql

    async def _connect(self) -> asyncpg.Pool:
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
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
