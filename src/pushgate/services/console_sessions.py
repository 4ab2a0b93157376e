"""Console sign-ins: server-side sessions opened with the admin key or an app key.

The browser holds a random token (cookie); the database holds its SHA-256, the key the
session was opened with, the session's CSRF token and its expiry. Every request re-reads the
row with the key: a revoked key (its row deleted, the session with it) or a replaced admin
key ends the session at once, unlike the key cache of the API (auth_cache_ttl_s).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pushgate.errors import Forbidden, Unauthenticated
from pushgate.services.auth import (
    ADMIN,
    Authenticator,
    Principal,
    hash_secret,
    key_id_of,
    principal_of,
)
from pushgate.store.uow import UnitOfWork

SESSION_TTL = timedelta(hours=8)


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    principal: Principal
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OpenedSession:
    token: str  # for the cookie; only its hash is stored
    session: ConsoleSession


async def open_session(
    uow: UnitOfWork, auth: Authenticator, key: str, now: datetime, ttl: timedelta = SESSION_TTL
) -> OpenedSession:
    """Sign in with an API key (the admin key or an app key); expired sessions are swept."""
    principal = await auth.by_key(key)
    key_id = None
    if not principal.is_admin:
        key_id = key_id_of(principal)
        if key_id is None:
            raise Unauthenticated("sign in with an API key")
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires_at = now + ttl
    await uow.console_sessions.delete_expired(now)
    await uow.console_sessions.insert(
        hash_secret(token), key_id, hash_secret(key), csrf, now, expires_at
    )
    return OpenedSession(token, ConsoleSession(principal, csrf, expires_at))


async def resolve_session(
    uow: UnitOfWork, auth: Authenticator, token: str, now: datetime
) -> ConsoleSession:
    """The session of a cookie's token: unknown, expired and revoked are all 401."""
    stored = await uow.console_sessions.get(hash_secret(token))
    if stored is None or stored.expires_at <= now:
        raise Unauthenticated("sign in again: the session ended")
    if stored.key_id is None:
        if not auth.is_admin_hash(stored.key_hash):
            raise Unauthenticated("sign in again: the admin key was replaced")
        return ConsoleSession(ADMIN, stored.csrf_token, stored.expires_at)
    # The key row must still be the one the session was opened with (SQLite reuses ids).
    if stored.key is None or stored.app is None or stored.current_key_hash != stored.key_hash:
        raise Unauthenticated("sign in again: the key was revoked")
    return ConsoleSession(
        principal_of(stored.key, stored.app), stored.csrf_token, stored.expires_at
    )


def check_csrf(session: ConsoleSession, submitted: str | None) -> None:
    """A form's CSRF token must be the session's own (compared in constant time)."""
    if not submitted or not hmac.compare_digest(submitted.encode(), session.csrf_token.encode()):
        raise Forbidden("the form is stale or forged: reload the page", field="csrf")


async def close_session(uow: UnitOfWork, token: str) -> None:
    await uow.console_sessions.delete(hash_secret(token))
