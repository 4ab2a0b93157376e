"""What every MobileFirst request goes through: Accept, the bearer token and its scopes, the
app of the path, and a JSON body.

Order of the checks (one answer per request): Accept (406), the token and its scopes (401),
the application (404; only a caller holding its scope learns whether it exists), the
Content-Type (405), the body (400).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from pushgate.dialects.mobilefirst.errors import Keyed, Missing, NotAcceptable, NotJson
from pushgate.domain.records import App
from pushgate.domain.text import UNSTORABLE_MESSAGE, find_unstorable, is_unstorable
from pushgate.errors import InvalidInput, MissingField, Unauthenticated
from pushgate.http.deps import Runtime, RuntimeDep
from pushgate.services.oauth_clients import SIGNING_PURPOSE, ClientPrincipal, ClientTokens
from pushgate.store.uow import unit_of_work

Model = TypeVar("Model", bound=BaseModel)
_JSON_TYPES = ("application/json", "application/*", "*/*")


def client_tokens(runtime: Runtime) -> ClientTokens:
    return ClientTokens(
        runtime.db,
        runtime.auth,
        signing_key=runtime.vault.derive(SIGNING_PURPOSE),
        ttl_s=runtime.settings.oauth_token_ttl_s,
        clock=runtime.clock,
    )


async def accept_json(request: Request) -> None:
    """406 when Accept names media types and none of them admits application/json."""
    header = request.headers.get("accept")
    if not header or not header.strip():
        return
    for part in header.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        refused = any(p.replace(" ", "").lower() in ("q=0", "q=0.0", "q=0.00") for p in params)
        if media.lower() in _JSON_TYPES and not refused:
            return
    raise NotAcceptable("unsupported_accept", "this API answers application/json only")


async def refuse_unstorable(request: Request) -> None:
    for source in (request.path_params, request.query_params):
        for name, value in source.items():
            if isinstance(value, str) and is_unstorable(value):
                raise InvalidInput(UNSTORABLE_MESSAGE, field=name)


@dataclass(frozen=True, slots=True)
class Caller:
    principal: ClientPrincipal
    app: App | None  # the app the path names, when it names one


async def bearer(request: Request, runtime: Runtime) -> ClientPrincipal:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send Authorization: Bearer <access token>")
    return await client_tokens(runtime).verify(token.strip())


def authorized(*scopes: str, app: bool = True) -> Callable[[Request, Runtime], Awaitable[Caller]]:
    """A dependency: the caller holds one of `scopes` (none: any valid token) and, when the
    path names an application, its push.application scope; the app itself when it exists."""

    async def dependency(request: Request, runtime: RuntimeDep) -> Caller:
        principal = await bearer(request, runtime)
        app_name = request.path_params.get("applicationId") if app else None
        needed: tuple[str | None, ...] = scopes or (None,)
        if not any(principal.allows(scope, app_name) for scope in needed):
            raise Unauthenticated(
                "the token lacks the scope "
                + " or ".join(s or "" for s in needed)
                + (f" with push.application.{app_name}" if app_name else "")
            )
        found = await _app(runtime, app_name) if app_name is not None else None
        return Caller(principal, found)

    return dependency


async def _app(runtime: Runtime, name: str) -> App:
    async with unit_of_work(runtime.db, readonly=True) as uow:
        found = await uow.apps.get_by_name(name)
    if found is None:
        raise Missing("app_not_found", "no application with this id", field="applicationId")
    return found


def the_app(caller: Caller) -> App:
    assert caller.app is not None  # noqa: S101 - routes with an applicationId have one
    return caller.app


async def read_json(request: Request) -> Any:
    """The body as JSON: Content-Type application/json (else 405), valid JSON (else 400)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        raise NotJson("unsupported_content_type", "send the body as application/json")
    raw = await request.body()
    try:
        document = json.loads(raw)
        # Both recurse: the parser past ~990 levels, find_unstorable (two frames a level)
        # past a few hundred. A RecursionError was a 500 (fuzzing, reliability.md B3/B4).
        unstorable = find_unstorable(document)
    except (ValueError, UnicodeDecodeError):
        raise Keyed("invalid_json", "the body is not valid JSON", field="body") from None
    except RecursionError:
        raise Keyed("invalid_json", "the body is nested too deep", field="body") from None
    if unstorable:
        raise InvalidInput(UNSTORABLE_MESSAGE, field="body")
    return document


def parse(model: type[Model], document: Any, *, prefix: str = "") -> Model:
    """Validate against `model`; the first problem is a 400 naming its field."""
    if not isinstance(document, dict):
        raise Keyed("invalid_json", "the body must be a JSON object", field=prefix or "body")
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = prefix + ".".join(str(p) for p in first["loc"])
        if first["type"] == "missing":
            raise MissingField(f"{field} is required", field=field) from None
        raise InvalidInput(f"{field}: {first['msg']}", field=field) from None


async def body_of(request: Request, model: type[Model]) -> Model:
    return parse(model, await read_json(request))


COMMON = [Depends(accept_json), Depends(refuse_unstorable)]
