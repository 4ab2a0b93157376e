"""The seed's four endpoints, at the root and under Discord's API base (`/api[/v{n}]`).

Authorization is an app user's token, bare (`Authorization: TOKEN`, as Discord clients send
it) or `Bearer TOKEN`: it names the app and the user, `@me`. Every error renders in
Discord's shape (errors.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from pushgate.dialects.discord.errors import InvalidApiVersion, render_error
from pushgate.dialects.discord.schemas import (
    DeviceIn,
    DiscordError,
    RegisterDeviceIn,
    SyncDevicesIn,
    SyncDevicesOut,
    SyncTokenOut,
    UnregisterDeviceIn,
)
from pushgate.errors import MissingField, Unauthenticated
from pushgate.http.deps import RuntimeDep
from pushgate.http.dialect import dialect_route
from pushgate.services import device_sync
from pushgate.services.device_sync import DeviceToken
from pushgate.services.user_auth import UserPrincipal

router = APIRouter(tags=["discord"], route_class=dialect_route(render_error))

# Discord's documented API versions (v6-v8 deprecated but still answered there).
API_VERSIONS = frozenset({"6", "7", "8", "9", "10"})
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": DiscordError, "description": "Invalid Form Body (50035) or invalid JSON"},
    401: {"model": DiscordError, "description": "401: Unauthorized"},
    # Declared so that FastAPI does not document its native 422, which these never answer.
    "4XX": {"model": DiscordError, "description": "Other client errors, in Discord's shape"},
}
_SECURITY: dict[str, Any] = {"security": [{"Bearer": []}]}


async def current_user(request: Request, runtime: RuntimeDep) -> UserPrincipal:
    """The user of the Authorization header: `TOKEN` or `Bearer TOKEN`."""
    value = request.headers.get("authorization", "").strip()
    scheme, _, rest = value.partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else value
    if not token:
        raise Unauthenticated("send the user's token in Authorization")
    return await runtime.users.by_token(token)


Me = Annotated[UserPrincipal, Depends(current_user)]
M = TypeVar("M", bound=BaseModel)


def _form(model: type[M], body: M | None) -> M:
    """An absent (or null) body is a form whose every required field is missing."""
    if body is not None:
        return body
    try:
        return model.model_validate({})
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None


def _device(body: DeviceIn) -> DeviceToken:
    return DeviceToken(body.provider, body.token)


async def register_device(
    user: Me,
    runtime: RuntimeDep,
    body: Annotated[RegisterDeviceIn | None, Body()] = None,
) -> Response:
    """Register a device's push token (and its PushKit VoIP token) for the signed-in user.

    The VoIP token is a second registration of the same device. 204 on success.
    """
    form = _form(RegisterDeviceIn, body)
    devices = [_device(form)]
    if (form.voip_token is None) != (form.voip_provider is None):
        missing = "voip_provider" if form.voip_provider is None else "voip_token"
        raise MissingField("This field is required", field=missing)
    if form.voip_provider is not None and form.voip_token is not None:
        devices.append(DeviceToken(form.voip_provider, form.voip_token))
    await device_sync.register_user_devices(
        runtime.db, user, devices, runtime.clock(), endpoints=runtime.engine.registry.options
    )
    return Response(status_code=204)


async def unregister_device(
    user: Me,
    runtime: RuntimeDep,
    body: Annotated[UnregisterDeviceIn | None, Body()] = None,
) -> Response:
    """Stop pushing the signed-in user's notifications to this token. 204, known or not."""
    form = _form(UnregisterDeviceIn, body)
    await device_sync.unregister_user_device(runtime.db, user, _device(form), runtime.clock())
    return Response(status_code=204)


async def get_sync_token(user: Me, runtime: RuntimeDep) -> SyncTokenOut:
    """A sync token for the signed-in user, valid for seven days."""
    return SyncTokenOut(token=device_sync.issue_sync_token(runtime.vault, user, runtime.clock()))


async def sync_devices(
    user: Me,
    runtime: RuntimeDep,
    body: Annotated[SyncDevicesIn | None, Body()] = None,
) -> SyncDevicesOut:
    """Push the notifications of every account whose sync token is valid to this token.

    Accounts synced before and not named now are dropped; the signed-in user owns the token.
    """
    form = _form(SyncDevicesIn, body)
    invalid = await device_sync.sync_device(
        runtime.db,
        runtime.vault,
        user,
        _device(form),
        form.push_sync_tokens,
        runtime.clock(),
        endpoints=runtime.engine.registry.options,
    )
    return SyncDevicesOut(invalid_push_sync_tokens=invalid)


async def _known_version(version: str) -> None:
    if version not in API_VERSIONS:
        raise InvalidApiVersion("Invalid API version", field="version")


# (method, path, endpoint, status; None: 200 with the endpoint's return type)
_ROUTES: tuple[tuple[str, str, Callable[..., Any], int | None], ...] = (
    ("POST", "/users/@me/devices", register_device, 204),
    ("DELETE", "/users/@me/devices", unregister_device, 204),
    ("GET", "/users/@me/devices/sync-token", get_sync_token, None),
    ("PUT", "/users/@me/devices/sync", sync_devices, None),
)


def _add_routes() -> None:
    """The seed's paths at the root (documented), and under `/api` and `/api/v{n}` (hidden).

    Discord clients join a base URL (`https://discord.com/api/v10`) and these paths.
    """
    for prefix in ("", "/api", "/api/v{version}"):
        for method, path, endpoint, status in _ROUTES:
            router.add_api_route(
                prefix + path,
                endpoint,
                methods=[method],
                status_code=status,
                response_class=Response if status == 204 else JSONResponse,
                responses=_ERRORS,
                include_in_schema=not prefix,
                dependencies=[Depends(_known_version)] if "{version}" in prefix else None,
                openapi_extra=_SECURITY,
                name=f"discord_{endpoint.__name__}" + ("_versioned" if prefix else ""),
            )


_add_routes()
