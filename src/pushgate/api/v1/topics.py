"""Topics of an app."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from pushgate.api.v1.common import ROUTER_DEFAULTS, StrictModel, errors
from pushgate.domain.records import Topic
from pushgate.domain.roles import Role
from pushgate.http.deps import AppScope, PageDep, app_scope, next_cursor
from pushgate.services import topics as topic_service

router = APIRouter(tags=["topics"], **ROUTER_DEFAULTS)


class TopicCreate(StrictModel):
    name: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=2000)


class TopicPatch(StrictModel):
    description: str = Field(max_length=2000)


class TopicOut(BaseModel):
    name: str
    description: str
    subscribers: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, topic: Topic) -> TopicOut:
        return cls(
            name=topic.name,
            description=topic.description,
            subscribers=topic.subscribers or 0,
            created_at=topic.created_at,
            updated_at=topic.updated_at,
        )


class TopicList(BaseModel):
    items: list[TopicOut]
    next_cursor: str | None


WriteScope = Annotated[AppScope, Depends(app_scope(Role.REGISTRATIONS_WRITE), scope="function")]
ReadScope = Annotated[
    AppScope, Depends(app_scope(Role.PUSHREGISTRATIONS_READ, readonly=True), scope="function")
]


@router.post("/apps/{app}/topics", status_code=201, response_model=TopicOut, responses=errors(409))
async def create_topic(body: TopicCreate, scope: WriteScope) -> TopicOut:
    return TopicOut.of(
        await topic_service.create_topic(
            scope.uow, scope.app_id, body.name, body.description, scope.now
        )
    )


@router.get("/apps/{app}/topics", response_model=TopicList)
async def list_topics(scope: ReadScope, page: PageDep) -> TopicList:
    found = await scope.uow.topics.list_page(scope.app_id, after=page.after, limit=page.limit)
    return TopicList(
        items=[TopicOut.of(t) for t in found],
        next_cursor=next_cursor([t.name for t in found], page.limit),
    )


@router.get("/apps/{app}/topics/{name}", response_model=TopicOut)
async def get_topic(name: str, scope: ReadScope) -> TopicOut:
    return TopicOut.of(await topic_service.get_topic(scope.uow, scope.app_id, name))


@router.patch("/apps/{app}/topics/{name}", response_model=TopicOut)
async def patch_topic(name: str, body: TopicPatch, scope: WriteScope) -> TopicOut:
    return TopicOut.of(
        await topic_service.update_topic(scope.uow, scope.app_id, name, body.description, scope.now)
    )


@router.delete("/apps/{app}/topics/{name}", status_code=204, response_class=Response)
async def delete_topic(name: str, scope: WriteScope) -> Response:
    """Delete the topic and its subscriptions; the registrations stay."""
    await topic_service.delete_topic(scope.uow, scope.app_id, name)
    return Response(status_code=204)
