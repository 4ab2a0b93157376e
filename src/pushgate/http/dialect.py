"""Front doors that speak a vendor's API render every error in that vendor's shape.

A dialect's router uses `dialect_route(render)` as its route class: whatever a request of its
routes raises — a service's PushgateError, request validation, an HTTPException from the
framework (a body over the limit while reading), or an unexpected error — reaches `render`
as one `Refusal`, never the native envelope. The status comes from the one table in
http/errors.py unless the dialect's renderer decides otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from pushgate.errors import ErrorCode, PushgateError, RateLimited, StorageUnavailable
from pushgate.http.errors import STATUS, validation_response
from pushgate.http.rate_limits import count_failure

_log = structlog.get_logger("pushgate.http")
_HTTP_CODES = {
    400: ErrorCode.INVALID,
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    413: ErrorCode.BODY_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.RATE_LIMITED,
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """An error, whatever raised it, as a dialect renders it."""

    status: int
    code: ErrorCode
    message: str
    field: str | None = None
    # The exception, for renderers that map their own subclasses (vendor error codes).
    error: Exception | None = None


Renderer = Callable[[Request, Refusal], Response | Awaitable[Response]]


def refusal_of(exc: Exception) -> Refusal:
    """The Refusal for any exception a route may raise."""
    if isinstance(exc, PushgateError):
        return Refusal(STATUS[exc.code], exc.code, exc.message, exc.field, exc)
    if isinstance(exc, RequestValidationError):
        # The native table decides status and field (422 or 400 for unknown/malformed).
        native = validation_response(exc)
        error = json.loads(bytes(native.body))["error"]
        return Refusal(
            native.status_code, ErrorCode(error["code"]), error["message"], error["field"], exc
        )
    if isinstance(exc, HTTPException):
        code = _HTTP_CODES.get(exc.status_code, ErrorCode.INVALID)
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        return Refusal(exc.status_code, code, message, None, exc)
    return Refusal(500, ErrorCode.INTERNAL, "internal error; it has been logged", None, exc)


def dialect_route(render: Renderer) -> type[APIRoute]:
    """An APIRoute class whose errors are rendered by `render`."""

    class DialectRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                try:
                    return await handler(request)
                except Exception as exc:  # the front door's edge: rendered, never raised
                    count_failure(request, exc)
                    refusal = refusal_of(exc)
                    if refusal.status >= 500 and not isinstance(exc, PushgateError):
                        _log.exception(
                            "unhandled error", path=request.url.path, method=request.method
                        )
                    rendered = render(request, refusal)
                    if not isinstance(rendered, Response):
                        rendered = await rendered
                    # Whatever the vendor's body and status, HTTP's header says when to retry.
                    if isinstance(exc, RateLimited | StorageUnavailable):
                        rendered.headers["Retry-After"] = str(exc.retry_after_s)
                    return rendered

            return handle

    return DialectRoute
