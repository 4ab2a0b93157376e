"""Tags: an app's topics, with MobileFirst's fields. Scopes as the seed gives for the detailed
tag endpoints: `devices.write` and `push.application.<applicationId>`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from pushgate.dialects.mobilefirst import views
from pushgate.dialects.mobilefirst.errors import Missing, render
from pushgate.dialects.mobilefirst.openapi import TAG, documented
from pushgate.dialects.mobilefirst.paging import listing, page_info
from pushgate.dialects.mobilefirst.requests import COMMON, Caller, authorized, body_of, the_app
from pushgate.dialects.mobilefirst.schemas import TagIn, TagList, TagOut
from pushgate.errors import InvalidInput, NotFound
from pushgate.http.deps import RuntimeDep
from pushgate.http.dialect import dialect_route
from pushgate.services import topics
from pushgate.store.repos.listings import topic_of
from pushgate.store.uow import unit_of_work

router = APIRouter(route_class=dialect_route(render), tags=[TAG], dependencies=COMMON)

TAGS = "/imfpush/v1/apps/{applicationId}/tags"
TagsCaller = Annotated[Caller, Depends(authorized("devices.write"))]
TAG_EXAMPLE = {"name": "SampleTag", "description": "Description about SampleTag"}


def _missing(exc: NotFound) -> Missing:
    return Missing("tag_not_found", exc.message, field="tagName")


@router.post(
    TAGS,
    **documented(
        "Push Tag (POST): create a tag",
        ok=201,
        answer=TagOut,
        errors=(400, 404, 405, 409),
        body=TagIn,
        example=TAG_EXAMPLE,
    ),
)
async def create_tag(
    applicationId: str, request: Request, runtime: RuntimeDep, caller: TagsCaller
) -> JSONResponse:
    body = await body_of(request, TagIn)
    if not body.name:
        raise InvalidInput("name is required", field="name")
    async with unit_of_work(runtime.db) as uow:
        topic = await topics.create_topic(
            uow, the_app(caller).id, body.name, body.description or "", runtime.clock()
        )
    return JSONResponse(views.tag(topic), status_code=201)


@router.get(
    TAGS,
    **documented(
        "Push Tags (GET): tags matching filter (name, description); paged",
        ok=200,
        answer=TagList,
        errors=(400, 404),
    ),
)
async def list_tags(
    applicationId: str,
    request: Request,
    runtime: RuntimeDep,
    caller: TagsCaller,
    offset: str | None = None,
    size: str | None = None,
    expand: str | None = None,
    expend: str | None = None,
    filter: str | None = None,
    tagName: str | None = None,
) -> JSONResponse:
    page = listing(request, "tagName")
    async with unit_of_work(runtime.db, readonly=True) as uow:
        found = await uow.listings.tags(
            the_app(caller).id, page.where, offset=page.offset, size=page.size
        )
    items = [views.tag(topic_of(row), expand=page.expand) for row in found.rows]
    return JSONResponse(
        {"tags": items, "pageInfo": page_info(request, page, len(items), found.total)}
    )


@router.get(
    TAGS + "/{tagName}",
    **documented("Push Tag (GET): one tag", ok=200, answer=TagOut, errors=(404,)),
)
async def get_tag(
    applicationId: str, tagName: str, runtime: RuntimeDep, caller: TagsCaller
) -> JSONResponse:
    async with unit_of_work(runtime.db, readonly=True) as uow:
        try:
            topic = await topics.get_topic(uow, the_app(caller).id, tagName)
        except NotFound as exc:
            raise _missing(exc) from None
    return JSONResponse(views.tag(topic))


@router.put(
    TAGS + "/{tagName}",
    **documented(
        "Push Tag (PUT): change a tag's description",
        ok=200,
        answer=TagOut,
        errors=(400, 404, 405),
        body=TagIn,
        example={"description": "Description about SampleTag"},
    ),
)
async def update_tag(
    applicationId: str,
    tagName: str,
    request: Request,
    runtime: RuntimeDep,
    caller: TagsCaller,
) -> JSONResponse:
    body = await body_of(request, TagIn)
    if body.name is not None and body.name != tagName:
        raise InvalidInput("a tag cannot be renamed; name must be the path's", field="name")
    async with unit_of_work(runtime.db) as uow:
        try:
            current = await topics.get_topic(uow, the_app(caller).id, tagName)
            description = body.description if body.description is not None else current.description
            topic = await topics.update_topic(
                uow, the_app(caller).id, tagName, description, runtime.clock()
            )
        except NotFound as exc:
            raise _missing(exc) from None
    return JSONResponse(views.tag(topic))


@router.delete(
    TAGS + "/{tagName}",
    **documented(
        "Push Tag (DELETE): delete a tag and its subscriptions (the devices stay)",
        ok=204,
        answer=None,
        errors=(404,),
    ),
)
async def delete_tag(
    applicationId: str, tagName: str, runtime: RuntimeDep, caller: TagsCaller
) -> Response:
    async with unit_of_work(runtime.db) as uow:
        try:
            await topics.delete_topic(uow, the_app(caller).id, tagName)
        except NotFound as exc:
            raise _missing(exc) from None
    return Response(status_code=204)
