"""The one ErrorCode -> HTTP status table and the native error envelope.

Error bodies never echo the rejected value: a rejected credential would otherwise be
reflected back to the caller and into logs (FastAPI's default 422 does echo it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from pushgate.domain.text import shown_name
from pushgate.errors import ErrorCode, PushgateError, RateLimited, StorageUnavailable
from pushgate.http.rate_limits import count_failure

STATUS: dict[ErrorCode, int] = {
    # A value the services refuse (a .p8 that is not a P-256 key, an unknown platform) is 400;
    # request-schema violations found by validation (type, enum, missing) are 422 below.
    ErrorCode.INVALID: 400,
    ErrorCode.UNKNOWN_FIELD: 400,
    ErrorCode.MISSING_FIELD: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.BODY_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.STORAGE_UNAVAILABLE: 503,
    # Not 507: the condition is temporary and the same request succeeds once space is freed,
    # and 503 + Retry-After is what clients' retry policies know (docs/decisions.md).
    ErrorCode.STORAGE_FULL: 503,
    ErrorCode.INTERNAL: 500,
}
_HTTP_CODES: dict[int, ErrorCode] = {
    400: ErrorCode.INVALID,
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.INVALID,
    413: ErrorCode.BODY_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.RATE_LIMITED,
}
_log = structlog.get_logger("pushgate.http")


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    message: str
    field: str | None = None
    details: dict[str, Any] | None = None


class ErrorEnvelope(BaseModel):
    """Every native error: {"error": {"code", "message", "field", "details"}}."""

    error: ErrorBody


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "field": field, "details": details}}
    return JSONResponse(body, status_code=status, headers=headers)


# A field's path can name the caller's own keys (an unknown member, a key of free-form data):
# each part goes through shown_name, and at most MAX_LISTED_ERRORS problems are listed. Both
# were echoes: a 100 KB unknown key came back twice, and a `data` object of 60,000 wrong
# values was a 6 MB answer (reliability.md B6).
MAX_LISTED_ERRORS = 20


def _field(loc: Sequence[Any]) -> str | None:
    parts = [shown_name(str(p)) for p in loc if p not in ("body", "query", "path", "header")]
    if not parts:
        return None
    text = parts[0]
    for part in parts[1:]:
        text += f"[{part}]" if part.isdigit() else f".{part}"
    return text


def describe_validation(
    raw: Sequence[Any],
) -> tuple[int, ErrorCode, str, str | None, dict[str, Any] | None]:
    """(status, code, message, field, details) of pydantic errors: one request's, or one row's
    of a bulk import (which answers each row as the single request would have been)."""
    errors = [
        {"field": _field(e.get("loc", ())), "type": e.get("type"), "message": e.get("msg")}
        for e in raw[:MAX_LISTED_ERRORS]
    ]
    details: dict[str, Any] = {"errors": errors}
    if len(raw) > MAX_LISTED_ERRORS:
        details["more"] = len(raw) - MAX_LISTED_ERRORS
    first = errors[0] if errors else {"field": None, "type": "invalid", "message": "invalid"}
    if first["type"] == "json_invalid":
        return 400, ErrorCode.INVALID, "the body is not valid JSON", None, None
    unknown = next((e for e in raw if e.get("type") == "extra_forbidden"), None)
    if unknown is not None:
        field = _field(unknown.get("loc", ()))
        return 400, ErrorCode.UNKNOWN_FIELD, "unknown field", field, details
    code = ErrorCode.MISSING_FIELD if first["type"] == "missing" else ErrorCode.INVALID
    message = f"{first['field'] or 'request'}: {first['message']}"
    return 422, code, message, first["field"], details


def validation_response(exc: RequestValidationError) -> JSONResponse:
    return error_response(*describe_validation(exc.errors()))


def install_error_handlers(app: FastAPI) -> None:
    async def _pushgate(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, PushgateError)  # noqa: S101 - registered for this class
        headers = None
        if isinstance(exc, StorageUnavailable):  # an outage or a full disk: retry later
            headers = {"Retry-After": str(exc.retry_after_s)}
        if exc.code is ErrorCode.UNAUTHENTICATED:
            count_failure(request, exc)
            headers = {"WWW-Authenticate": 'Bearer realm="pushgate"'}
        if isinstance(exc, RateLimited):
            headers = {"Retry-After": str(exc.retry_after_s)}
        return error_response(
            STATUS[exc.code], exc.code, exc.message, exc.field, exc.details or None, headers
        )

    async def _validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)  # noqa: S101
        return validation_response(exc)

    async def _http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)  # noqa: S101
        code = _HTTP_CODES.get(exc.status_code, ErrorCode.INVALID)
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        return error_response(
            exc.status_code, code, message, headers=dict(exc.headers) if exc.headers else None
        )

    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.exception("unhandled error", path=request.url.path, method=request.method)
        return error_response(500, ErrorCode.INTERNAL, "internal error; it has been logged")

    app.add_exception_handler(PushgateError, _pushgate)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
