"""Registrations: the hot upsert, filtered keyset pages, capabilities and user-id history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, exists, or_, select, update

from pushgate.domain.ids import new_id
from pushgate.domain.platforms import Platform
from pushgate.domain.records import Registration, RegistrationFilter, RegistrationWrite
from pushgate.store.repos._base import Repo
from pushgate.store.tables import (
    registration_capabilities,
    registrations,
    subscriptions,
    topics,
    user_uuid_history,
)

_COLUMNS = [c for c in registrations.c]


def _registration(row: Any, extras: dict[str, Any] | None = None) -> Registration:
    fields = {c.name: getattr(row, c.name) for c in _COLUMNS}
    fields["platform"] = Platform(fields["platform"])
    return Registration(**fields, **(extras or {}))


class RegistrationRepo(Repo):
    async def upsert(
        self, app_id: int, platform: Platform, token: str, write: RegistrationWrite, now: datetime
    ) -> tuple[Registration, bool]:
        """Insert or update by (app, platform, token) in one statement; True when inserted."""
        fresh_id = new_id()
        # A device that registers again is alive again, whatever deactivated it before.
        changes: dict[str, Any] = {
            **write.values,
            "active": True if write.active is None else write.active,
            "deactivated_at": None if write.active is not False else now,
            "deactivation_reason": None if write.active is not False else "deactivated by client",
            "updated_at": now,
            "last_seen_at": now,
        }
        stmt = self.upsert_insert(registrations).values(
            id=fresh_id,
            app_id=app_id,
            platform=platform.value,
            token=token,
            created_at=now,
            **{"sandbox": False, **changes},
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["app_id", "platform", "token"], set_=changes
        ).returning(*_COLUMNS)
        row = (await self.conn.execute(stmt)).one()
        return _registration(row), row.id == fresh_id

    async def update(
        self, app_id: int, registration_id: str, values: dict[str, Any], now: datetime
    ) -> bool:
        stmt = (
            update(registrations)
            .where(registrations.c.app_id == app_id, registrations.c.id == registration_id)
            .values(**values, updated_at=now)
        )
        return bool((await self.conn.execute(stmt)).rowcount)

    async def get(self, app_id: int, registration_id: str) -> Registration | None:
        stmt = select(*_COLUMNS).where(
            registrations.c.app_id == app_id, registrations.c.id == registration_id
        )
        row = (await self.conn.execute(stmt)).first()
        if row is None:
            return None
        return (await self._with_extras([row]))[0]

    async def list_page(
        self, app_id: int, where: RegistrationFilter, *, after: str | None, limit: int
    ) -> list[Registration]:
        stmt = select(*_COLUMNS).where(registrations.c.app_id == app_id)
        stmt = stmt.where(*self._conditions(app_id, where))
        if after is not None:
            stmt = stmt.where(registrations.c.id > after)
        rows = (await self.conn.execute(stmt.order_by(registrations.c.id).limit(limit))).all()
        return await self._with_extras(rows)

    async def deactivate_dead(
        self, dead: Sequence[tuple[str, str, datetime]], now: datetime
    ) -> int:
        """Deactivate (id, reason, cutoff) registrations not renewed after their cutoff.

        A device that registered again after the provider called its token dead (APNs'
        410 timestamp rule) has a fresh token: it stays active.
        """
        if not dead:
            return 0
        r = registrations
        stmt = (
            update(r)
            .where(
                r.c.id == bindparam("rid"),
                r.c.active.is_(True),
                r.c.last_seen_at <= bindparam("cutoff"),
            )
            .values(
                active=False,
                deactivated_at=now,
                deactivation_reason=bindparam("reason"),
                updated_at=now,
            )
        )
        params = [{"rid": rid, "reason": reason[:255], "cutoff": cut} for rid, reason, cut in dead]
        result = await self.conn.execute(stmt, params)
        return int(result.rowcount or 0)

    async def deactivated(self, ids: Sequence[str], at: datetime) -> list[Registration]:
        """Which of `ids` were deactivated at `at` (e.g. by deactivate_dead just now)."""
        if not ids:
            return []
        r = registrations
        stmt = select(*_COLUMNS).where(
            r.c.id.in_(list(ids)), r.c.active.is_(False), r.c.deactivated_at == at
        )
        return [_registration(row) for row in await self.conn.execute(stmt.order_by(r.c.id))]

    async def delete(self, app_id: int, registration_id: str) -> bool:
        stmt = delete(registrations).where(
            registrations.c.app_id == app_id, registrations.c.id == registration_id
        )
        return bool((await self.conn.execute(stmt)).rowcount)

    async def replace_capabilities(
        self, registration_id: str, names: Iterable[str], *, fresh: bool
    ) -> None:
        wanted = sorted(set(names))
        caps = registration_capabilities
        if not fresh:
            stale = delete(caps).where(caps.c.registration_id == registration_id)
            if wanted:
                stale = stale.where(caps.c.name.not_in(wanted))
            await self.conn.execute(stale)
        if wanted:
            stmt = (
                self.upsert_insert(caps)
                .values([{"registration_id": registration_id, "name": n} for n in wanted])
                .on_conflict_do_nothing(index_elements=["registration_id", "name"])
            )
            await self.conn.execute(stmt)

    async def record_user_uuid(self, registration_id: str, user_uuid: str, now: datetime) -> None:
        stmt = (
            self.upsert_insert(user_uuid_history)
            .values(registration_id=registration_id, user_uuid=user_uuid, first_seen_at=now)
            .on_conflict_do_nothing(index_elements=["registration_id", "user_uuid"])
        )
        await self.conn.execute(stmt)

    async def load_extras(self, registration: Registration) -> Registration:
        rows = (
            await self.conn.execute(select(*_COLUMNS).where(registrations.c.id == registration.id))
        ).all()
        return (await self._with_extras(rows))[0]

    def _conditions(self, app_id: int, where: RegistrationFilter) -> list[Any]:
        r = registrations
        conds: list[Any] = []
        for column, value in (
            (r.c.user_name, where.user_name),
            (r.c.push_group, where.push_group),
            (r.c.device_id, where.device_id),
            (r.c.active, where.active),
            (r.c.platform, where.platform.value if where.platform else None),
        ):
            if value is not None:
                conds.append(column == value)
        if where.token_prefix:
            conds.append(r.c.token.startswith(where.token_prefix, autoescape=True))
        if where.user_uuid is not None:
            # Old global user ids still find the registration (SAP seed: the history is kept).
            past = exists().where(
                user_uuid_history.c.registration_id == r.c.id,
                user_uuid_history.c.user_uuid == where.user_uuid,
            )
            conds.append(or_(r.c.user_uuid == where.user_uuid, past))
        if where.topic is not None:
            conds.append(
                exists()
                .where(subscriptions.c.registration_id == r.c.id)
                .where(subscriptions.c.topic_id == topics.c.id)
                .where(topics.c.app_id == app_id, topics.c.name == where.topic)
            )
        if where.capability is not None:
            conds.append(
                exists().where(
                    registration_capabilities.c.registration_id == r.c.id,
                    registration_capabilities.c.name == where.capability,
                )
            )
        return conds

    async def _with_extras(self, rows: Sequence[Any]) -> list[Registration]:
        if not rows:
            return []
        ids = [row.id for row in rows]
        topic_names: dict[str, list[str]] = defaultdict(list)
        stmt = (
            select(subscriptions.c.registration_id, topics.c.name)
            .join(topics, topics.c.id == subscriptions.c.topic_id)
            .where(subscriptions.c.registration_id.in_(ids))
            .order_by(topics.c.name)
        )
        for reg_id, name in await self.conn.execute(stmt):
            topic_names[reg_id].append(name)
        caps: dict[str, list[str]] = defaultdict(list)
        cap_stmt = (
            select(registration_capabilities.c.registration_id, registration_capabilities.c.name)
            .where(registration_capabilities.c.registration_id.in_(ids))
            .order_by(registration_capabilities.c.name)
        )
        for reg_id, name in await self.conn.execute(cap_stmt):
            caps[reg_id].append(name)
        history: dict[str, list[str]] = defaultdict(list)
        hist_stmt = (
            select(user_uuid_history.c.registration_id, user_uuid_history.c.user_uuid)
            .where(user_uuid_history.c.registration_id.in_(ids))
            .order_by(user_uuid_history.c.first_seen_at, user_uuid_history.c.user_uuid)
        )
        for reg_id, uuid in await self.conn.execute(hist_stmt):
            history[reg_id].append(uuid)
        return [
            _registration(
                row,
                {
                    "topics": tuple(topic_names[row.id]),
                    "capabilities": tuple(caps[row.id]),
                    "user_uuid_history": tuple(history[row.id]),
                },
            )
            for row in rows
        ]

    async def deactivate_for_user(
        self,
        app_id: int,
        user_name: str,
        platform: Platform,
        sandbox: bool,
        reason: str,
        now: datetime,
    ) -> int:
        """Deactivate the user's active registrations on one platform (and APNs environment)."""
        r = registrations
        stmt = (
            update(r)
            .where(
                r.c.app_id == app_id,
                r.c.user_name == user_name,
                r.c.platform == platform.value,
                r.c.sandbox.is_(sandbox),
                r.c.active.is_(True),
            )
            .values(active=False, deactivated_at=now, deactivation_reason=reason, updated_at=now)
        )
        return int((await self.conn.execute(stmt)).rowcount or 0)
