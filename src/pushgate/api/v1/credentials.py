"""Provider credentials of an app: write-only secrets, readable settings."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from pushgate.api.v1.common import ROUTER_DEFAULTS, StrictModel
from pushgate.domain.records import CredentialInfo
from pushgate.domain.roles import Role
from pushgate.http.deps import AppScope, PrincipalDep, RuntimeDep, app_scope
from pushgate.services import credential_probes
from pushgate.services import credentials as credential_service
from pushgate.services.auth import resolve_app_id
from pushgate.store.uow import unit_of_work

router = APIRouter(tags=["credentials"], **ROUTER_DEFAULTS)


class Provider(StrEnum):
    APNS = "apns"
    FCM = "fcm"
    WEBPUSH = "webpush"
    WNS = "wns"
    SMS = "sms"


_SECRET = "Write-only: validated, encrypted at rest, never returned."  # noqa: S105 - doc text
_Str = Annotated[str | None, Field(default=None, max_length=16384)]


class CredentialIn(StrictModel):
    """Fields by provider. apns: key_id, team_id, key (.p8) and topic, or certificate,
    private_key [, private_key_password] and topic. fcm: service_account. webpush: subject and
    generate=true, or private_key [+ public_key]. wns: client_id, client_secret. sms:
    gateway_url, auth_type (none|basic|bearer), username, password, token, sender."""

    endpoint: str | None = Field(
        default=None, max_length=2048, description="Override of the provider's base URL."
    )
    key_id: _Str = None
    team_id: _Str = None
    key: _Str = Field(default=None, max_length=16384, description=_SECRET)
    topic: _Str = None
    certificate: _Str = None
    private_key: _Str = Field(default=None, max_length=16384, description=_SECRET)
    private_key_password: _Str = Field(default=None, max_length=1024, description=_SECRET)
    service_account: dict[str, Any] | None = Field(default=None, description=_SECRET)
    subject: _Str = None
    public_key: _Str = None
    generate: bool | None = None
    client_id: _Str = None
    client_secret: _Str = Field(default=None, max_length=16384, description=_SECRET)
    gateway_url: _Str = None
    auth_type: _Str = None
    username: _Str = None
    password: _Str = Field(default=None, max_length=4096, description=_SECRET)
    token: _Str = Field(default=None, max_length=16384, description=_SECRET)
    sender: _Str = None


class CredentialOut(BaseModel):
    provider: Provider
    settings: dict[str, Any] = Field(description="The non-secret settings; secrets never appear.")
    endpoint: str | None
    created_at: datetime
    updated_at: datetime
    suspect_at: datetime | None = Field(
        description="When most of a batch first came back 'invalid token' on this credential "
        "(the sign of a sandbox/production or topic mismatch): such batches deactivate no "
        "registration. Cleared when the credential is replaced"
    )
    suspect_reason: str | None = Field(description="The evidence, when suspect")

    @classmethod
    def of(cls, info: CredentialInfo) -> CredentialOut:
        return cls(
            provider=Provider(info.provider),
            settings=info.settings,
            endpoint=info.endpoint,
            created_at=info.created_at,
            updated_at=info.updated_at,
            suspect_at=info.suspect_at,
            suspect_reason=info.suspect_reason,
        )


class CredentialList(BaseModel):
    items: list[CredentialOut]
    next_cursor: str | None = None


class CredentialTestOut(BaseModel):
    provider: Provider
    ok: bool = Field(description="Whether the provider (or, offline, pushgate) accepted it")
    checked: Literal["provider", "offline"] = Field(
        description="provider: the provider was asked; offline: validated by pushgate only "
        "(webpush: VAPID keys are self-signed; sms: no gateway request is known to send nothing)"
    )
    detail: str = Field(
        description="The provider's reason or status (e.g. BadDeviceToken, "
        "InvalidProviderToken, invalid_grant, a timeout); never a secret"
    )
    latency_ms: int
    public_key: str | None = Field(
        default=None, description="webpush: the VAPID public key (applicationServerKey)"
    )


WriteScope = Annotated[AppScope, Depends(app_scope(Role.APP_ADMIN), scope="function")]
ReadScope = Annotated[AppScope, Depends(app_scope(Role.APP_ADMIN, readonly=True), scope="function")]


@router.get("/apps/{app}/credentials", response_model=CredentialList)
async def list_credentials(scope: ReadScope) -> CredentialList:
    infos = await scope.uow.credentials.list_for_app(scope.app_id)
    return CredentialList(items=[CredentialOut.of(i) for i in infos])


@router.put("/apps/{app}/credentials/{provider}", response_model=CredentialOut)
async def put_credential(
    provider: Provider, body: CredentialIn, scope: WriteScope, runtime: RuntimeDep
) -> CredentialOut:
    """Set or replace the app's credential for one provider; validated before it is stored."""
    fields = body.model_dump(exclude_unset=True, exclude={"endpoint"})
    info = await credential_service.set_credential(
        scope.uow, runtime.vault, scope.app_id, provider.value, fields, body.endpoint, scope.now
    )
    return CredentialOut.of(info)


@router.get("/apps/{app}/credentials/{provider}", response_model=CredentialOut)
async def get_credential(provider: Provider, scope: ReadScope) -> CredentialOut:
    return CredentialOut.of(
        await credential_service.get_credential(scope.uow, scope.app_id, provider.value)
    )


@router.delete("/apps/{app}/credentials/{provider}", status_code=204, response_class=Response)
async def delete_credential(provider: Provider, scope: WriteScope) -> Response:
    await credential_service.delete_credential(scope.uow, scope.app_id, provider.value)
    return Response(status_code=204)


@router.post("/apps/{app}/credentials/{provider}/test", response_model=CredentialTestOut)
async def probe_stored_credential(
    app: str,
    provider: Provider,
    principal: PrincipalDep,
    runtime: RuntimeDep,
    sandbox: Annotated[
        bool, Query(description="apns: ask the sandbox host instead of production")
    ] = False,
) -> CredentialTestOut:
    """Test the stored credential against its provider, delivering nothing (apns: one push
    to a token no device has; fcm: an OAuth token and a validate_only send; wns: an OAuth
    token). A refused credential or an unreachable provider is ok=false, not an HTTP error;
    the answer comes within about 10 s."""
    # The transaction ends before the provider is asked: no connection is held meanwhile.
    async with unit_of_work(runtime.db, readonly=True) as uow:
        app_id = await resolve_app_id(uow, principal, app, Role.APP_ADMIN)
        credential = await credential_probes.load_credential(
            uow, runtime.vault, app_id, provider.value
        )
    result = await credential_probes.probe_credential(
        credential, runtime.engine.registry, sandbox=sandbox
    )
    return CredentialTestOut(
        provider=provider,
        ok=result.ok,
        checked="provider" if result.checked == credential_probes.PROVIDER else "offline",
        detail=result.detail,
        latency_ms=result.latency_ms,
        public_key=result.public_key,
    )
