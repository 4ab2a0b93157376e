"""Every refusal of the MobileFirst API: its statuses, and a body in the caller's language.

The seed lists 400, 401, 404, 405 (a Content-Type that is not JSON), 406 (an Accept that
excludes JSON) and 500; the endpoints it only names add 409 (a name taken). So a missing
scope or another app's resource is 401 ("not authenticated or not authorized"), a storage
outage is 500, and request validation is 400. The body: `{"code": <status>, "message":
<localized text>, "field": <the field at fault or null>, "detail": <pushgate's English
reason, naming the field and the rule>}`; rejected values are never echoed.
"""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from pushgate.dialects.mobilefirst.i18n import message, negotiate
from pushgate.errors import ErrorCode, PushgateError, StorageFull
from pushgate.http.dialect import Refusal

BEARER_CHALLENGE = 'Bearer realm="imfpush"'


class MobileFirstError(BaseModel):
    code: int = Field(description="The HTTP status")
    message: str = Field(description="In the language of Accept-Language (en-US, de, fr, es)")
    field: str | None = Field(default=None, description="The field or parameter at fault")
    detail: str | None = Field(default=None, description="pushgate's reason, in English")


class Keyed(PushgateError):
    """A refusal with its own message (i18n key) and status."""

    code = ErrorCode.INVALID
    status = 400
    key = "bad_request"

    def __init__(self, key: str, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail, field=field)
        self.key = key


class Missing(Keyed):
    code = ErrorCode.NOT_FOUND
    status = 404


class NotJson(Keyed):
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE
    status = 405


class NotAcceptable(Keyed):
    code = ErrorCode.INVALID
    status = 406


class MethodNotAllowed(Keyed):
    code = ErrorCode.INVALID
    status = 405

    def __init__(self, allowed: list[str]) -> None:
        super().__init__("method_not_allowed", "this path does not take that method")
        self.allowed = allowed


# Statuses the document does not list, mapped onto those it does.
_STATUS = {403: 401, 415: 405, 422: 400, 503: 500}
_KEY_BY_STATUS = {
    401: "unauthorized",
    404: "not_found",
    405: "unsupported_content_type",
    406: "unsupported_accept",
    409: "conflict",
    413: "too_large",
    429: "too_many_requests",
}


def _key(refusal: Refusal, status: int) -> str:
    error = refusal.error
    if isinstance(error, Keyed):
        return error.key
    if status >= 500:
        return "internal"
    if status == 400:
        if refusal.code is ErrorCode.MISSING_FIELD and refusal.field:
            return "missing_field"
        return "invalid_field" if refusal.field else "bad_request"
    return _KEY_BY_STATUS.get(status, "bad_request")


def status_of(refusal: Refusal) -> int:
    error = refusal.error
    if isinstance(error, Keyed):
        return error.status
    if refusal.status == 405:
        return 405
    return _STATUS.get(refusal.status, 500 if refusal.status >= 500 else refusal.status)


def render(request: Request, refusal: Refusal) -> Response:
    language = negotiate(request.headers.get("accept-language"))
    status = status_of(refusal)
    field = refusal.field
    text = message(_key(refusal, status), language, field=field or "")
    detail = "internal error; it has been logged" if status >= 500 else refusal.message
    if isinstance(refusal.error, StorageFull):  # not internal: the operator must free space
        detail = refusal.message
    headers = {"Content-Language": language}
    if status == 401:
        headers["WWW-Authenticate"] = BEARER_CHALLENGE
    if isinstance(refusal.error, MethodNotAllowed):
        headers["Allow"] = ", ".join(refusal.error.allowed)
    body = MobileFirstError(code=status, message=text, field=field, detail=detail)
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)
