"""An app's OAuth confidential clients (MobileFirst's): id, secret (shown once) and scopes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from pushgate.api.v1.common import ROUTER_DEFAULTS, StrictModel, errors
from pushgate.domain.roles import Role
from pushgate.errors import NotFound
from pushgate.http.deps import AppScope, PageDep, app_scope, next_cursor
from pushgate.services import oauth_clients as client_service
from pushgate.services.oauth_clients import MAX_SCOPES
from pushgate.store.repos.oauth_clients import OAuthClient

router = APIRouter(tags=["oauth clients"], **ROUTER_DEFAULTS)

AdminScope = Annotated[AppScope, Depends(app_scope(Role.APP_ADMIN), scope="function")]
AdminReadScope = Annotated[
    AppScope, Depends(app_scope(Role.APP_ADMIN, readonly=True), scope="function")
]


class ClientCreate(StrictModel):
    scopes: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        max_length=MAX_SCOPES,
        description="devices.write, messages.write, apps.write, settings.write, "
        "webhooks.write (and their .read), push.application.<app>; the app's own "
        "push.application scope is always granted",
        examples=[["devices.write", "messages.write"]],
    )
    client_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The client's id; generated when absent",
    )


class ClientCreated(BaseModel):
    client_id: str
    client_secret: str = Field(description="Shown this once; only its hash is stored")
    scopes: list[str]


class ClientOut(BaseModel):
    client_id: str
    scopes: list[str]
    created_at: datetime

    @classmethod
    def of(cls, client: OAuthClient) -> ClientOut:
        return cls(
            client_id=client.client_id, scopes=list(client.scopes), created_at=client.created_at
        )


class ClientList(BaseModel):
    items: list[ClientOut]
    next_cursor: str | None


@router.post(
    "/apps/{app}/clients", status_code=201, response_model=ClientCreated, responses=errors(409)
)
async def create_client(body: ClientCreate, scope: AdminScope) -> ClientCreated:
    """Create a client for the token endpoint (`POST /mfp/api/az/v1/token`)."""
    app = await scope.uow.apps.get(scope.app_id)
    if app is None:
        raise NotFound("no app with this name", field="app")
    client, secret = await client_service.create_client(
        scope.uow, scope.app_id, app.name, body.scopes, scope.now, client_id=body.client_id
    )
    return ClientCreated(
        client_id=client.client_id, client_secret=secret, scopes=list(client.scopes)
    )


@router.get("/apps/{app}/clients", response_model=ClientList)
async def list_clients(scope: AdminReadScope, page: PageDep) -> ClientList:
    found = await client_service.list_clients(
        scope.uow, scope.app_id, after=page.after, limit=page.limit
    )
    return ClientList(
        items=[ClientOut.of(c) for c in found],
        next_cursor=next_cursor([c.client_id for c in found], page.limit),
    )


@router.get("/apps/{app}/clients/{client_id}", response_model=ClientOut)
async def get_client(client_id: str, scope: AdminReadScope) -> ClientOut:
    return ClientOut.of(await client_service.get_client(scope.uow, scope.app_id, client_id))


@router.delete("/apps/{app}/clients/{client_id}", status_code=204, response_class=Response)
async def delete_client(client_id: str, scope: AdminScope) -> Response:
    """Delete the client; its access tokens stop working at once."""
    await client_service.delete_client(scope.uow, scope.app_id, client_id)
    return Response(status_code=204)
