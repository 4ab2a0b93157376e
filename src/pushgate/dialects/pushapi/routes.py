"""`POST /api/v2/push?format=xml|json`: send a notification to one user (seed 001).

Translation only: the body (JSON or XML) is read and type-checked here, the key checked and
the user resolved by services/user_push.py, and the send is the ordinary one.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.exceptions import HTTPException

from pushgate.dialects.pushapi.bodies import body_kind, parse_body, read_body
from pushgate.dialects.pushapi.errors import render
from pushgate.dialects.pushapi.openapi import OPENAPI, RESPONSES, SUCCESS_ROOT
from pushgate.dialects.pushapi.responses import requested_format, respond
from pushgate.dialects.pushapi.schemas import XML_ITEMS, PushApiRequest, PushApiResponse
from pushgate.http.deps import RuntimeDep
from pushgate.http.dialect import dialect_route
from pushgate.services import user_push

router = APIRouter(route_class=dialect_route(render), tags=["POST Push API (seed 001)"])


@router.post(
    "/api/v2/push",
    response_class=Response,
    responses=RESPONSES,
    openapi_extra=OPENAPI,
    summary="Send a push notification to one user",
)
async def push(request: Request, runtime: RuntimeDep) -> Response:
    """Send to every device of the user named by UserId, UserEmail or UserExternalId,
    authenticated by CompanyId and IntegrationKey in the body."""
    answer = requested_format(request)
    kind = body_kind(request.headers.get("content-type"))
    fields = PushApiRequest.parse(parse_body(await read_body(request), kind))
    now = runtime.clock()
    message, options = fields.to_message(now)
    pushed = await user_push.push_to_user(
        runtime.engine,
        runtime.auth,
        app_id=fields.company_id,
        key=fields.integration_key,
        selector=fields.selector(),
        message=message,
        options=options,
        now=now,
    )
    return respond(
        PushApiResponse.of(pushed),
        root=SUCCESS_ROOT,
        status=200,
        answer=answer,
        items=XML_ITEMS,
    )


@router.api_route(
    "/api/v2/push",
    methods=["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
    include_in_schema=False,
)
async def other_method() -> Response:
    """Another method on the path: 405 in this dialect's shape (not the native envelope)."""
    raise HTTPException(405, "this resource supports POST only")
