"""MobileFirst Server Push Service REST API (seed 003) under /imfpush/v1, and its token
endpoint. One router of the dialect's routers; anything else under /imfpush/ answers in the
dialect's shape too: 405 (with Allow) for another method on a known path, else 404."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from pushgate.dialects.mobilefirst import (
    applications,
    devices,
    health,
    messages,
    settings,
    tags,
    token,
    webhooks,
)
from pushgate.dialects.mobilefirst.errors import MethodNotAllowed, Missing, render
from pushgate.http.dialect import dialect_route

_PARTS: tuple[APIRouter, ...] = (
    devices.router,
    tags.router,
    messages.router,
    applications.router,
    settings.router,
    webhooks.router,
    health.router,
    token.router,
)
router = APIRouter()
for part in _PARTS:
    router.include_router(part)

# (path pattern, methods) of every route above, for the 405-or-404 answer below.
_KNOWN: list[tuple[re.Pattern[str], frozenset[str]]] = [
    (route.path_regex, frozenset(route.methods or ()))
    for part in _PARTS
    for route in part.routes
    if isinstance(route, APIRoute)
]
_fallback = APIRouter(route_class=dialect_route(render))


@_fallback.api_route(
    "/imfpush/{rest:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
    include_in_schema=False,
)
async def elsewhere(request: Request) -> Response:
    """Nothing here answers this method and path: 405 when the path exists, else 404."""
    path = request.url.path
    allowed = sorted({m for pattern, methods in _KNOWN if pattern.match(path) for m in methods})
    if allowed:
        raise MethodNotAllowed(allowed)
    raise Missing("not_found", "no such resource", field=None)


router.include_router(_fallback)
