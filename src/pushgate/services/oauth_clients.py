"""OAuth confidential clients of an app and the bearer tokens they get (MobileFirst's model).

A client has an id, a secret (shown once; only its SHA-256 is kept) and the scopes it may be
granted (domain/client_scopes.py). The token endpoint (client credentials) issues an HS256
JWT carrying the granted scopes, signed with a key derived from the master key, so every
process verifies it; each verification also checks the client still exists, so deleting a
client revokes its tokens at once. The admin key, sent as the bearer token itself, holds every
scope of every app.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import jwt

from pushgate.domain.client_scopes import (
    APP_SCOPE_PREFIX,
    app_scope,
    holds,
    parse_client_scopes,
    parse_scope_parameter,
)
from pushgate.domain.names import check_name
from pushgate.errors import (
    Conflict,
    CredentialRejected,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from pushgate.services.auth import Authenticator, IssuedToken, hash_secret, new_secret
from pushgate.store.engine import Database
from pushgate.store.repos.oauth_clients import OAuthClient
from pushgate.store.uow import UnitOfWork, unit_of_work

SIGNING_PURPOSE = "oauth-client-token-signing"
_ISSUER = "pushgate"
_AUDIENCE = "pushgate-clients"
MAX_SCOPES = 32
_LEEWAY_S = 60  # clock skew between the processes of a deployment


@dataclass(frozen=True, slots=True)
class ClientPrincipal:
    """A bearer token's holder: an app's client with its granted scopes, or the admin."""

    app_id: int | None  # None: the admin key
    app_name: str | None
    scopes: frozenset[str]
    client_id: str

    @property
    def is_admin(self) -> bool:
        return self.app_id is None

    def allows(self, needed: str | None, app_name: str | None) -> bool:
        """Holds `needed` (None: no particular scope) and, when an app is named, its
        `push.application.<app>` scope."""
        if self.is_admin:
            return True
        if needed is not None and not holds(self.scopes, needed):
            return False
        return app_name is None or app_scope(app_name) in self.scopes


ADMIN_CLIENT = ClientPrincipal(None, None, frozenset(), "admin")


def _current(scopes: Iterable[str], app_name: str) -> frozenset[str]:
    """The scopes with the app scope under the app's current name (an app renamed through
    the native API keeps its clients working)."""
    plain = {s for s in scopes if not s.startswith(APP_SCOPE_PREFIX)}
    named = any(s.startswith(APP_SCOPE_PREFIX) for s in scopes)
    return frozenset(plain | ({app_scope(app_name)} if named else set()))


async def create_client(
    uow: UnitOfWork,
    app_id: int,
    app_name: str,
    scopes: list[str],
    now: datetime,
    *,
    client_id: str | None = None,
) -> tuple[OAuthClient, str]:
    """Create a client; its secret is returned this once."""
    if len(scopes) > MAX_SCOPES:
        raise InvalidInput(f"names at most {MAX_SCOPES} scopes", field="scopes")
    granted = parse_client_scopes(scopes, app_name, field="scopes")
    name = check_name(client_id, field="client_id") if client_id else "pgc_" + secrets.token_hex(8)
    if await uow.oauth_clients.with_secret(name) is not None:
        raise Conflict("a client with this id exists", field="client_id")
    secret = new_secret("pgs")
    client = await uow.oauth_clients.create(app_id, name, hash_secret(secret), granted, now)
    return client, secret


async def list_clients(
    uow: UnitOfWork, app_id: int, *, after: str | None, limit: int
) -> list[OAuthClient]:
    return await uow.oauth_clients.list_page(app_id, after=after, limit=limit)


async def get_client(uow: UnitOfWork, app_id: int, client_id: str) -> OAuthClient:
    found = await uow.oauth_clients.get(app_id, client_id)
    if found is None:
        raise NotFound("no client with this id", field="client_id")
    return found


async def delete_client(uow: UnitOfWork, app_id: int, client_id: str) -> None:
    """Delete the client: its tokens stop working at once."""
    if not await uow.oauth_clients.delete(app_id, client_id):
        raise NotFound("no client with this id", field="client_id")


class ClientTokens:
    """Issues and verifies the clients' bearer tokens."""

    def __init__(
        self,
        db: Database,
        auth: Authenticator,
        *,
        signing_key: bytes,
        ttl_s: int,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._auth = auth
        self._key = signing_key
        self._ttl_s = ttl_s
        self._clock = clock

    async def issue(self, client_id: str, client_secret: str, scope: str | None) -> IssuedToken:
        """Client credentials -> a token with the requested scopes (all of the client's when
        none are requested). Unknown client or wrong secret: Unauthenticated; a scope the
        client may not have: Forbidden (field scope)."""
        async with unit_of_work(self._db, readonly=True) as uow:
            found = await uow.oauth_clients.with_secret(client_id)
        given = hash_secret(client_secret)
        # Compare even for an unknown client, so both cost the same.
        expected = found.secret_hash if found else hash_secret(secrets.token_hex(16))
        if not hmac.compare_digest(given, expected) or found is None:
            raise CredentialRejected("unknown client or wrong secret")
        await self._auth.admit(f"client:{found.client.id}")
        allowed = set(_current(found.client.scopes, found.app_name))
        wanted = parse_scope_parameter(scope) if scope else tuple(sorted(allowed))
        refused = [s for s in wanted if s not in allowed]
        if refused:
            raise Forbidden("the client may not have the scope " + refused[0], field="scope")
        if not wanted:
            raise InvalidInput("scope is empty", field="scope")
        now = int(self._clock().timestamp())
        scope_text = " ".join(wanted)
        claims = {
            "iss": _ISSUER,
            "aud": _AUDIENCE,
            "sub": found.client.client_id,
            "cid": found.client.id,
            "app": found.app_name,
            "scope": scope_text,
            "iat": now,
            "exp": now + self._ttl_s,
            "jti": secrets.token_hex(8),
        }
        token = jwt.encode(claims, self._key, algorithm="HS256")
        return IssuedToken(token, self._ttl_s, scope_text)

    async def verify(self, token: str) -> ClientPrincipal:
        """A client's access token, or the admin key itself."""
        if token.count(".") != 2:
            principal = await self._auth.by_key(token)
            if not principal.is_admin:
                raise Unauthenticated("send an access token from the token endpoint")
            return ADMIN_CLIENT
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                audience=_AUDIENCE,
                issuer=_ISSUER,
                # Expiry is checked against the injected clock below, not the system's.
                options={
                    "require": ["exp", "iat", "sub", "scope", "cid"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError:
            raise CredentialRejected("invalid or expired access token") from None
        now = self._clock().timestamp()
        if not isinstance(claims["exp"], int) or claims["exp"] + _LEEWAY_S < now:
            raise CredentialRejected("invalid or expired access token")
        async with unit_of_work(self._db, readonly=True) as uow:
            found = await uow.oauth_clients.with_secret(str(claims["sub"]))
        # The same id and row: a client deleted and created again under its id is another.
        if found is None or found.client.id != claims["cid"]:
            raise CredentialRejected("the client of this access token was deleted")
        await self._auth.admit(f"client:{found.client.id}")
        allowed = _current(found.client.scopes, found.app_name)
        granted = _current(str(claims["scope"]).split(), found.app_name) & allowed
        return ClientPrincipal(found.client.app_id, found.app_name, granted, found.client.client_id)
