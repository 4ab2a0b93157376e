"""ServiceNow Push Installation API (seed 000): `POST /api/now[/{api_version}]/push/...`.

`installation` adds or updates the signed-in app user's token on one of the app's named push
platforms; `removeInstallation` deactivates the user's tokens on one. Both answer 200 with an
empty body ("Response body parameters: None"). The order of the checks, so that each bad
request gets one answer: the resource (path and api_version), the credentials (HTTP Basic as
an app user; an unknown application is 400 once credentials were sent), the Content-Type, the
body, then the platform and token. Mapping decisions: docs/dialects.md.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from pushgate.dialects.servicenow.errors import ALLOWED_METHODS, BASIC_CHALLENGE, render
from pushgate.dialects.servicenow.schemas import (
    InstallationIn,
    RemoveInstallationIn,
    ServiceNowError,
)
from pushgate.errors import InvalidInput, MissingField, Unauthenticated, UnsupportedMediaType
from pushgate.http.deps import Runtime, RuntimeDep, decode_basic
from pushgate.http.dialect import dialect_route
from pushgate.http.rate_limits import count_failure
from pushgate.services import installations
from pushgate.services.user_auth import UserPrincipal

router = APIRouter(route_class=dialect_route(render), tags=["ServiceNow Push Installation API"])

# The versions the document names ("For example, v1 or v2"); the default URL is the latest.
KNOWN_VERSIONS = ("v1", "v2")
_BASE = "/api/now/push/{pushApplicationName}"
_VERSIONED = "/api/now/{api_version}/push/{pushApplicationName}"
_Body = TypeVar("_Body", bound=BaseModel)

# Path parameters are read from the request and documented here, not declared as handler
# parameters: FastAPI would then document a 422 this dialect never answers (every refusal is
# 400, 401 or 500). An unknown api_version is refused by the route itself (400).
_APP_PARAMETER = {
    "name": "pushApplicationName",
    "in": "path",
    "required": True,
    "description": "The push application's name (a pushgate app's name)",
    "schema": {"type": "string", "minLength": 1},
    "example": "ServiceNowPushApp",
}
_VERSION_PARAMETER = {
    "name": "api_version",
    "in": "path",
    "required": True,
    "description": "Version of the endpoint: v1 or v2 (any other is 400); omit it for the latest",
    "schema": {"type": "string", "enum": list(KNOWN_VERSIONS)},
}


def _documented(summary: str, body: type[BaseModel], *, versioned: bool) -> dict[str, Any]:
    error = {"model": ServiceNowError}
    return {
        "summary": summary,
        "response_class": Response,
        "responses": {
            200: {"description": "Successful; the body is empty", "content": {}},
            400: {**error, "description": "Unknown api_version, application or platform, "
                  "a Content-Type other than application/json, malformed JSON, missing fields"},
            401: {**error, "description": "Missing or wrong user name and password",
                  "headers": {"WWW-Authenticate": {"schema": {"type": "string"},
                                                   "description": BASIC_CHALLENGE}}},
            413: {**error, "description": "A body over the size limit"},
            429: {**error, "description": "Over the user's request rate, or too many failed "
                  "sign-ins from this address; retry after Retry-After seconds",
                  "headers": {"Retry-After": {"schema": {"type": "integer"},
                                              "description": "Seconds to wait"}}},
            500: {**error, "description": "A server-side error"},
        },
        "openapi_extra": {
            "parameters": [_VERSION_PARAMETER, _APP_PARAMETER] if versioned else [_APP_PARAMETER],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": body.model_json_schema()}},
            },
            # An app user's name and password (the Basic scheme here is not alias:key).
            "security": [{"Basic": []}],
        },
    }  # fmt: skip


_INSTALL = "Add or update the user's token on a push platform"
_REMOVE = "Deactivate the user's tokens on a push platform"


@router.post(_BASE + "/installation", **_documented(_INSTALL, InstallationIn, versioned=False))
async def install(request: Request, runtime: RuntimeDep) -> Response:
    """Adds or updates the token that lets the device receive the application's pushes."""
    return await _install(request, runtime)


@router.post(_VERSIONED + "/installation", **_documented(_INSTALL, InstallationIn, versioned=True))
async def install_versioned(request: Request, runtime: RuntimeDep) -> Response:
    """Adds or updates the token (a named version of the endpoint)."""
    return await _install(request, runtime)


@router.post(
    _BASE + "/removeInstallation", **_documented(_REMOVE, RemoveInstallationIn, versioned=False)
)
async def remove_installation(request: Request, runtime: RuntimeDep) -> Response:
    """Deactivates the user's tokens on the platform for this application."""
    return await _remove(request, runtime)


@router.post(
    _VERSIONED + "/removeInstallation",
    **_documented(_REMOVE, RemoveInstallationIn, versioned=True),
)
async def remove_installation_versioned(request: Request, runtime: RuntimeDep) -> Response:
    """Deactivates the user's tokens (a named version of the endpoint)."""
    return await _remove(request, runtime)


async def _method_not_supported() -> Response:
    raise HTTPException(405, f"this resource supports {ALLOWED_METHODS} only")


async def _no_resource() -> Response:
    raise InvalidInput("no resource of this API at this path", field="resource")


# ServiceNow's own answers for the rest of its namespace: a known resource with another
# method, and a path that names no resource (not the native 404/405 envelope).
for _path in (_BASE + "/installation", _VERSIONED + "/installation",
              _BASE + "/removeInstallation", _VERSIONED + "/removeInstallation"):  # fmt: skip
    router.add_api_route(
        _path,
        _method_not_supported,
        methods=["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
        include_in_schema=False,
    )
router.add_api_route(
    "/api/now/{resource:path}",
    _no_resource,
    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
    include_in_schema=False,
)


async def _install(request: Request, runtime: Runtime) -> Response:
    user = await _sign_in(request, runtime, _application(request))
    body = await _read(request, InstallationIn)
    await installations.install(
        runtime.db,
        user.app_id,
        user.user_name,
        body.platform,
        body.token,
        runtime.clock(),
        endpoints=runtime.engine.registry.options,
    )
    return Response(status_code=200)


async def _remove(request: Request, runtime: Runtime) -> Response:
    user = await _sign_in(request, runtime, _application(request))
    body = await _read(request, RemoveInstallationIn)
    await installations.remove_installations(
        runtime.db, user.app_id, user.user_name, body.platform, runtime.clock()
    )
    return Response(status_code=200)


def _application(request: Request) -> str:
    """The path's application, once the path's api_version (if any) is a known one."""
    api_version = request.path_params.get("api_version")
    if api_version is not None and api_version not in KNOWN_VERSIONS:
        raise InvalidInput(
            f"unknown API version; use {' or '.join(KNOWN_VERSIONS)}, or none for the latest",
            field="api_version",
        )
    app_name: str = request.path_params["pushApplicationName"]
    return app_name


async def _sign_in(request: Request, runtime: Runtime, app_name: str) -> UserPrincipal:
    """HTTP Basic as one of the app's users (ServiceNow authenticates before anything else)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise Unauthenticated("send the app user's name and password with HTTP Basic")
    name, password = decode_basic(value.strip())
    try:
        return await runtime.users.by_password(app_name, name, password)
    except Unauthenticated as exc:
        # Only now, and only to a caller who sent credentials, is an unknown app told apart.
        if not await installations.application_exists(runtime.db, app_name):
            count_failure(request, exc)  # a password tried (and hashed) all the same
            raise InvalidInput(
                "no push application with this name", field="pushApplicationName"
            ) from None
        raise


async def _read(request: Request, model: type[_Body]) -> _Body:
    """The JSON body as `model`; the document: "Content-Type: Only supports application/json"."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaType("send the body as application/json", field="content-type")
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        raise InvalidInput("the body is not valid JSON", field="body") from None
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        if first["type"] == "missing":
            raise MissingField(f"{field} is required", field=field) from None
        raise InvalidInput(f"{field}: {first['msg']}", field=field) from None
