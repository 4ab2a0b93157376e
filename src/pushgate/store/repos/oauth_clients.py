"""OAuth confidential clients of an app: created with a hashed secret, listed, deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select

from pushgate.store.repos._base import Repo
from pushgate.store.tables import apps, oauth_clients


@dataclass(frozen=True, slots=True)
class OAuthClient:
    id: int
    app_id: int
    client_id: str
    scopes: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ClientSecret:
    """What the token endpoint checks: the client, its app's name, its secret's hash."""

    client: OAuthClient
    app_name: str
    secret_hash: str


def _client(row: Any) -> OAuthClient:
    return OAuthClient(row.id, row.app_id, row.client_id, tuple(row.scopes.split()), row.created_at)


class OAuthClientRepo(Repo):
    async def create(
        self, app_id: int, client_id: str, secret_hash: str, scopes: tuple[str, ...], now: datetime
    ) -> OAuthClient:
        stmt = (
            insert(oauth_clients)
            .values(
                app_id=app_id,
                client_id=client_id,
                secret_hash=secret_hash,
                scopes=" ".join(scopes),
                created_at=now,
            )
            .returning(*oauth_clients.c)
        )
        return _client((await self.conn.execute(stmt)).one())

    async def list_page(self, app_id: int, *, after: str | None, limit: int) -> list[OAuthClient]:
        c = oauth_clients.c
        stmt = select(oauth_clients).where(c.app_id == app_id).order_by(c.client_id).limit(limit)
        if after is not None:
            stmt = stmt.where(c.client_id > after)
        return [_client(row) for row in await self.conn.execute(stmt)]

    async def get(self, app_id: int, client_id: str) -> OAuthClient | None:
        c = oauth_clients.c
        stmt = select(oauth_clients).where(c.app_id == app_id, c.client_id == client_id)
        row = (await self.conn.execute(stmt)).first()
        return _client(row) if row else None

    async def with_secret(self, client_id: str) -> ClientSecret | None:
        stmt = (
            select(oauth_clients, apps.c.name.label("app_name"))
            .join(apps, apps.c.id == oauth_clients.c.app_id)
            .where(oauth_clients.c.client_id == client_id)
        )
        row = (await self.conn.execute(stmt)).first()
        return ClientSecret(_client(row), row.app_name, row.secret_hash) if row else None

    async def delete(self, app_id: int, client_id: str) -> bool:
        c = oauth_clients.c
        stmt = delete(oauth_clients).where(c.app_id == app_id, c.client_id == client_id)
        return bool((await self.conn.execute(stmt)).rowcount)
