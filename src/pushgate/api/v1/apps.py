"""Apps and their API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from pushgate.api.v1.common import ROUTER_DEFAULTS, StrictModel, errors
from pushgate.domain.records import ApiKey, App
from pushgate.domain.roles import Role
from pushgate.errors import Forbidden, NotFound
from pushgate.http.deps import (
    AppScope,
    PageDep,
    PrincipalDep,
    RuntimeDep,
    app_scope,
    next_cursor,
)
from pushgate.services import apps as app_service
from pushgate.services import key_certificates
from pushgate.services.auth import Principal, resolve_app_id
from pushgate.store.uow import UnitOfWork, unit_of_work

router = APIRouter(tags=["apps"], **ROUTER_DEFAULTS)


class AppCreate(StrictModel):
    name: str = Field(min_length=1, max_length=128, examples=["news-ios"])
    description: str = Field(default="", max_length=2000)


class AppPatch(StrictModel):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    description: str | None = Field(default=None, max_length=2000)
    rate_limits: dict[str, float] | None = Field(
        default=None,
        max_length=10,
        description='Sends per second per provider, e.g. {"apns": 500}; {} removes all',
    )


class AppOut(BaseModel):
    name: str
    company_id: int
    description: str
    rate_limits: dict[str, float]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, app: App) -> AppOut:
        return cls(
            name=app.name,
            company_id=app.company_id,
            description=app.description,
            rate_limits=app.rate_limits,
            created_at=app.created_at,
            updated_at=app.updated_at,
        )


class AppList(BaseModel):
    items: list[AppOut]
    next_cursor: str | None


class KeyCreate(StrictModel):
    alias: str = Field(min_length=1, max_length=128)
    roles: list[Role] = Field(min_length=1, max_length=len(Role))


class KeyCreated(BaseModel):
    alias: str
    key: str = Field(description="Shown this once; only its hash is stored.")
    roles: list[Role]


class KeyOut(BaseModel):
    alias: str
    roles: list[Role]
    created_at: datetime

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        return cls(alias=key.alias, roles=sorted(key.roles), created_at=key.created_at)


class KeyList(BaseModel):
    items: list[KeyOut]
    next_cursor: str | None


def _admin_only(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only the admin key manages apps")


async def _get_app(uow: UnitOfWork, principal: Principal, name: str, role: Role | None) -> App:
    app_id = await resolve_app_id(uow, principal, name, role)
    app = await uow.apps.get(app_id)
    if app is None:
        raise NotFound("no app with this name", field="app")
    return app


@router.post("/apps", status_code=201, response_model=AppOut, responses=errors(409))
async def create_app(body: AppCreate, principal: PrincipalDep, runtime: RuntimeDep) -> AppOut:
    """Create an app (admin key only)."""
    _admin_only(principal)
    async with unit_of_work(runtime.db) as uow:
        app = await app_service.create_app(uow, body.name, body.description, runtime.clock())
    return AppOut.of(app)


@router.get("/apps", response_model=AppList)
async def list_apps(principal: PrincipalDep, runtime: RuntimeDep, page: PageDep) -> AppList:
    """Every app for the admin key; an app's own key lists only that app."""
    async with unit_of_work(runtime.db, readonly=True) as uow:
        found = await app_service.list_apps(uow, principal, after=page.after, limit=page.limit)
    return AppList(
        items=[AppOut.of(a) for a in found],
        next_cursor=next_cursor([a.name for a in found], page.limit),
    )


@router.get("/apps/{app}", response_model=AppOut)
async def get_app(app: str, principal: PrincipalDep, runtime: RuntimeDep) -> AppOut:
    async with unit_of_work(runtime.db, readonly=True) as uow:
        return AppOut.of(await _get_app(uow, principal, app, None))


@router.patch("/apps/{app}", response_model=AppOut, responses=errors(409))
async def patch_app(
    app: str, body: AppPatch, principal: PrincipalDep, runtime: RuntimeDep
) -> AppOut:
    """Rename or describe an app (admin key or the app's app_admin key)."""
    async with unit_of_work(runtime.db) as uow:
        found = await _get_app(uow, principal, app, Role.APP_ADMIN)
        if body.name is not None and body.name != found.name:
            _admin_only(principal)  # a rename would orphan the keys' idea of their app name
        updated = await app_service.update_app(
            uow,
            found,
            name=body.name,
            description=body.description,
            rate_limits=body.rate_limits,
            now=runtime.clock(),
        )
    return AppOut.of(updated)


@router.delete("/apps/{app}", status_code=204, response_class=Response)
async def delete_app(app: str, principal: PrincipalDep, runtime: RuntimeDep) -> Response:
    """Delete an app and everything it owns (admin key only)."""
    _admin_only(principal)
    async with unit_of_work(runtime.db) as uow:
        await app_service.delete_app(uow, await _get_app(uow, principal, app, Role.APP_ADMIN))
    return Response(status_code=204)


AdminScope = Annotated[AppScope, Depends(app_scope(Role.APP_ADMIN), scope="function")]
AdminReadScope = Annotated[
    AppScope, Depends(app_scope(Role.APP_ADMIN, readonly=True), scope="function")
]


@router.post("/apps/{app}/keys", status_code=201, response_model=KeyCreated, responses=errors(409))
async def create_key(body: KeyCreate, scope: AdminScope) -> KeyCreated:
    """Create an API key; the response shows the key this once."""
    key, secret = await app_service.create_key(
        scope.uow, scope.app_id, body.alias, [r.value for r in body.roles], scope.now
    )
    return KeyCreated(alias=key.alias, key=secret, roles=sorted(key.roles))


@router.get("/apps/{app}/keys", response_model=KeyList)
async def list_keys(scope: AdminReadScope, page: PageDep) -> KeyList:
    found = await scope.uow.keys.list_page(scope.app_id, after=page.after, limit=page.limit)
    return KeyList(
        items=[KeyOut.of(k) for k in found],
        next_cursor=next_cursor([k.alias for k in found], page.limit),
    )


@router.get("/apps/{app}/keys/{alias}", response_model=KeyOut)
async def get_key(alias: str, scope: AdminReadScope) -> KeyOut:
    return KeyOut.of(await app_service.get_key(scope.uow, scope.app_id, alias))


@router.delete("/apps/{app}/keys/{alias}", status_code=204, response_class=Response)
async def revoke_key(alias: str, scope: AdminScope, runtime: RuntimeDep) -> Response:
    """Revoke a key; its OAuth tokens stop working too."""
    key_hash = await app_service.revoke_key(scope.uow, scope.app_id, alias)
    runtime.auth.forget(key_hash, scope.app_id, alias)
    return Response(status_code=204)


class KeyCertificateIn(StrictModel):
    certificate: str = Field(
        min_length=1,
        max_length=key_certificates.MAX_PEM_LENGTH,
        description="The client certificate (PEM) a TLS client authenticates as this key with",
    )


class KeyCertificateOut(BaseModel):
    alias: str
    sha256: str = Field(description="SHA-256 of the certificate's DER, lowercase hex")


@router.put(
    "/apps/{app}/keys/{alias}/certificate",
    response_model=KeyCertificateOut,
    responses=errors(409),
)
async def attach_key_certificate(
    alias: str, body: KeyCertificateIn, scope: AdminScope, runtime: RuntimeDep
) -> KeyCertificateOut:
    """Attach a client certificate to the key (replacing its previous one): an X.509 service
    key. Clients presenting it over TLS (to pushgate, or to a trusted proxy) act as the key."""
    fingerprint, previous = await key_certificates.attach_certificate(
        scope.uow, scope.app_id, alias, body.certificate, scope.now
    )
    for stale in {fingerprint, previous} - {None}:
        runtime.auth.forget_certificate(str(stale))
    return KeyCertificateOut(alias=alias, sha256=fingerprint)


@router.get("/apps/{app}/keys/{alias}/certificate", response_model=KeyCertificateOut)
async def get_key_certificate(alias: str, scope: AdminReadScope) -> KeyCertificateOut:
    """The fingerprint of the key's certificate (404 when it has none)."""
    fingerprint = await key_certificates.get_fingerprint(scope.uow, scope.app_id, alias)
    return KeyCertificateOut(alias=alias, sha256=fingerprint)


@router.delete("/apps/{app}/keys/{alias}/certificate", status_code=204, response_class=Response)
async def detach_key_certificate(alias: str, scope: AdminScope, runtime: RuntimeDep) -> Response:
    """Remove the key's certificate; the key itself stays."""
    fingerprint = await key_certificates.detach_certificate(scope.uow, scope.app_id, alias)
    runtime.auth.forget_certificate(fingerprint)
    return Response(status_code=204)
