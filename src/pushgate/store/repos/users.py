"""App users and the tokens pushgate issued to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from pushgate.domain.records import AppUser, UserToken
from pushgate.errors import Conflict
from pushgate.store.repos._base import Repo
from pushgate.store.tables import app_users, user_tokens

# Every column but the password hash: reads that only show a user never load it.
_SHOWN = [c for c in app_users.c if c.name != "password_hash"]


def _user(row: Any) -> AppUser:
    return AppUser(
        row.id,
        row.app_id,
        row.name,
        row.has_password,
        row.email,
        row.external_id,
        row.user_uuid,
        row.created_at,
        row.updated_at,
    )


def _select_users() -> Any:
    return select(*_SHOWN, app_users.c.password_hash.is_not(None).label("has_password"))


def _token(row: Any) -> UserToken:
    return UserToken(row.id, row.user_id, row.created_at, row.expires_at)


class UserRepo(Repo):
    async def create(
        self, app_id: int, name: str, values: dict[str, Any], now: datetime
    ) -> AppUser:
        stmt = insert(app_users).values(
            app_id=app_id, name=name, created_at=now, updated_at=now, **values
        )
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(stmt)
        except IntegrityError:
            raise Conflict("this app already has a user with this name", field="name") from None
        found = await self.get(app_id, name)
        assert found is not None  # noqa: S101 - just written in this transaction
        return found

    async def get(self, app_id: int, name: str) -> AppUser | None:
        stmt = _select_users().where(app_users.c.app_id == app_id, app_users.c.name == name)
        row = (await self.conn.execute(stmt)).first()
        return _user(row) if row else None

    async def get_by_id(self, user_id: int) -> AppUser | None:
        row = (await self.conn.execute(_select_users().where(app_users.c.id == user_id))).first()
        return _user(row) if row else None

    async def password_hash(self, app_id: int, name: str) -> tuple[AppUser, str | None] | None:
        stmt = _select_users().add_columns(app_users.c.password_hash)
        stmt = stmt.where(app_users.c.app_id == app_id, app_users.c.name == name)
        row = (await self.conn.execute(stmt)).first()
        return (_user(row), row.password_hash) if row else None

    async def find(
        self,
        app_id: int,
        *,
        name: str | None = None,
        email: str | None = None,
        external_id: str | None = None,
        limit: int = 2,
    ) -> list[AppUser]:
        """Users matching any of the given identifiers (name, email, external id)."""
        matches = []
        if name is not None:
            matches.append(app_users.c.name == name)
        if email is not None:
            matches.append(app_users.c.email == email)
        if external_id is not None:
            matches.append(app_users.c.external_id == external_id)
        if not matches:
            return []
        stmt = (
            _select_users()
            .where(app_users.c.app_id == app_id, or_(*matches))
            .order_by(app_users.c.id)
            .limit(limit)
        )
        return [_user(r) for r in await self.conn.execute(stmt)]

    async def list_page(self, app_id: int, *, after: str | None, limit: int) -> list[AppUser]:
        stmt = (
            _select_users()
            .where(app_users.c.app_id == app_id)
            .order_by(app_users.c.name)
            .limit(limit)
        )
        if after is not None:
            stmt = stmt.where(app_users.c.name > after)
        return [_user(r) for r in await self.conn.execute(stmt)]

    async def update(self, user_id: int, values: dict[str, Any], now: datetime) -> None:
        await self.conn.execute(
            update(app_users).where(app_users.c.id == user_id).values(**values, updated_at=now)
        )

    async def delete(self, app_id: int, name: str) -> bool:
        stmt = delete(app_users).where(app_users.c.app_id == app_id, app_users.c.name == name)
        return bool((await self.conn.execute(stmt)).rowcount)


class UserTokenRepo(Repo):
    async def create(
        self,
        token_id: str,
        app_id: int,
        user_id: int,
        token_hash: str,
        now: datetime,
        expires_at: datetime | None,
    ) -> UserToken:
        await self.conn.execute(
            insert(user_tokens).values(
                id=token_id,
                app_id=app_id,
                user_id=user_id,
                token_hash=token_hash,
                created_at=now,
                expires_at=expires_at,
            )
        )
        return UserToken(token_id, user_id, now, expires_at)

    async def get_by_hash(self, token_hash: str) -> tuple[UserToken, AppUser] | None:
        stmt = (
            select(user_tokens, *[c.label("u_" + c.name) for c in _SHOWN])
            .add_columns(app_users.c.password_hash.is_not(None).label("u_has_password"))
            .join(app_users, app_users.c.id == user_tokens.c.user_id)
            .where(user_tokens.c.token_hash == token_hash)
        )
        row = (await self.conn.execute(stmt)).first()
        if row is None:
            return None
        user = AppUser(
            row.u_id,
            row.u_app_id,
            row.u_name,
            row.u_has_password,
            row.u_email,
            row.u_external_id,
            row.u_user_uuid,
            row.u_created_at,
            row.u_updated_at,
        )
        return _token(row), user

    async def list_for_user(self, user_id: int) -> list[UserToken]:
        stmt = (
            select(user_tokens)
            .where(user_tokens.c.user_id == user_id)
            .order_by(user_tokens.c.created_at, user_tokens.c.id)
        )
        return [_token(r) for r in await self.conn.execute(stmt)]

    async def delete(self, user_id: int, token_id: str) -> str | None:
        """Revoke; the token's hash (to evict caches), None when there was no such token."""
        stmt = (
            delete(user_tokens)
            .where(user_tokens.c.user_id == user_id, user_tokens.c.id == token_id)
            .returning(user_tokens.c.token_hash)
        )
        value = (await self.conn.execute(stmt)).scalar_one_or_none()
        return str(value) if value is not None else None

    async def hashes_of_user(self, user_id: int) -> list[str]:
        stmt = select(user_tokens.c.token_hash).where(user_tokens.c.user_id == user_id)
        return [str(v) for v in (await self.conn.execute(stmt)).scalars()]
