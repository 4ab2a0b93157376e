"""Who is calling: the admin key, app API keys, and the OAuth2 client-credentials tokens."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import jwt

from pushgate.domain.records import ApiKey, App
from pushgate.domain.roles import ALL_ROLES, Role, grants
from pushgate.errors import CredentialRejected, Forbidden, InvalidInput, NotFound
from pushgate.store.engine import Database
from pushgate.store.uow import UnitOfWork, unit_of_work

ADMIN_ALIAS = "admin"
ADMIN_KEY_SECRET = "admin_key_sha256"  # noqa: S105 - a row name, not a secret
_TOKEN_ISSUER = "pushgate"  # noqa: S105 - the iss claim
_TOKEN_AUDIENCE = "pushgate-api"  # noqa: S105 - the aud claim
_CACHE_LIMIT = 10_000
_ROLE_NAMES = frozenset(role.value for role in Role)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. The admin has no app and every right."""

    app_id: int | None
    app_name: str | None
    roles: frozenset[Role]
    key_alias: str
    # Names this very key, not just its alias: "app id:key id:creation in µs". An alias can
    # be reused after a revocation and SQLite can reuse a deleted row's id; both together
    # with the creation instant cannot come back.
    key_ref: str = ""
    # An app user signed in with a user token: no role, so only routes that accept users
    # (a device registering itself) let it in, and only as itself.
    user_name: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.app_id is None


ADMIN = Principal(None, None, ALL_ROLES, ADMIN_ALIAS)


class CallerLimit(Protocol):
    """A rate limit per authenticated caller (http/rate_limits.py implements it)."""

    async def admit(self, caller: str) -> None:
        """Return if `caller` may make one more request now; RateLimited if it may not."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str


def new_secret(prefix: str) -> str:
    """A 256-bit random key, prefixed so secret scanners and people recognise it."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def resolve_app_id(
    uow: UnitOfWork, principal: Principal, app_name: str, role: Role | None
) -> int:
    """The id of the app named in the path, if the caller may use `role` (None: any) on it.

    A key of another app gets the same 403 whether or not app_name exists, so a key cannot
    probe which apps exist; only the admin learns that an app is missing (404).
    """
    if principal.is_admin:
        app = await uow.apps.get_by_name(app_name)
        if app is None:
            raise NotFound("no app with this name", field="app")
        return app.id
    return authorize_key(principal, app_name, role)


def authorize_key(principal: Principal, app_name: str, role: Role | None) -> int:
    """An app key's own app id, if the key may use `role` on the app named in the path."""
    if principal.app_name != app_name or principal.app_id is None:
        raise Forbidden("this key belongs to another app")
    if role is not None and not grants(principal.roles, role):
        raise Forbidden(f"this key lacks the role {role.value}")
    return principal.app_id


async def app_id_for(db: Database, principal: Principal, app_name: str, role: Role | None) -> int:
    """resolve_app_id without a transaction for app keys (their app is known already)."""
    if principal.is_admin:
        async with unit_of_work(db, readonly=True) as uow:
            return await resolve_app_id(uow, principal, app_name, role)
    return authorize_key(principal, app_name, role)


async def app_id_for_any(
    db: Database, principal: Principal, app_name: str, roles: tuple[Role, ...]
) -> int:
    """The app's id if the caller holds at least one of `roles` on it."""
    if principal.is_admin:
        return await app_id_for(db, principal, app_name, None)
    app_id = authorize_key(principal, app_name, None)
    if not any(grants(principal.roles, role) for role in roles):
        names = ", ".join(r.value for r in roles)
        raise Forbidden(f"this key needs one of the roles {names}")
    return app_id


class Authenticator:
    """Verifies credentials; caches verified keys briefly (auth_cache_ttl_s bounds revocation)."""

    def __init__(
        self,
        db: Database,
        *,
        admin_key_hash: str,
        signing_key: bytes,
        token_ttl_s: int,
        cache_ttl_s: float,
        clock: Callable[[], datetime],
        caller_limit: CallerLimit | None = None,
    ) -> None:
        self._db = db
        self._limit = caller_limit
        self._admin_hash = admin_key_hash
        self._signing_key = signing_key
        self._token_ttl_s = token_ttl_s
        self._cache_ttl_s = cache_ttl_s
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, Principal | None]] = OrderedDict()
        self._pending: dict[str, asyncio.Future[Principal | None]] = {}

    async def by_key(self, secret: str) -> Principal:
        digest = hash_secret(secret)
        if hmac.compare_digest(digest, self._admin_hash):
            return ADMIN
        principal = await self._lookup(digest)
        if principal is None:
            raise CredentialRejected("unknown or revoked API key")
        await self.admit(principal.key_ref)
        return principal

    async def admit(self, caller: str) -> None:
        """Count one request of `caller` (a key_ref, an OAuth client, a user) against its rate
        limit: RateLimited when over it. The admin key is never limited."""
        if self._limit is not None:
            await self._limit.admit(caller)

    async def by_basic(self, alias: str, secret: str) -> Principal:
        principal = await self.by_key(secret)
        # Compare every time, so a wrong alias costs the same as a wrong key.
        if not hmac.compare_digest(principal.key_alias.encode(), alias.encode()):
            raise CredentialRejected("unknown or revoked API key")
        return principal

    async def by_certificate(self, fingerprint: str) -> Principal:
        """The key a verified TLS client certificate (its SHA-256 fingerprint) is attached to."""
        cache_key = "cert:" + fingerprint
        hit, principal = self._cached(cache_key)
        if not hit:
            async with unit_of_work(self._db, readonly=True) as uow:
                found = await uow.key_certificates.key_of(fingerprint)
            principal = self._remember(cache_key, _principal(*found) if found else None)
        if principal is None:
            raise CredentialRejected("no service key holds this client certificate")
        await self.admit(principal.key_ref)
        return principal

    def is_admin_hash(self, digest: str) -> bool:
        """Whether `digest` (hash_secret of a key) is the admin key's: console sessions."""
        return hmac.compare_digest(digest, self._admin_hash)

    def forget_certificate(self, fingerprint: str) -> None:
        """Drop what this process cached about a certificate (attached or removed just now)."""
        self._cache.pop("cert:" + fingerprint, None)

    async def by_bearer(self, token: str) -> Principal:
        if token.count(".") != 2:
            return await self.by_key(token)
        try:
            claims = jwt.decode(
                token,
                self._signing_key,
                algorithms=["HS256"],
                audience=_TOKEN_AUDIENCE,
                issuer=_TOKEN_ISSUER,
                options={"require": ["exp", "iat", "sub", "scope"]},
                leeway=60,
            )
        except jwt.PyJWTError:
            raise CredentialRejected("invalid or expired access token") from None
        principal = await self._lookup_client(str(claims["sub"]))
        if principal is None:
            raise CredentialRejected("the client of this access token was revoked")
        # A token draws from its key's bucket: exchanging a key for tokens gains no rate.
        await self.admit(principal.key_ref)
        scopes = frozenset(Role(s) for s in str(claims["scope"]).split() if s in _ROLE_NAMES)
        return Principal(principal.app_id, principal.app_name, scopes, principal.key_alias)

    async def issue_token(
        self, client_id: str, client_secret: str, scope: str | None
    ) -> IssuedToken:
        """OAuth2 client credentials: the client is an app key (id = alias, secret = key)."""
        principal = await self.by_basic(client_id, client_secret)
        if principal.is_admin:
            raise Forbidden("the admin key cannot be exchanged for tokens")
        wanted = principal.roles if scope is None else _parse_scope(scope)
        if not all(grants(principal.roles, role) for role in wanted):
            raise Forbidden("the client lacks a requested scope", field="scope")
        now = int(self._clock().timestamp())
        scope_text = " ".join(sorted(wanted))
        claims = {
            "iss": _TOKEN_ISSUER,
            "aud": _TOKEN_AUDIENCE,
            "sub": principal.key_ref,
            "app": principal.app_name,
            "scope": scope_text,
            "iat": now,
            "exp": now + self._token_ttl_s,
            "jti": secrets.token_hex(8),
        }
        token = jwt.encode(claims, self._signing_key, algorithm="HS256")
        return IssuedToken(token, self._token_ttl_s, scope_text)

    def forget(self, key_hash: str, app_id: int, alias: str) -> None:
        """Drop a revoked key, and the tokens issued for it, from this process's cache at once."""
        self._cache.pop(key_hash, None)
        stale = [
            cache_key
            for cache_key, (_, principal) in self._cache.items()
            if principal is not None and (principal.app_id, principal.key_alias) == (app_id, alias)
        ]
        for cache_key in stale:
            self._cache.pop(cache_key, None)

    async def _lookup(self, digest: str) -> Principal | None:
        return await self._once(digest, self._load)

    async def _once(
        self, cache_key: str, load: Callable[[str], Awaitable[Principal | None]]
    ) -> Principal | None:
        """The cached answer, else one database read per key at a time: when the entry
        expires under load, every in-flight request of that key would otherwise query at once
        (and overflow the pool)."""
        hit, cached = self._cached(cache_key)
        if hit:
            return cached
        pending = self._pending.get(cache_key)
        if pending is not None:
            return await asyncio.shield(pending)
        task = asyncio.ensure_future(load(cache_key))
        self._pending[cache_key] = task
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._pending.pop(cache_key, None)
            else:
                task.add_done_callback(lambda _t: self._pending.pop(cache_key, None))

    async def _load(self, digest: str) -> Principal | None:
        async with unit_of_work(self._db, readonly=True) as uow:
            found = await uow.keys.get_by_hash(digest)
        principal = _principal(*found) if found is not None else None
        return self._remember(digest, principal)

    async def _lookup_client(self, subject: str) -> Principal | None:
        """The key a token's `sub` names (its key_ref), if it still exists unrevoked."""
        return await self._once(subject, self._load_client)

    async def _load_client(self, subject: str) -> Principal | None:
        parts = subject.split(":")
        principal = None
        if len(parts) == 3 and all(part.isdigit() for part in parts):
            async with unit_of_work(self._db, readonly=True) as uow:
                key = await uow.keys.get_by_id(int(parts[0]), int(parts[1]))
                app = await uow.apps.get(int(parts[0])) if key is not None else None
            if key is not None and app is not None:
                principal = _principal(key, app)
                if principal.key_ref != subject:  # same id, another key (SQLite reuses ids)
                    principal = None
        return self._remember(subject, principal)

    def _cached(self, cache_key: str) -> tuple[bool, Principal | None]:
        """(True, answer) when a fresh answer (which may be "no such key") is cached."""
        entry = self._cache.get(cache_key)
        if entry is not None and entry[0] > time.monotonic():
            return True, entry[1]
        return False, None

    def _remember(self, cache_key: str, principal: Principal | None) -> Principal | None:
        self._cache[cache_key] = (time.monotonic() + self._cache_ttl_s, principal)
        self._cache.move_to_end(cache_key)
        while len(self._cache) > _CACHE_LIMIT:
            self._cache.popitem(last=False)
        return principal


def principal_of(key: ApiKey, app: App) -> Principal:
    """The caller an app key authenticates as (also for a console session opened with it)."""
    return _principal(key, app)


def key_id_of(principal: Principal) -> int | None:
    """The api_keys row id a key principal came from (None: the admin, or not a key)."""
    parts = principal.key_ref.split(":")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def _principal(key: ApiKey, app: App) -> Principal:
    created_us = int(key.created_at.timestamp() * 1_000_000)
    return Principal(app.id, app.name, key.roles, key.alias, f"{app.id}:{key.id}:{created_us}")


def _parse_scope(scope: str) -> frozenset[Role]:
    roles: set[Role] = set()
    for name in scope.split():
        if name not in _ROLE_NAMES:
            raise InvalidInput(f"unknown scope {name!r}", field="scope")
        roles.add(Role(name))
    if not roles:
        raise InvalidInput("scope is empty", field="scope")
    return frozenset(roles)


async def ensure_admin_key(
    db: Database, configured: str | None, now: datetime
) -> tuple[str, str | None]:
    """The admin key's hash, and the key itself when it was generated just now (print it once)."""
    if configured:
        return hash_secret(configured), None
    async with unit_of_work(db) as uow:
        stored = await uow.system.get(ADMIN_KEY_SECRET)
        if stored is not None:
            return stored, None
        fresh = new_secret("pga")
        kept = await uow.system.put_if_absent(ADMIN_KEY_SECRET, hash_secret(fresh), now)
    # Another process may have won the race; then its key stands and ours is discarded.
    return kept, fresh if kept == hash_secret(fresh) else None
