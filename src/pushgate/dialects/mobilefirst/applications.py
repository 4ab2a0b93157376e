"""Applications: pushgate apps as MobileFirst names them (`applicationId` is the app's name),
with `enabled` (false: the app takes no new messages through this API).

Scopes: `apps.write` (reads: `apps.read`) with `push.application.<applicationId>`. A client
belongs to one app, so creating an application takes the admin key (or a token naming that
new app's scope, which no client of another app holds); a client lists only its own app.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from pushgate.dialects.mobilefirst import views
from pushgate.dialects.mobilefirst.errors import render
from pushgate.dialects.mobilefirst.openapi import TAG, documented
from pushgate.dialects.mobilefirst.paging import listing, page_info
from pushgate.dialects.mobilefirst.requests import COMMON, Caller, authorized, body_of, the_app
from pushgate.dialects.mobilefirst.schemas import ApplicationIn, ApplicationList, ApplicationOut
from pushgate.dialects.mobilefirst.settings_io import truthy
from pushgate.errors import InvalidInput, Unauthenticated
from pushgate.http.deps import RuntimeDep
from pushgate.http.dialect import dialect_route
from pushgate.services import apps as app_service
from pushgate.store.uow import unit_of_work

router = APIRouter(route_class=dialect_route(render), tags=[TAG], dependencies=COMMON)

APPS = "/imfpush/v1/apps"
AnyCaller = Annotated[Caller, Depends(authorized(app=False))]
Reader = Annotated[Caller, Depends(authorized("apps.read"))]
Writer = Annotated[Caller, Depends(authorized("apps.write"))]


@router.post(
    APPS,
    **documented(
        "Push Application (POST): create an application",
        ok=201,
        answer=ApplicationOut,
        errors=(400, 405, 409),
        body=ApplicationIn,
        example={"applicationId": "testApp", "enabled": "true"},
    ),
)
async def create_application(
    request: Request, runtime: RuntimeDep, caller: AnyCaller
) -> JSONResponse:
    body = await body_of(request, ApplicationIn)
    if not body.applicationId:
        raise InvalidInput("applicationId is required", field="applicationId")
    if not caller.principal.allows("apps.write", body.applicationId):
        raise Unauthenticated(
            f"the token lacks apps.write with push.application.{body.applicationId}"
        )
    enabled = body.enabled is None or truthy(body.enabled)
    now = runtime.clock()
    async with unit_of_work(runtime.db) as uow:
        app = await app_service.create_app(uow, body.applicationId, "", now)
        if not enabled:
            await uow.app_flags.set_enabled(app.id, False, now)
    return JSONResponse(views.application(app, enabled), status_code=201)


@router.get(
    APPS,
    **documented(
        "Push Applications (GET): the applications the caller may see; paged",
        ok=200,
        answer=ApplicationList,
        errors=(400,),
    ),
)
async def list_applications(
    request: Request,
    runtime: RuntimeDep,
    caller: AnyCaller,
    offset: str | None = None,
    size: str | None = None,
    expand: str | None = None,
    expend: str | None = None,
    filter: str | None = None,
) -> JSONResponse:
    principal = caller.principal
    if not principal.allows("apps.read", principal.app_name):
        raise Unauthenticated("the token lacks apps.read")
    page = listing(request)
    async with unit_of_work(runtime.db, readonly=True) as uow:
        found = await uow.listings.apps(
            page.where, only_id=principal.app_id, offset=page.offset, size=page.size
        )
    items = [
        {"applicationId": row.name, **({"enabled": "true" if row.enabled else "false"}
                                       if page.expand else {})}
        for row in found.rows
    ]  # fmt: skip
    return JSONResponse(
        {"applications": items, "pageInfo": page_info(request, page, len(items), found.total)}
    )


@router.get(
    APPS + "/{applicationId}",
    **documented(
        "Push Application (GET): one application", ok=200, answer=ApplicationOut, errors=(404,)
    ),
)
async def get_application(applicationId: str, runtime: RuntimeDep, caller: Reader) -> JSONResponse:
    app = the_app(caller)
    async with unit_of_work(runtime.db, readonly=True) as uow:
        enabled = await uow.app_flags.enabled(app.id)
    return JSONResponse(views.application(app, enabled))


@router.put(
    APPS + "/{applicationId}",
    **documented(
        "Push Application (PUT): enable or disable an application",
        ok=200,
        answer=ApplicationOut,
        errors=(400, 404, 405),
        body=ApplicationIn,
        example={"enabled": "false"},
    ),
)
async def update_application(
    applicationId: str, request: Request, runtime: RuntimeDep, caller: Writer
) -> JSONResponse:
    body = await body_of(request, ApplicationIn)
    app = the_app(caller)
    if body.applicationId is not None and body.applicationId != app.name:
        raise InvalidInput("an application cannot be renamed here", field="applicationId")
    now = runtime.clock()
    async with unit_of_work(runtime.db) as uow:
        if body.enabled is not None:
            await uow.app_flags.set_enabled(app.id, truthy(body.enabled), now)
        enabled = await uow.app_flags.enabled(app.id)
        current = await uow.apps.get(app.id)
    return JSONResponse(views.application(current or app, enabled))


@router.delete(
    APPS + "/{applicationId}",
    **documented(
        "Push Application (DELETE): delete an application with its devices, tags, messages",
        ok=204,
        answer=None,
        errors=(404,),
    ),
)
async def delete_application(applicationId: str, runtime: RuntimeDep, caller: Writer) -> Response:
    async with unit_of_work(runtime.db) as uow:
        await app_service.delete_app(uow, the_app(caller))
    return Response(status_code=204)
