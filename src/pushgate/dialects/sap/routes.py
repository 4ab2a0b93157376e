"""The SAP dialect's routers, in the order they must be matched (the 404 fallback last)."""

from __future__ import annotations

from fastapi import APIRouter

from pushgate.dialects.sap import backend, paths, push, runtime
from pushgate.dialects.sap.errors import render_plain
from pushgate.http.dialect import dialect_route

_fallback = APIRouter(route_class=dialect_route(render_plain))
paths.add_fallback(_fallback)

router = APIRouter()
for _router in (
    push.router,
    backend.status_router,
    backend.registrations_router,
    runtime.router,
    _fallback,
):
    router.include_router(_router)
