"""Bulk registration writes for imports: a batch of upserts in one transaction.

An import sends up to a thousand registrations a request; written one by one (even on the
one-statement path of store/fast.py) that is a thousand statements. Here a batch is one
transaction: rows grouped by shape (the fields they name — a CSV's columns, so one shape a
batch in practice), each group one driver call:

* SQLite: the keys that already exist are read first (one indexed IN per platform), then
  one `executemany` of the single-row upsert. The transaction holds SQLite's write lock
  (BEGIN IMMEDIATE), so nothing can insert between the read and the write.
* PostgreSQL: `INSERT ... SELECT FROM unnest($n::type[]) ON CONFLICT DO UPDATE RETURNING`,
  as store/postgres_writer.py does for concurrent single upserts: one round trip for the
  group; RETURNING tells which rows were new even under concurrent writers.

Topics, capabilities and the user-id history are then diffed against what the updated rows
had (one read per table) and changed with one executemany each. Upsert semantics are the
single write's: named fields change, the others are kept, a device registering again is
active again. The keys of one call must be distinct (the caller splits repeats into rounds:
PostgreSQL refuses a statement that touches one row twice).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Table, bindparam, delete, select, text

from pushgate.domain.ids import new_id
from pushgate.domain.platforms import Platform
from pushgate.store.fast import sqlite_time
from pushgate.store.postgres_writer import array_type
from pushgate.store.repos._base import Repo
from pushgate.store.tables import (
    registration_capabilities,
    subscriptions,
    user_uuid_history,
)

_FIXED = ("id", "app_id", "platform", "token", "created_at", "updated_at", "last_seen_at")
_ACTIVITY = ("active", "deactivated_at", "deactivation_reason")
_CHUNK = 500  # ids per IN (...): far below SQLite's 32,766 variables
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One validated registration write of an import."""

    platform: Platform
    token: str
    values: dict[str, Any]  # the writable fields the row names (RegistrationWrite.values)
    active: bool | None


@dataclass(frozen=True, slots=True)
class Written:
    registration_id: str
    created: bool


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _activity(active: bool | None, now: datetime) -> tuple[bool, datetime | None, str | None]:
    """As the single write: unnamed or true reactivates, false deactivates 'by client'."""
    if active is False:
        return False, now, "deactivated by client"
    return True, None, None


def _updates(names: Iterable[str]) -> str:
    # A device that registers again is alive again (or deactivated, when it says so).
    kept = [*names, "updated_at", "last_seen_at", *_ACTIVITY]
    return ", ".join(f"{n} = excluded.{n}" for n in kept)


class RegistrationImportRepo(Repo):
    async def existing(
        self, app_id: int, keys: Iterable[tuple[Platform, str]]
    ) -> dict[tuple[str, str], str]:
        """{(platform, token): id} of the keys that are registered already."""
        by_platform: dict[str, list[str]] = defaultdict(list)
        for platform, token in keys:
            by_platform[platform.value].append(token)
        found: dict[tuple[str, str], str] = {}
        rows: list[tuple[str, str]]
        for name, tokens in by_platform.items():
            for chunk in _chunks(tokens):
                # Driver SQL: SQLAlchemy's expanding IN costs more than the lookup itself.
                if self.is_sqlite:
                    sql = _SQLITE_EXISTING + ", ".join("?" * len(chunk)) + ")"
                    result = await self.conn.exec_driver_sql(sql, (app_id, name, *chunk))
                    rows = cast("list[tuple[str, str]]", result.all())
                else:
                    driver = await self._driver()
                    rows = await driver.fetch(_POSTGRES_EXISTING, app_id, name, list(chunk))
                for token, rid in rows:
                    found[(name, token)] = rid
        return found

    async def upsert(self, app_id: int, rows: Sequence[ImportRow], now: datetime) -> list[Written]:
        """Insert or update each row by (app, platform, token); keys must be distinct."""
        if self.is_sqlite:
            return await self._upsert_sqlite(app_id, rows, now)
        return await self._upsert_postgres(app_id, rows, now)

    async def _upsert_sqlite(
        self, app_id: int, rows: Sequence[ImportRow], now: datetime
    ) -> list[Written]:
        existing = await self.existing(app_id, ((r.platform, r.token) for r in rows))
        stamp = sqlite_time(now)
        written: list[Written] = []
        groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = defaultdict(list)
        for row in rows:
            found = existing.get((row.platform.value, row.token))
            rid = found or new_id()
            written.append(Written(rid, found is None))
            names = tuple(sorted(row.values))
            active, off_at, reason = _activity(row.active, now)
            groups[names].append(
                (
                    rid,
                    app_id,
                    row.platform.value,
                    row.token,
                    stamp,
                    stamp,
                    stamp,
                    active,
                    sqlite_time(off_at) if off_at else None,
                    reason,
                    *(row.values[n] for n in names),
                )
            )
        for names, params in groups.items():
            await self.conn.exec_driver_sql(_sqlite_upsert(names), params)
        return written

    async def _upsert_postgres(
        self, app_id: int, rows: Sequence[ImportRow], now: datetime
    ) -> list[Written]:
        driver = await self._driver()
        fresh: dict[tuple[str, str], str] = {}
        groups: dict[tuple[str, ...], list[ImportRow]] = defaultdict(list)
        for row in rows:
            fresh[(row.platform.value, row.token)] = new_id()
            groups[tuple(sorted(row.values))].append(row)
        stored: dict[tuple[str, str], str] = {}
        for names, group in groups.items():
            activity = [_activity(row.active, now) for row in group]
            columns: list[list[Any]] = [
                [fresh[(row.platform.value, row.token)] for row in group],
                [row.platform.value for row in group],
                [row.token for row in group],
                *([a[i] for a in activity] for i in range(3)),
                *([row.values[n] for row in group] for n in names),
            ]
            for found in await driver.fetch(_postgres_upsert(names), app_id, now, *columns):
                stored[(found["platform"], found["token"])] = found["id"]
        written = []
        for row in rows:
            key = (row.platform.value, row.token)
            written.append(Written(stored[key], stored[key] == fresh[key]))
        return written

    async def _driver(self) -> Any:
        raw = await self.conn.get_raw_connection()
        driver: Any = raw.driver_connection
        if not driver.is_in_transaction():
            # SQLAlchemy's adapter opens the transaction at its first statement; a raw call
            # before that would autocommit on its own.
            await self.conn.execute(text("SELECT 1"))
        return driver

    async def replace_topics(
        self, wanted: Mapping[str, set[int]], created: set[str], now: datetime
    ) -> None:
        """Make each registration's subscriptions exactly its topic ids."""
        await self._replace_links(_SUBSCRIPTIONS, wanted, created, now)

    async def replace_capabilities(
        self, wanted: Mapping[str, set[str]], created: set[str], now: datetime
    ) -> None:
        await self._replace_links(_CAPABILITIES, wanted, created, now)

    async def record_user_uuids(self, pairs: Sequence[tuple[str, str]], now: datetime) -> None:
        """Remember each (registration, global user id): old ids still find the device."""
        await self._insert_links(_USER_UUIDS, pairs, now)

    async def _replace_links(
        self, link: _Link, wanted: Mapping[str, set[Any]], created: set[str], now: datetime
    ) -> None:
        """The link rows of each registration become exactly `wanted`; registrations in
        `created` are new and have none yet."""
        table = link.table
        value_of = table.c[link.column]
        current: dict[str, set[Any]] = defaultdict(set)
        updated = [rid for rid in wanted if rid not in created]
        for chunk in _chunks(updated):
            stmt = select(table.c.registration_id, value_of).where(
                table.c.registration_id.in_(chunk)
            )
            for rid, value in await self.conn.execute(stmt):
                current[rid].add(value)
        stale = [
            {"rid": rid, "value": value}
            for rid, values in current.items()
            for value in values - wanted[rid]
        ]
        if stale:
            gone = delete(table).where(
                table.c.registration_id == bindparam("rid"), value_of == bindparam("value")
            )
            await self.conn.execute(gone, stale)
        missing = [
            (rid, value)
            for rid, values in wanted.items()
            for value in values - current.get(rid, set())
        ]
        await self._insert_links(link, missing, now)

    async def _insert_links(
        self, link: _Link, pairs: Sequence[tuple[str, Any]], now: datetime
    ) -> None:
        """Insert (registration_id, value[, stamp = now]) rows, skipping those present: one
        executemany on SQLite, one unnest statement on PostgreSQL."""
        if not pairs:
            return
        names = ", ".join(["registration_id", link.column, *([link.stamp] if link.stamp else [])])
        if self.is_sqlite:
            marks = ", ".join("?" * (3 if link.stamp else 2))
            tail = (sqlite_time(now),) if link.stamp else ()
            await self.conn.exec_driver_sql(
                f"INSERT INTO {link.table.name} ({names}) VALUES ({marks}) "  # noqa: S608 - our names  # nosec B608
                "ON CONFLICT DO NOTHING",
                [(*pair, *tail) for pair in pairs],
            )
            return
        stamped = ", $3::timestamptz" if link.stamp else ""
        sql = (
            f"INSERT INTO {link.table.name} ({names}) "  # noqa: S608 - our names  # nosec B608
            f"SELECT r, v{stamped} FROM unnest($1::text[], $2::{link.kind}[]) AS u(r, v) "
            "ON CONFLICT DO NOTHING"
        )
        driver = await self._driver()
        args: list[Any] = [[p[0] for p in pairs], [p[1] for p in pairs]]
        await driver.execute(sql, *args, *([now] if link.stamp else []))


@dataclass(frozen=True, slots=True)
class _Link:
    """A table linking registrations to values: subscriptions, capabilities, user ids."""

    table: Table
    column: str
    kind: str  # its PostgreSQL type
    stamp: str | None  # the column that takes the time of the write


_SUBSCRIPTIONS = _Link(subscriptions, "topic_id", "bigint", "created_at")
_CAPABILITIES = _Link(registration_capabilities, "name", "text", None)
_USER_UUIDS = _Link(user_uuid_history, "user_uuid", "text", "first_seen_at")
_SQLITE_EXISTING = (
    "SELECT token, id FROM registrations WHERE app_id = ? AND platform = ? AND token IN ("
)
_POSTGRES_EXISTING = (
    "SELECT token, id FROM registrations "
    "WHERE app_id = $1 AND platform = $2 AND token = ANY($3::text[])"
)
_SQLITE_STATEMENTS: dict[tuple[str, ...], str] = {}
_POSTGRES_STATEMENTS: dict[tuple[str, ...], str] = {}


def _sqlite_upsert(names: tuple[str, ...]) -> str:
    found = _SQLITE_STATEMENTS.get(names)
    if found is None:
        columns = [*_FIXED, *_ACTIVITY, *names]
        marks = ["?"] * len(columns)
        if "sandbox" not in names:
            columns.append("sandbox")
            marks.append("FALSE")
        found = _SQLITE_STATEMENTS[names] = (
            f"INSERT INTO registrations ({', '.join(columns)}) VALUES ({', '.join(marks)}) "  # noqa: S608 - our column names  # nosec B608
            f"ON CONFLICT (app_id, platform, token) DO UPDATE SET {_updates(names)}"
        )
    return found


def _postgres_upsert(names: tuple[str, ...]) -> str:
    found = _POSTGRES_STATEMENTS.get(names)
    if found is None:
        arrays = ["id", "platform", "token", *_ACTIVITY, *names]
        unnest = ", ".join(f"${i + 3}::{array_type(n)}" for i, n in enumerate(arrays))
        columns = [*_FIXED, *_ACTIVITY, *names]
        selected = ["v.id", "$1::bigint", "v.platform", "v.token"]
        selected += ["$2::timestamptz"] * 3 + [f"v.{n}" for n in (*_ACTIVITY, *names)]
        if "sandbox" not in names:
            columns.append("sandbox")
            selected.append("FALSE")
        found = _POSTGRES_STATEMENTS[names] = (
            f"INSERT INTO registrations ({', '.join(columns)}) "  # noqa: S608 - our column names  # nosec B608
            f"SELECT {', '.join(selected)} FROM unnest({unnest}) AS v({', '.join(arrays)}) "
            f"ON CONFLICT (app_id, platform, token) DO UPDATE SET {_updates(names)} "
            "RETURNING id, platform, token"
        )
    return found
