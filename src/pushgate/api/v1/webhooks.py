"""An app's webhooks (signed POSTs of its events) and what became of each delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from pushgate.api.v1.common import ROUTER_DEFAULTS, StrictModel, errors
from pushgate.domain.roles import Role
from pushgate.domain.webhooks import MAX_KINDS, Webhook, WebhookDelivery
from pushgate.http.deps import (
    MAX_PAGE,
    AppScope,
    PageDep,
    Runtime,
    RuntimeDep,
    app_scope,
    next_cursor,
)
from pushgate.services import webhooks as webhook_service
from pushgate.services.webhooks import MAX_URL_LENGTH, UrlPolicy

router = APIRouter(tags=["webhooks"], **ROUTER_DEFAULTS)

AdminScope = Annotated[AppScope, Depends(app_scope(Role.APP_ADMIN), scope="function")]
AdminReadScope = Annotated[
    AppScope, Depends(app_scope(Role.APP_ADMIN, readonly=True), scope="function")
]
_Kinds = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=MAX_KINDS)
]


class WebhookCreate(StrictModel):
    name: str = Field(min_length=1, max_length=128, examples=["crm"])
    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH, examples=["https://example.com/hook"])
    events: _Kinds = Field(
        min_length=1,
        description="Event kinds (e.g. message.delivered, device.registered), or * for all",
        examples=[["message.delivered", "message.failed", "device.token_invalidated"]],
    )


class WebhookPatch(StrictModel):
    url: str | None = Field(default=None, min_length=1, max_length=MAX_URL_LENGTH)
    events: _Kinds | None = Field(default=None, min_length=1)
    rotate_secret: bool = Field(default=False, description="Issue a new signing secret")


class WebhookOut(BaseModel):
    name: str
    url: str
    events: list[str]
    pending: int = Field(description="Deliveries not yet delivered or given up")
    next_attempt_at: datetime | None = Field(
        description="Set while the oldest pending delivery waits for a retry"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookOut:
        return cls(
            name=webhook.name,
            url=webhook.url,
            events=list(webhook.kinds),
            pending=webhook.pending,
            next_attempt_at=webhook.next_attempt_at,
            created_at=webhook.created_at,
            updated_at=webhook.updated_at,
        )


class WebhookCreated(WebhookOut):
    secret: str | None = Field(
        description="The signing secret, shown this once (and after a rotation)"
    )


class WebhookList(BaseModel):
    items: list[WebhookOut]
    next_cursor: str | None


class DeliveryOut(BaseModel):
    id: int
    event_id: int
    event: str
    status: str = Field(description="pending, delivered or failed (given up)")
    attempts: int
    last_status: int | None = Field(description="HTTP status of the last attempt")
    last_error: str | None
    last_attempt_at: datetime | None
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, d: WebhookDelivery) -> DeliveryOut:
        return cls(
            id=d.id,
            event_id=d.event_id,
            event=d.event_kind,
            status=d.status,
            attempts=d.attempts,
            last_status=d.last_status,
            last_error=d.last_error,
            last_attempt_at=d.last_attempt_at,
            created_at=d.created_at,
            completed_at=d.completed_at,
        )


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
    next_after: int | None


def policy_of(runtime: Runtime) -> UrlPolicy:
    settings = runtime.settings
    return UrlPolicy(
        settings.endpoint_allow_private,
        frozenset(h.lower() for h in settings.endpoint_allow_hosts),
    )


@router.post(
    "/apps/{app}/webhooks", status_code=201, response_model=WebhookCreated, responses=errors(409)
)
async def create_webhook(
    body: WebhookCreate, scope: AdminScope, runtime: RuntimeDep
) -> WebhookCreated:
    """Create a webhook; the answer carries its signing secret, this once."""
    webhook, secret = await webhook_service.create_webhook(
        scope.uow,
        runtime.db,
        runtime.vault,
        policy_of(runtime),
        scope.app_id,
        name=body.name,
        url=body.url,
        kinds=body.events,
        now=scope.now,
    )
    return WebhookCreated(**WebhookOut.of(webhook).model_dump(), secret=secret)


@router.get("/apps/{app}/webhooks", response_model=WebhookList)
async def list_webhooks(scope: AdminReadScope, page: PageDep) -> WebhookList:
    found = await webhook_service.list_webhooks(
        scope.uow, scope.app_id, after=page.after, limit=page.limit
    )
    return WebhookList(
        items=[WebhookOut.of(w) for w in found],
        next_cursor=next_cursor([w.name for w in found], page.limit),
    )


@router.get("/apps/{app}/webhooks/{name}", response_model=WebhookOut)
async def get_webhook(name: str, scope: AdminReadScope) -> WebhookOut:
    return WebhookOut.of(await webhook_service.get_webhook(scope.uow, scope.app_id, name))


@router.patch("/apps/{app}/webhooks/{name}", response_model=WebhookCreated)
async def update_webhook(
    name: str, body: WebhookPatch, scope: AdminScope, runtime: RuntimeDep
) -> WebhookCreated:
    """Change the URL or the events, or rotate the secret (the new one is in the answer)."""
    webhook, secret = await webhook_service.update_webhook(
        scope.uow,
        runtime.db,
        runtime.vault,
        policy_of(runtime),
        scope.app_id,
        name,
        url=body.url,
        kinds=body.events,
        rotate_secret=body.rotate_secret,
        now=scope.now,
    )
    return WebhookCreated(**WebhookOut.of(webhook).model_dump(), secret=secret)


@router.delete("/apps/{app}/webhooks/{name}", status_code=204, response_class=Response)
async def delete_webhook(name: str, scope: AdminScope, runtime: RuntimeDep) -> Response:
    """Delete the webhook; its undelivered events are dropped."""
    await webhook_service.delete_webhook(scope.uow, runtime.db, scope.app_id, name)
    return Response(status_code=204)


@router.get("/apps/{app}/webhooks/{name}/deliveries", response_model=DeliveryList)
async def list_deliveries(
    name: str,
    scope: AdminReadScope,
    status: Annotated[
        Literal["pending", "delivered", "failed"] | None, Query(description="Only this status")
    ] = None,
    after: Annotated[int | None, Query(ge=0, description="next_after of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> DeliveryList:
    """The webhook's deliveries, newest first: attempts, the last HTTP status or error."""
    found = await webhook_service.list_deliveries(
        scope.uow, scope.app_id, name, status=status, after=after, limit=limit
    )
    return DeliveryList(
        items=[DeliveryOut.of(d) for d in found],
        next_after=found[-1].id if len(found) == limit else None,
    )
