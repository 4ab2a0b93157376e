"""Signing in as an app user: name and password, a pushgate-issued token, or an app's JWT."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import jwt

from pushgate.domain.records import AppUser
from pushgate.errors import CredentialRejected
from pushgate.services.auth import CallerLimit, hash_secret
from pushgate.services.users import (
    USER_TOKEN_PREFIX,
    user_token_secret,
    verify_password,
    verify_password_of_nobody,
)
from pushgate.services.vault import Vault
from pushgate.store.engine import Database
from pushgate.store.uow import unit_of_work

_CACHE_LIMIT = 10_000
_JWT_ALGORITHMS = ["HS256"]
_JWT_LEEWAY_S = 60


@dataclass(frozen=True, slots=True)
class UserPrincipal:
    """An authenticated app user."""

    app_id: int
    app_name: str
    user_id: int
    user_name: str


def is_user_token(value: str) -> bool:
    """A token this module verifies: pushgate's opaque user token or an app-signed JWT."""
    return value.startswith(USER_TOKEN_PREFIX + "_") or _app_claim(value) is not None


def _app_claim(token: str) -> str | None:
    """The `app` claim of an unverified JWT that is not a pushgate OAuth access token."""
    if token.count(".") != 2:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    app = claims.get("app")
    # pushgate's own OAuth access tokens also name their app, but are issued by "pushgate".
    if not isinstance(app, str) or claims.get("iss") == "pushgate":
        return None
    return app


class UserAuthenticator:
    """Verifies user credentials; caches successes briefly (cache_ttl_s bounds revocation)."""

    def __init__(
        self,
        db: Database,
        vault: Vault,
        *,
        cache_ttl_s: float,
        clock: Callable[[], datetime],
        caller_limit: CallerLimit | None = None,
    ) -> None:
        self._db = db
        self._limit = caller_limit
        self._vault = vault
        self._cache_ttl_s = cache_ttl_s
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, UserPrincipal]] = OrderedDict()

    async def by_password(self, app_name: str, name: str, password: str) -> UserPrincipal:
        """HTTP Basic as an app user of the app named in the path."""
        return await self._admit(await self._by_password(app_name, name, password))

    async def by_token(self, token: str) -> UserPrincipal:
        """A user token: pushgate's opaque `pgu_...` or a JWT the app's back end signed."""
        return await self._admit(await self._by_token(token))

    async def _admit(self, user: UserPrincipal) -> UserPrincipal:
        """The user, if within its rate limit (one bucket per user, whatever it signs in with)."""
        if self._limit is not None:
            await self._limit.admit(f"user:{user.app_id}:{user.user_id}")
        return user

    async def _by_password(self, app_name: str, name: str, password: str) -> UserPrincipal:
        # The cache key hashes the password: the plain text is never kept in memory.
        cache_key = "pw:" + hashlib.sha256(f"{app_name}\0{name}\0{password}".encode()).hexdigest()
        cached = self._cached(cache_key)
        if cached is not None:
            return cached
        async with unit_of_work(self._db, readonly=True) as uow:
            app = await uow.apps.get_by_name(app_name)
            found = await uow.users.password_hash(app.id, name) if app is not None else None
        user, password_hash = found if found is not None else (None, None)
        if app is None or user is None or password_hash is None:
            await verify_password_of_nobody(password)
            raise CredentialRejected("unknown user or wrong password")
        if not await verify_password(password_hash, password):
            raise CredentialRejected("unknown user or wrong password")
        return self._remember(cache_key, _principal(user, app.name))

    async def _by_token(self, token: str) -> UserPrincipal:
        if token.startswith(USER_TOKEN_PREFIX + "_"):
            return await self._by_issued(token)
        app_name = _app_claim(token)
        if app_name is None:
            raise CredentialRejected("not a user token")
        return await self._by_jwt(app_name, token)

    def forget(self, token_hashes: list[str]) -> None:
        """Drop revoked tokens from this process's cache at once."""
        for token_hash in token_hashes:
            self._cache.pop("tok:" + token_hash, None)

    async def _by_issued(self, token: str) -> UserPrincipal:
        token_hash = hash_secret(token)
        cache_key = "tok:" + token_hash
        cached = self._cached(cache_key)
        if cached is not None:
            return cached
        async with unit_of_work(self._db, readonly=True) as uow:
            found = await uow.user_tokens.get_by_hash(token_hash)
            app = await uow.apps.get(found[1].app_id) if found is not None else None
        if found is None or app is None:
            raise CredentialRejected("unknown or revoked user token")
        record, user = found
        if record.expires_at is not None and record.expires_at <= self._clock():
            raise CredentialRejected("this user token has expired")
        return self._remember(cache_key, _principal(user, app.name))

    async def _by_jwt(self, app_name: str, token: str) -> UserPrincipal:
        cache_key = "jwt:" + hash_secret(token)
        cached = self._cached(cache_key)
        if cached is not None:
            return cached
        async with unit_of_work(self._db, readonly=True) as uow:
            app = await uow.apps.get_by_name(app_name)
            secret = await user_token_secret(uow, self._vault, app.id) if app else None
        if app is None or secret is None:
            raise CredentialRejected("no app with this name accepts user JWTs")
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=_JWT_ALGORITHMS,
                options={"require": ["exp", "sub", "app"]},
                leeway=_JWT_LEEWAY_S,
            )
        except jwt.PyJWTError as exc:
            raise CredentialRejected(f"invalid user JWT: {exc}") from None
        async with unit_of_work(self._db, readonly=True) as uow:
            user = await uow.users.get(app.id, str(claims["sub"]))
        if user is None:
            raise CredentialRejected("the JWT's sub names no user of this app")
        principal = _principal(user, app.name)
        # Cached no longer than the token lives.
        ttl = min(self._cache_ttl_s, float(claims["exp"]) - time.time())
        return self._remember(cache_key, principal, ttl)

    def _cached(self, cache_key: str) -> UserPrincipal | None:
        entry = self._cache.get(cache_key)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        return None

    def _remember(
        self, cache_key: str, principal: UserPrincipal, ttl_s: float | None = None
    ) -> UserPrincipal:
        ttl = self._cache_ttl_s if ttl_s is None else ttl_s
        if ttl > 0:
            self._cache[cache_key] = (time.monotonic() + ttl, principal)
            self._cache.move_to_end(cache_key)
            while len(self._cache) > _CACHE_LIMIT:
                self._cache.popitem(last=False)
        return principal


def _principal(user: AppUser, app_name: str) -> UserPrincipal:
    return UserPrincipal(user.app_id, app_name, user.id, user.name)
