"""An app's named push platforms (what ServiceNow clients send as `platform`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from pushgate.api.v1.common import ROUTER_DEFAULTS, StrictModel
from pushgate.domain.platforms import Platform
from pushgate.domain.records import PushPlatform
from pushgate.domain.roles import Role
from pushgate.http.deps import AppScope, app_scope
from pushgate.services import platforms as platform_service

router = APIRouter(tags=["push platforms"], **ROUTER_DEFAULTS)


class PlatformIn(StrictModel):
    platform: str = Field(
        min_length=1,
        max_length=32,
        description="apns, apns_voip, fcm, webpush, wns, sms or an alias; apns_internal and "
        "apns_internal_voip name the APNs sandbox",
    )


class PlatformOut(BaseModel):
    name: str
    platform: Platform
    sandbox: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, found: PushPlatform) -> PlatformOut:
        return cls(
            name=found.name,
            platform=found.platform,
            sandbox=found.sandbox,
            created_at=found.created_at,
            updated_at=found.updated_at,
        )


class PlatformList(BaseModel):
    items: list[PlatformOut]


AdminScope = Annotated[AppScope, Depends(app_scope(Role.APP_ADMIN), scope="function")]
ReadScope = Annotated[
    AppScope, Depends(app_scope(Role.PUSHREGISTRATIONS_READ, readonly=True), scope="function")
]


@router.get("/apps/{app}/push-platforms", response_model=PlatformList)
async def list_platforms(scope: ReadScope) -> PlatformList:
    """Every app starts with Apple (apns) and Android (fcm)."""
    found = await scope.uow.platforms.list_for_app(scope.app_id)
    return PlatformList(items=[PlatformOut.of(p) for p in found])


@router.get("/apps/{app}/push-platforms/{name}", response_model=PlatformOut)
async def get_platform(name: str, scope: ReadScope) -> PlatformOut:
    return PlatformOut.of(await platform_service.get_platform(scope.uow, scope.app_id, name))


@router.put(
    "/apps/{app}/push-platforms/{name}",
    response_model=PlatformOut,
    responses={201: {"model": PlatformOut, "description": "Created the platform"}},
)
async def put_platform(name: str, body: PlatformIn, scope: AdminScope) -> Response:
    """Create (201) or re-map (200) a named platform."""
    found, created = await platform_service.put_platform(
        scope.uow, scope.app_id, name, body.platform, scope.now
    )
    return Response(
        PlatformOut.of(found).model_dump_json(),
        status_code=201 if created else 200,
        media_type="application/json",
    )


@router.delete("/apps/{app}/push-platforms/{name}", status_code=204, response_class=Response)
async def delete_platform(name: str, scope: AdminScope) -> Response:
    await platform_service.delete_platform(scope.uow, scope.app_id, name)
    return Response(status_code=204)
