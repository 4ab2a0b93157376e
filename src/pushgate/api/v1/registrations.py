"""Device registrations: upsert, query, patch, delete, and a device's topics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field, field_validator

from pushgate.api.v1.common import ROUTER_DEFAULTS, StrictModel
from pushgate.domain.platforms import Platform, resolve_platform
from pushgate.domain.records import Registration, RegistrationFilter, RegistrationWrite
from pushgate.domain.roles import Role
from pushgate.domain.timezones import resolve_time_zone
from pushgate.http.deps import (
    AppScope,
    DevicePrincipalDep,
    PageDep,
    RuntimeDep,
    app_scope,
    next_cursor,
)
from pushgate.services import registrations as registration_service
from pushgate.services.auth import app_id_for, authorize_key

router = APIRouter(tags=["registrations"], **ROUTER_DEFAULTS)

_Text = Annotated[str | None, Field(default=None, max_length=255)]
_Name = Annotated[str, Field(min_length=1, max_length=255)]
_LOCALE = r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{1,8})*$"


class WebPushKeys(StrictModel):
    p256dh: str = Field(min_length=1, max_length=255, description="Browser public key, base64url")
    auth: str = Field(min_length=1, max_length=255, description="Auth secret, base64url")


class RegistrationFields(StrictModel):
    keys: WebPushKeys | None = Field(default=None, description="Web Push subscription keys")
    sandbox: bool = Field(default=False, description="Deliver through the APNs sandbox")
    device_id: _Text = None
    user: _Text = Field(default=None, description="User name")
    user_uuid: _Text = Field(default=None, description="Global user id")
    email: Annotated[
        str | None, Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    ] = None
    external_id: _Text = None
    locale: Annotated[str | None, Field(default=None, max_length=35, pattern=_LOCALE)] = None
    time_zone: Annotated[str | None, Field(default=None, max_length=64)] = None
    form_factor: Annotated[str | None, Field(default=None, max_length=32)] = None
    device_model: _Text = None
    push_group: _Text = None
    capabilities: list[_Name] | None = Field(default=None, max_length=100)
    topics: list[_Name] | None = Field(default=None, max_length=1000)
    active: bool | None = Field(default=None, description="false deactivates the registration")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        # IANA names, and the abbreviations and offsets devices send (SAP's "MESZ").
        if value is not None and resolve_time_zone(value) is None:
            raise ValueError(
                "must be an IANA time zone (Europe/Berlin), a common abbreviation (MESZ, PST) "
                "or an offset (UTC+2)"
            )
        return value

    def to_write(self) -> RegistrationWrite:
        named = self.model_fields_set
        values: dict[str, Any] = {}
        for name in (
            "sandbox",
            "device_id",
            "user_uuid",
            "email",
            "external_id",
            "locale",
            "time_zone",
            "form_factor",
            "device_model",
            "push_group",
        ):
            if name in named:
                values[name] = getattr(self, name)
        if "user" in named:
            values["user_name"] = self.user
        if "keys" in named:
            values["p256dh"] = self.keys.p256dh if self.keys else None
            values["auth_secret"] = self.keys.auth if self.keys else None
        return RegistrationWrite(
            values=values,
            topics=tuple(self.topics) if self.topics is not None else None,
            capabilities=tuple(self.capabilities) if self.capabilities is not None else None,
            active=self.active,
        )


class RegistrationIn(RegistrationFields):
    platform: str = Field(
        min_length=1,
        max_length=32,
        description="apns, apns_voip, fcm, webpush, wns, sms, or a vendor alias (ios, android, "
        "gcm, A, G, W, Apple, apns_internal...)",
    )
    token: str = Field(
        min_length=1,
        max_length=2048,
        description="Device token; Web Push: the subscription endpoint URL; SMS: E.164 number",
    )


class RegistrationPatch(RegistrationFields):
    pass


class RegistrationOut(BaseModel):
    id: str
    platform: Platform
    token: str
    keys: WebPushKeys | None
    sandbox: bool
    device_id: str | None
    user: str | None
    user_uuid: str | None
    user_uuid_history: list[str]
    email: str | None
    external_id: str | None
    locale: str | None
    time_zone: str | None
    form_factor: str | None
    device_model: str | None
    push_group: str | None
    capabilities: list[str]
    topics: list[str]
    active: bool
    deactivated_at: datetime | None
    deactivation_reason: str | None
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime

    @classmethod
    def of(cls, r: Registration) -> RegistrationOut:
        keys = (
            WebPushKeys(p256dh=r.p256dh, auth=r.auth_secret) if r.p256dh and r.auth_secret else None
        )
        return cls(
            id=r.id,
            platform=r.platform,
            token=r.token,
            keys=keys,
            sandbox=r.sandbox,
            device_id=r.device_id,
            user=r.user_name,
            user_uuid=r.user_uuid,
            user_uuid_history=list(r.user_uuid_history),
            email=r.email,
            external_id=r.external_id,
            locale=r.locale,
            time_zone=r.time_zone,
            form_factor=r.form_factor,
            device_model=r.device_model,
            push_group=r.push_group,
            capabilities=list(r.capabilities),
            topics=list(r.topics),
            active=r.active,
            deactivated_at=r.deactivated_at,
            deactivation_reason=r.deactivation_reason,
            created_at=r.created_at,
            updated_at=r.updated_at,
            last_seen_at=r.last_seen_at,
        )


class RegistrationList(BaseModel):
    items: list[RegistrationOut]
    next_cursor: str | None


WriteScope = Annotated[AppScope, Depends(app_scope(Role.REGISTRATIONS_WRITE), scope="function")]
ReadScope = Annotated[
    AppScope, Depends(app_scope(Role.PUSHREGISTRATIONS_READ, readonly=True), scope="function")
]
_Filter = Annotated[str | None, Query(max_length=255)]


@router.post(
    "/apps/{app}/registrations",
    response_model=RegistrationOut,
    status_code=201,
    responses={200: {"model": RegistrationOut, "description": "Updated an existing registration"}},
)
async def upsert_registration(
    app: str,
    body: RegistrationIn,
    principal: DevicePrincipalDep,
    runtime: RuntimeDep,
) -> Response:
    """Create (201) or update (200) the registration of (platform, token).

    Fields named in the body change; the others keep their values. Named topics that do not
    exist yet are created. A device may also register itself with its app user's token
    (Bearer): the registration then carries that user.
    """
    # The hot path: no transaction is opened here (see store/fast.py).
    write = body.to_write()
    if principal.user_name is not None:
        app_id = authorize_key(principal, app, None)
        write = registration_service.as_user(write, principal.user_name)
    else:
        app_id = await app_id_for(runtime.db, principal, app, Role.REGISTRATIONS_WRITE)
    registration, created = await registration_service.register_device(
        runtime.db,
        app_id,
        body.platform,
        body.token,
        write,
        runtime.clock(),
        endpoints=runtime.engine.registry.options,
    )
    # Serialized here, not re-validated against response_model by FastAPI (hot path).
    return Response(
        RegistrationOut.of(registration).model_dump_json(),
        status_code=201 if created else 200,
        media_type="application/json",
    )


@router.get("/apps/{app}/registrations", response_model=RegistrationList)
async def list_registrations(
    scope: ReadScope,
    page: PageDep,
    user: _Filter = None,
    user_uuid: Annotated[
        str | None, Query(max_length=255, description="Current or past global user id")
    ] = None,
    push_group: _Filter = None,
    platform: Annotated[str | None, Query(max_length=32)] = None,
    topic: _Filter = None,
    capability: _Filter = None,
    device_id: _Filter = None,
    active: bool | None = None,
) -> RegistrationList:
    where = RegistrationFilter(
        user_name=user,
        user_uuid=user_uuid,
        push_group=push_group,
        platform=resolve_platform(platform).platform if platform else None,
        topic=topic,
        capability=capability,
        active=active,
        device_id=device_id,
    )
    found = await registration_service.list_registrations(
        scope.uow, scope.app_id, where, after=page.after, limit=page.limit
    )
    return RegistrationList(
        items=[RegistrationOut.of(r) for r in found],
        next_cursor=next_cursor([r.id for r in found], page.limit),
    )


@router.get("/apps/{app}/registrations/{registration_id}", response_model=RegistrationOut)
async def get_registration(registration_id: str, scope: ReadScope) -> RegistrationOut:
    return RegistrationOut.of(
        await registration_service.get_registration(scope.uow, scope.app_id, registration_id)
    )


@router.patch("/apps/{app}/registrations/{registration_id}", response_model=RegistrationOut)
async def patch_registration(
    registration_id: str, body: RegistrationPatch, scope: WriteScope
) -> RegistrationOut:
    """Change the named fields; platform and token identify the registration and stay."""
    return RegistrationOut.of(
        await registration_service.update_registration(
            scope.uow, scope.app_id, registration_id, body.to_write(), scope.now
        )
    )


@router.delete(
    "/apps/{app}/registrations/{registration_id}", status_code=204, response_class=Response
)
async def delete_registration(registration_id: str, scope: WriteScope) -> Response:
    await registration_service.delete_registration(
        scope.uow, scope.app_id, registration_id, scope.now
    )
    return Response(status_code=204)


@router.put(
    "/apps/{app}/registrations/{registration_id}/topics/{topic}", response_model=RegistrationOut
)
async def subscribe(registration_id: str, topic: str, scope: WriteScope) -> RegistrationOut:
    """Subscribe the registration to the topic (created when missing); idempotent."""
    return RegistrationOut.of(
        await registration_service.subscribe(
            scope.uow, scope.app_id, registration_id, topic, scope.now
        )
    )


@router.delete(
    "/apps/{app}/registrations/{registration_id}/topics/{topic}",
    status_code=204,
    response_class=Response,
)
async def unsubscribe(registration_id: str, topic: str, scope: WriteScope) -> Response:
    await registration_service.unsubscribe(
        scope.uow, scope.app_id, registration_id, topic, scope.now
    )
    return Response(status_code=204)
