"""FastAPI dependencies: the runtime container, the caller, JSON-only bodies, paging."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request

from pushgate.config import Settings
from pushgate.delivery.engine import DeliveryEngine
from pushgate.domain.roles import Role
from pushgate.domain.text import UNSTORABLE_MESSAGE, is_unstorable
from pushgate.errors import Forbidden, InvalidInput, Unauthenticated, UnsupportedMediaType
from pushgate.http.rate_limits import RequestLimits
from pushgate.services.auth import Authenticator, Principal, resolve_app_id
from pushgate.services.user_auth import UserAuthenticator, is_user_token
from pushgate.services.vault import Vault
from pushgate.store.engine import Database
from pushgate.store.uow import UnitOfWork, unit_of_work


@dataclass(frozen=True, slots=True)
class Runtime:
    """What the composition root built, shared by every request of one process."""

    settings: Settings
    db: Database
    vault: Vault
    auth: Authenticator
    clock: Callable[[], datetime]
    engine: DeliveryEngine
    users: UserAuthenticator
    limits: RequestLimits


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_principal(request: Request, runtime: RuntimeDep) -> Principal:
    """Authenticate by X-API-Key, Authorization: Bearer (key or OAuth token) or Basic alias:key."""
    return await _authenticate(request, runtime, allow_users=False)


async def get_device_principal(request: Request, runtime: RuntimeDep) -> Principal:
    """Like get_principal, and also an app user's token (Bearer): a device registering itself.

    A user principal holds no role; the route decides what it may do as that user.
    """
    return await _authenticate(request, runtime, allow_users=True)


async def _authenticate(request: Request, runtime: Runtime, *, allow_users: bool) -> Principal:
    key = request.headers.get("x-api-key")
    if key:
        return await runtime.auth.by_key(key)
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        if is_user_token(value):
            user = await runtime.users.by_token(value)
            if not allow_users:
                raise Forbidden("a user token may only register the user's own devices")
            return Principal(user.app_id, user.app_name, frozenset(), "", user_name=user.user_name)
        return await runtime.auth.by_bearer(value)
    if scheme.lower() == "basic" and value:
        alias, secret = decode_basic(value)
        return await runtime.auth.by_basic(alias, secret)
    raise Unauthenticated("send an API key (X-API-Key, Bearer or Basic alias:key)")


def decode_basic(value: str) -> tuple[str, str]:
    try:
        alias, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("malformed Basic credentials") from None
    if not sep:
        raise Unauthenticated("malformed Basic credentials")
    return alias, secret


PrincipalDep = Annotated[Principal, Depends(get_principal)]
DevicePrincipalDep = Annotated[Principal, Depends(get_device_principal)]


async def require_json(request: Request) -> None:
    """A request that carries a body must say it is JSON (415 otherwise, before any parsing)."""
    has_body = request.headers.get("content-length", "0") != "0" or (
        "transfer-encoding" in request.headers
    )
    if not has_body:
        return
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType("send the body as application/json", field="content-type")


async def refuse_unstorable_parameters(request: Request) -> None:
    """Path and query values with text no database stores (NUL, lone surrogates): 400."""
    for source in (request.path_params, request.query_params):
        for name, value in source.items():
            if isinstance(value, str) and is_unstorable(value):
                raise InvalidInput(UNSTORABLE_MESSAGE, field=name)


@dataclass(frozen=True, slots=True)
class AppScope:
    """The app named in the path, after authorization, and the open transaction."""

    app_id: int
    uow: UnitOfWork
    principal: Principal
    now: datetime


def app_scope(role: Role, *, readonly: bool = False) -> Callable[..., AsyncIterator[AppScope]]:
    """Dependency: open a transaction and authorize `role` on the path's app."""

    async def _scope(
        app: str, principal: PrincipalDep, runtime: RuntimeDep
    ) -> AsyncIterator[AppScope]:
        async with unit_of_work(runtime.db, readonly=readonly) as uow:
            app_id = await resolve_app_id(uow, principal, app, role)
            yield AppScope(app_id, uow, principal, runtime.clock())

    return _scope


MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Page:
    after: str | None
    limit: int


async def get_page(
    cursor: Annotated[
        str | None, Query(max_length=512, description="next_cursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> Page:
    return Page(decode_cursor(cursor) if cursor else None, limit)


PageDep = Annotated[Page, Depends(get_page)]


def encode_cursor(last_key: str) -> str:
    return base64.urlsafe_b64encode(last_key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("not a cursor this API returned", field="cursor") from None


def next_cursor(keys: list[str], limit: int) -> str | None:
    """A cursor only when the page is full: an empty next page is possible, a missed row is not."""
    return encode_cursor(keys[-1]) if len(keys) == limit and keys else None
