"""Liveness and readiness: the only routes without authentication (they reveal nothing)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from pushgate.http.deps import RuntimeDep

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: str


@router.get("/healthz", response_model=HealthOut)
async def healthz() -> HealthOut:
    """The process is up."""
    return HealthOut(status="ok")


@router.get("/readyz", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """The database answers; 503 otherwise, so load balancers stop sending traffic."""
    if await runtime.db.ping():
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "database unreachable"}, status_code=503)
