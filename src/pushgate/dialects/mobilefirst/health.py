"""Push Health Checker: the database, the queue and each provider (services/health.py).

Any valid token (or the admin key) may read it: it names no app. 200 when the database and
the queue answer, 503 otherwise (a load balancer's cue), with the same body.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from pushgate.dialects.mobilefirst.errors import render
from pushgate.dialects.mobilefirst.openapi import TAG, documented
from pushgate.dialects.mobilefirst.requests import COMMON, Caller, authorized
from pushgate.dialects.mobilefirst.schemas import HealthOut
from pushgate.http.deps import RuntimeDep
from pushgate.http.dialect import dialect_route
from pushgate.services import health

router = APIRouter(route_class=dialect_route(render), tags=[TAG], dependencies=COMMON)
AnyCaller = Annotated[Caller, Depends(authorized(app=False))]


def _state(up: bool) -> str:
    return "UP" if up else "DOWN"


_DOCUMENTED = documented("Push Health Checker (GET)", ok=200, answer=HealthOut, errors=())
_DOCUMENTED["responses"][503] = {
    "model": HealthOut,
    "description": "The database or the queue does not answer",
}


@router.get("/imfpush/v1/health", **_DOCUMENTED)
async def check_health(runtime: RuntimeDep, caller: AnyCaller) -> JSONResponse:
    settings = runtime.settings
    redis_url = settings.redis_url if settings.queue == "redis" else None
    found = await health.check(runtime.db, redis_url=redis_url)
    body = {
        "status": _state(found.up),
        "database": _state(found.database),
        "queue": _state(found.queue),
        "providers": {
            name: {
                "state": p.state,
                "retrying": p.retrying,
                "suspectCredentials": p.suspect_credentials,
            }
            for name, p in found.providers.items()
        },
    }
    return JSONResponse(body, status_code=200 if found.up else 503)
