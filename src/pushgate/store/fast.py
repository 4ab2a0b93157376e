"""The hot write path: a registration upsert as one driver-level statement.

Through SQLAlchemy's async adapters an upsert transaction costs ~18 thread hand-offs on
aiosqlite and three round trips (BEGIN, INSERT, COMMIT) on PostgreSQL: ~2 ms, ~500/s
(measured, see bench/registrations.py). The common registration write — no topics,
capabilities or user-id history to change — is a single `INSERT ... ON CONFLICT DO UPDATE
... RETURNING` statement (returning those sets too), which each database runs atomically
on its own: one hand-off to SQLite's thread, one prepared-statement round trip to
PostgreSQL. Everything else keeps to SQLAlchemy Core in a UnitOfWork.

Under load both databases commit concurrent upserts in groups (sqlite_writer.py,
postgres_writer.py): one hand-off or round trip, and one commit, for many registrations.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import make_url

from pushgate.domain.ids import new_id
from pushgate.domain.platforms import Platform
from pushgate.domain.records import Registration
from pushgate.store.postgres_writer import PostgresGroupWriter
from pushgate.store.sqlite_writer import SqliteGroupWriter
from pushgate.store.tables import registrations

_COLUMNS = tuple(c.name for c in registrations.c)
# The columns every upsert sets, in parameter order; the named values follow them.
FIXED_COLUMNS = ("id", "app_id", "platform", "token", "created_at", "updated_at", "last_seen_at")
_TIME_COLUMNS = frozenset(("created_at", "updated_at", "last_seen_at", "deactivated_at"))
_BOOL_COLUMNS = frozenset(("sandbox", "active"))
_SQLITE_ONLY = "sqlite"
_SETS = ("topics", "capabilities", "user_uuid_history")
# A re-registration answers with the device's topics, capabilities and user-id history;
# correlated subqueries in RETURNING read them in the same statement (the upsert changes
# none of them). Sorted as the UnitOfWork path sorts them.
_SUBQUERIES = {
    "topics": "SELECT t.name AS v FROM subscriptions s JOIN topics t ON t.id = s.topic_id "
    "WHERE s.registration_id = registrations.id ORDER BY t.name",
    "capabilities": "SELECT c.name AS v FROM registration_capabilities c "
    "WHERE c.registration_id = registrations.id ORDER BY c.name",
    "user_uuid_history": "SELECT h.user_uuid AS v FROM user_uuid_history h "
    "WHERE h.registration_id = registrations.id ORDER BY h.first_seen_at, h.user_uuid",
}
_POSTGRES_RETURNING = ", ".join(
    [*_COLUMNS, *(f"ARRAY({sql}) AS {name}" for name, sql in _SUBQUERIES.items())]
)
# SQLite has no arrays: each set comes back as a JSON array text.
_SQLITE_RETURNING = ", ".join(
    [
        *_COLUMNS,
        *(
            f"(SELECT json_group_array(v) FROM ({sql})) AS {n}"  # noqa: S608 - our constants  # nosec B608
            for n, sql in _SUBQUERIES.items()
        ),
    ]
)


def sqlite_time(value: datetime) -> str:
    # The exact text SQLAlchemy's SQLite DateTime writes, so both paths read the same rows.
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class FastRegistrationWriter:
    """Owns a driver connection (SQLite) or pool (PostgreSQL) for the hot upsert."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int,
        schema: str | None,
        write_gate: asyncio.Lock | None,
        sqlite_max_pages: int | None = None,
    ) -> None:
        parsed = make_url(url)
        is_sqlite = parsed.get_backend_name() == _SQLITE_ONLY
        self._sqlite_path = parsed.database or ""
        self._sqlite = (
            SqliteGroupWriter(self._sqlite_path, write_gate, sqlite_max_pages)
            if is_sqlite
            else None
        )
        self._postgres = (
            None
            if is_sqlite
            else PostgresGroupWriter(
                parsed.set(drivername="postgresql").render_as_string(hide_password=False),
                pool_size=pool_size,
                schema=schema,
                fixed_columns=FIXED_COLUMNS,
                returning=_POSTGRES_RETURNING,
            )
        )
        self._statements: dict[tuple[str, ...], str] = {}

    async def upsert(
        self, app_id: int, platform: Platform, token: str, values: dict[str, Any], now: datetime
    ) -> tuple[Registration, bool]:
        """Insert or update by (app, platform, token); True when inserted."""
        fresh_id = new_id()
        names = tuple(sorted(values))
        params: list[Any] = [fresh_id, app_id, platform.value, token, now, now, now]
        params += [values[name] for name in names]
        if self._sqlite is not None:
            sql = self._statements.get(names) or self._build(names)
            params = [sqlite_time(p) if isinstance(p, datetime) else p for p in params]
            found = await self._sqlite.execute(sql, params)
            row = dict(zip((*_COLUMNS, *_SETS), found, strict=True))
            for name in _SETS:
                row[name] = json.loads(row[name])
        else:
            assert self._postgres is not None  # noqa: S101 - one of the two is set
            row = await self._postgres.upsert(names, params)
        return _registration(row), row["id"] == fresh_id

    def _build(self, names: tuple[str, ...]) -> str:
        """The one-row SQLite statement for writes naming `names`."""
        insert_names = (*FIXED_COLUMNS, *names)
        marks = ["?"] * len(insert_names)
        defaults = {"active": "TRUE", "sandbox": "FALSE"}
        extra = [(n, v) for n, v in defaults.items() if n not in names]
        columns = ", ".join([*insert_names, *(n for n, _ in extra)])
        placeholders = ", ".join([*marks, *(v for _, v in extra)])
        # A device that registers again is alive again, whatever deactivated it before.
        updates = [f"{n} = excluded.{n}" for n in (*names, "updated_at", "last_seen_at")]
        updates += ["active = TRUE", "deactivated_at = NULL", "deactivation_reason = NULL"]
        sql = (
            f"INSERT INTO registrations ({columns}) VALUES ({placeholders}) "  # noqa: S608 - names are our column names  # nosec B608
            f"ON CONFLICT (app_id, platform, token) DO UPDATE SET {', '.join(updates)} "
            f"RETURNING {_SQLITE_RETURNING}"
        )
        self._statements[names] = sql
        return sql

    async def close(self) -> None:
        if self._sqlite is not None:
            await self._sqlite.close()
        if self._postgres is not None:
            await self._postgres.close()


def _registration(row: dict[str, Any]) -> Registration:
    for name in _TIME_COLUMNS:
        value = row[name]
        if isinstance(value, str):
            row[name] = datetime.fromisoformat(value).replace(tzinfo=UTC)
    for name in _BOOL_COLUMNS:
        row[name] = bool(row[name])
    for name in _SETS:
        row[name] = tuple(row[name])
    row["platform"] = Platform(row["platform"])
    return Registration(**row)
