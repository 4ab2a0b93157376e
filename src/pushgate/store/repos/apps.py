"""Apps and their API keys, plus the server-wide secrets table."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from pushgate.domain.records import ApiKey, App
from pushgate.domain.roles import Role
from pushgate.errors import Conflict
from pushgate.store.repos._base import Repo
from pushgate.store.tables import api_keys, apps, system_secrets


def _app(row: Any) -> App:
    limits = (
        {k: float(v) for k, v in json.loads(row.rate_limits).items()} if row.rate_limits else {}
    )
    return App(row.id, row.name, row.description, row.created_at, row.updated_at, limits)


def _key(row: Any) -> ApiKey:
    roles = frozenset(Role(r) for r in row.roles.split(",") if r)
    return ApiKey(row.id, row.app_id, row.alias, roles, row.created_at)


class AppRepo(Repo):
    async def create(self, name: str, description: str, now: datetime) -> App:
        stmt = (
            insert(apps)
            .values(name=name, description=description, created_at=now, updated_at=now)
            .returning(*apps.c)
        )
        try:
            async with self.conn.begin_nested():
                row = (await self.conn.execute(stmt)).one()
        except IntegrityError:
            raise Conflict("an app with this name exists", field="name") from None
        return _app(row)

    async def get_by_name(self, name: str) -> App | None:
        row = (await self.conn.execute(select(apps).where(apps.c.name == name))).first()
        return _app(row) if row else None

    async def get(self, app_id: int) -> App | None:
        row = (await self.conn.execute(select(apps).where(apps.c.id == app_id))).first()
        return _app(row) if row else None

    async def list_page(
        self, *, after: str | None, limit: int, only_id: int | None = None
    ) -> list[App]:
        stmt = select(apps).order_by(apps.c.name).limit(limit)
        if after is not None:
            stmt = stmt.where(apps.c.name > after)
        if only_id is not None:
            stmt = stmt.where(apps.c.id == only_id)
        return [_app(r) for r in await self.conn.execute(stmt)]

    async def update(self, app_id: int, values: dict[str, Any], now: datetime) -> App:
        stmt = (
            update(apps)
            .where(apps.c.id == app_id)
            .values(**values, updated_at=now)
            .returning(*apps.c)
        )
        try:
            async with self.conn.begin_nested():
                row = (await self.conn.execute(stmt)).one()
        except IntegrityError:
            raise Conflict("an app with this name exists", field="name") from None
        return _app(row)

    async def delete(self, app_id: int) -> None:
        await self.conn.execute(delete(apps).where(apps.c.id == app_id))

    async def user_token_secret(self, app_id: int) -> str | None:
        """The sealed secret app back ends sign user JWTs with; None when not set."""
        stmt = select(apps.c.user_token_secret).where(apps.c.id == app_id)
        value = (await self.conn.execute(stmt)).scalar_one_or_none()
        return str(value) if value is not None else None

    async def rate_limits(self, app_id: int) -> dict[str, float]:
        """{provider: sends per second}; empty when the app sets none."""
        found = await self.get(app_id)
        return found.rate_limits if found else {}


class KeyRepo(Repo):
    async def create(
        self, app_id: int, alias: str, key_hash: str, roles: frozenset[Role], now: datetime
    ) -> ApiKey:
        stmt = (
            insert(api_keys)
            .values(
                app_id=app_id,
                alias=alias,
                key_hash=key_hash,
                roles=",".join(sorted(roles)),
                created_at=now,
            )
            .returning(*api_keys.c)
        )
        try:
            async with self.conn.begin_nested():
                row = (await self.conn.execute(stmt)).one()
        except IntegrityError:
            raise Conflict("this app already has a key with this alias", field="alias") from None
        return _key(row)

    async def get_by_hash(self, key_hash: str) -> tuple[ApiKey, App] | None:
        stmt = (
            select(
                api_keys,
                apps.c.name.label("app_name"),
                apps.c.description,
                apps.c.created_at.label("app_created_at"),
                apps.c.updated_at.label("app_updated_at"),
            )
            .join(apps, apps.c.id == api_keys.c.app_id)
            .where(api_keys.c.key_hash == key_hash)
        )
        row = (await self.conn.execute(stmt)).first()
        if row is None:
            return None
        app = App(row.app_id, row.app_name, row.description, row.app_created_at, row.app_updated_at)
        return _key(row), app

    async def get_by_id(self, app_id: int, key_id: int) -> ApiKey | None:
        stmt = select(api_keys).where(api_keys.c.app_id == app_id, api_keys.c.id == key_id)
        row = (await self.conn.execute(stmt)).first()
        return _key(row) if row else None

    async def get(self, app_id: int, alias: str) -> ApiKey | None:
        stmt = select(api_keys).where(api_keys.c.app_id == app_id, api_keys.c.alias == alias)
        row = (await self.conn.execute(stmt)).first()
        return _key(row) if row else None

    async def list_page(self, app_id: int, *, after: str | None, limit: int) -> list[ApiKey]:
        stmt = (
            select(api_keys)
            .where(api_keys.c.app_id == app_id)
            .order_by(api_keys.c.alias)
            .limit(limit)
        )
        if after is not None:
            stmt = stmt.where(api_keys.c.alias > after)
        return [_key(r) for r in await self.conn.execute(stmt)]

    async def delete(self, app_id: int, alias: str) -> str | None:
        """Remove the key; its hash (to evict caches) or None when there was no such key."""
        stmt = (
            delete(api_keys)
            .where(api_keys.c.app_id == app_id, api_keys.c.alias == alias)
            .returning(api_keys.c.key_hash)
        )
        value = (await self.conn.execute(stmt)).scalar_one_or_none()
        return str(value) if value is not None else None


class SystemSecretRepo(Repo):
    async def get(self, name: str) -> str | None:
        stmt = select(system_secrets.c.value).where(system_secrets.c.name == name)
        value = (await self.conn.execute(stmt)).scalar_one_or_none()
        return str(value) if value is not None else None

    async def put_if_absent(self, name: str, value: str, now: datetime) -> str:
        """Store value unless one exists; return what is stored (first writer wins)."""
        stmt = (
            self.upsert_insert(system_secrets)
            .values(name=name, value=value, created_at=now)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        await self.conn.execute(stmt)
        stored = await self.get(name)
        assert stored is not None  # noqa: S101 - just written or already there
        return stored
