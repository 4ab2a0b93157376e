"""Where the API is served: /mobileservices/push/... at the root, and under each configured
service path (PUSHGATE_SAP_SERVICE_PATHS), so a service key's URL with an instance path
(`https://host/5f9b5b8d-.../mobileservices/push/...`) works unchanged.

Every route is added twice: at the root (documented in /openapi.json) and under a
`{servicePath:path}` prefix that only answers for the configured paths (hidden, the same
operation). Anything else under /mobileservices/ is SAP's 404 ("the path is invalid").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request

from pushgate.errors import NotFound
from pushgate.http.deps import RuntimeDep, refuse_unstorable_parameters

ROOT = "/mobileservices/push"
_PREFIX = "/{servicePath:path}"
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


async def _configured_service_path(request: Request, runtime: RuntimeDep) -> None:
    path = "/" + str(request.path_params.get("servicePath", ""))
    if path not in runtime.settings.sap_service_paths:
        raise NotFound("no SAP service at this path", field="path")


def add(
    router: APIRouter, path: str, endpoint: Callable[..., Any], methods: list[str], **kw: Any
) -> None:
    """Serve `endpoint` at ROOT + path and under the configured service paths."""
    # Path and query values no database can store (NUL...) are refused first (400).
    checked = Depends(refuse_unstorable_parameters)
    router.add_api_route(ROOT + path, endpoint, methods=methods, dependencies=[checked], **kw)
    router.add_api_route(
        _PREFIX + ROOT + path,
        endpoint,
        methods=methods,
        **{**kw, "include_in_schema": False},
        dependencies=[Depends(_configured_service_path), checked],
    )


async def _no_resource() -> None:
    raise NotFound("the path is invalid: no resource of this API at this path", field="path")


def add_fallback(router: APIRouter) -> None:
    """SAP's 404 for every other path under /mobileservices/ (added after all routes)."""
    for path in ("/mobileservices/{rest:path}", _PREFIX + "/mobileservices/{rest:path}"):
        router.add_api_route(path, _no_resource, methods=_ALL_METHODS, include_in_schema=False)
