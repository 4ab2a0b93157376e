"""What only the admin console reads and writes: its sessions and its chart aggregates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, cast, delete, func, insert, select
from sqlalchemy.sql.elements import ColumnElement

from pushgate.domain.records import ApiKey, App
from pushgate.domain.roles import Role
from pushgate.domain.statuses import DeliveryStatus, ResultCode
from pushgate.store.repos._base import Repo
from pushgate.store.repos.deliveries import DeliveryRecord
from pushgate.store.tables import (
    api_keys,
    apps,
    console_sessions,
    deliveries,
    notifications,
    registrations,
)

_S = console_sessions.c
_D = deliveries.c
_N = notifications.c
# The registration history looks among the app's latest notifications only: deliveries are
# keyed by (notification, registration), so this stays an index walk however old the app is.
HISTORY_NOTIFICATIONS = 500


@dataclass(frozen=True, slots=True)
class StoredSession:
    key_id: int | None
    key_hash: str
    csrf_token: str
    expires_at: datetime
    # The key and its app as they are now; None for admin sessions and for a revoked key.
    key: ApiKey | None
    app: App | None
    current_key_hash: str | None


@dataclass(frozen=True, slots=True)
class Bucket:
    index: int  # bucket number from the start of the window
    label: str  # platform (deliveries) or "" (sends)
    status: int  # DeliveryStatus value; -1 for sends
    count: int


def id_floor(instant: datetime) -> str:
    """The smallest id minted at or after `instant` (ids start with their Unix milliseconds)."""
    return f"{int(instant.timestamp() * 1000):012x}" + "0" * 20


class ConsoleSessionRepo(Repo):
    async def insert(
        self,
        token_hash: str,
        key_id: int | None,
        key_hash: str,
        csrf_token: str,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        await self.conn.execute(
            insert(console_sessions).values(
                token_hash=token_hash,
                key_id=key_id,
                key_hash=key_hash,
                csrf_token=csrf_token,
                created_at=now,
                expires_at=expires_at,
            )
        )

    async def get(self, token_hash: str) -> StoredSession | None:
        stmt = (
            select(
                console_sessions,
                api_keys.c.id.label("k_id"),
                api_keys.c.app_id,
                api_keys.c.alias,
                api_keys.c.roles,
                api_keys.c.key_hash.label("k_hash"),
                api_keys.c.created_at.label("k_created_at"),
                apps.c.name.label("app_name"),
                apps.c.description,
                apps.c.created_at.label("app_created_at"),
                apps.c.updated_at.label("app_updated_at"),
            )
            .select_from(
                console_sessions.outerjoin(api_keys, api_keys.c.id == _S.key_id).outerjoin(
                    apps, apps.c.id == api_keys.c.app_id
                )
            )
            .where(_S.token_hash == token_hash)
        )
        row = (await self.conn.execute(stmt)).first()
        if row is None:
            return None
        key = app = None
        if row.k_id is not None and row.app_name is not None:
            roles = frozenset(Role(r) for r in row.roles.split(",") if r)
            key = ApiKey(row.k_id, row.app_id, row.alias, roles, row.k_created_at)
            app = App(
                row.app_id, row.app_name, row.description, row.app_created_at, row.app_updated_at
            )
        return StoredSession(
            row.key_id, row.key_hash, row.csrf_token, row.expires_at, key, app, row.k_hash
        )

    async def delete(self, token_hash: str) -> None:
        await self.conn.execute(delete(console_sessions).where(_S.token_hash == token_hash))

    async def delete_expired(self, now: datetime) -> int:
        result = await self.conn.execute(delete(console_sessions).where(_S.expires_at <= now))
        return int(result.rowcount or 0)


class ConsoleViewRepo(Repo):
    def _epoch(self, column: Any) -> ColumnElement[Any]:
        """Unix seconds of a UTC column on either database (SQLite keeps naive UTC text)."""
        if self.is_sqlite:
            return (func.julianday(column) - 2440587.5) * 86400.0
        return func.extract("epoch", column)

    def _bucket(self, column: Any, start: datetime, width_s: int) -> ColumnElement[Any]:
        offset = (self._epoch(column) - start.timestamp()) / width_s
        # CAST truncates on SQLite and rounds on PostgreSQL: floor first there.
        return cast(offset if self.is_sqlite else func.floor(offset), Integer)

    async def registration_history(
        self, app_id: int, registration_id: str, limit: int
    ) -> list[DeliveryRecord]:
        """The registration's deliveries among the app's latest notifications, newest first."""
        latest = (
            select(_N.id)
            .where(_N.app_id == app_id)
            .order_by(_N.id.desc())
            .limit(HISTORY_NOTIFICATIONS)
            .scalar_subquery()
        )
        stmt = (
            select(deliveries)
            .where(_D.registration_id == registration_id, _D.notification_id.in_(latest))
            .order_by(_D.notification_id.desc())
            .limit(limit)
        )
        rows = await self.conn.execute(stmt)
        return [
            DeliveryRecord(
                r.notification_id,
                r.registration_id,
                _status(r.status),
                _code(r.code),
                r.attempts,
                r.platform,
                r.reason,
                r.provider_ref,
                r.next_attempt_at,
                r.updated_at,
            )
            for r in rows
        ]

    async def registrations_marked(
        self, device_model: str, app_id: int | None, limit: int
    ) -> list[tuple[int, str]]:
        """(app id, registration id) of registrations with this device model, newest first."""
        r = registrations.c
        stmt = select(r.app_id, r.id).where(r.device_model == device_model)
        if app_id is not None:
            stmt = stmt.where(r.app_id == app_id)
        rows = await self.conn.execute(stmt.order_by(r.id.desc()).limit(limit))
        return [(row.app_id, row.id) for row in rows]

    async def notification_timeline(
        self, notification_id: str, start: datetime, width_s: int
    ) -> list[Bucket]:
        """Deliveries by the bucket of their last change and their status."""
        bucket = self._bucket(_D.updated_at, start, width_s).label("b")
        stmt = (
            select(bucket, _D.status, func.count().label("n"))
            .where(_D.notification_id == notification_id)
            .group_by(bucket, _D.status)
        )
        return [
            Bucket(int(r.b), "", int(r.status), int(r.n)) for r in await self.conn.execute(stmt)
        ]

    async def overview(self, app_id: int | None, start: datetime, width_s: int) -> list[Bucket]:
        """Sends (status -1) and deliveries by platform and status, per bucket since `start`,
        for the notifications created since then (keyset on their time-ordered ids)."""
        recent = select(_N.id).where(_N.id >= id_floor(start))
        if app_id is not None:
            recent = recent.where(_N.app_id == app_id)
        sends = self._bucket(_N.created_at, start, width_s).label("b")
        sent_rows = await self.conn.execute(
            select(sends, func.count().label("n"))
            .where(_N.id >= id_floor(start), *([_N.app_id == app_id] if app_id is not None else []))
            .group_by(sends)
        )
        out = [Bucket(int(r.b), "", -1, int(r.n)) for r in sent_rows]
        bucket = self._bucket(_D.updated_at, start, width_s).label("b")
        stmt = (
            select(bucket, _D.platform, _D.status, func.count().label("n"))
            .where(_D.notification_id.in_(recent.scalar_subquery()))
            .group_by(bucket, _D.platform, _D.status)
        )
        rows = await self.conn.execute(stmt)
        out.extend(Bucket(int(r.b), str(r.platform), int(r.status), int(r.n)) for r in rows)
        return out


def _status(value: int) -> DeliveryStatus:
    return DeliveryStatus(value)


def _code(value: int) -> ResultCode:
    return ResultCode(value)
