"""GET /metrics: Prometheus' scrape, with the admin key (or on --metrics-port, without)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from pushgate.errors import Forbidden
from pushgate.http.deps import PrincipalDep, RuntimeDep
from pushgate.http.metrics import scrape
from pushgate.telemetry import CONTENT_TYPE

router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
async def metrics(principal: PrincipalDep, runtime: RuntimeDep) -> Response:
    """Request, delivery and queue metrics in Prometheus' text format (the admin key)."""
    if not principal.is_admin:
        raise Forbidden("only the admin key reads /metrics (or use --metrics-port)")
    return Response(await scrape(runtime.engine), media_type=CONTENT_TYPE)
