"""Every error of this dialect, in the format the request asked for (XML by default).

The shape is the ResponseStatus of the vendor's service framework (the `format=xml|json`
query parameter and the `xmlns:i` requirement are that framework's): an ErrorCode, a
Message, and in Errors the field at fault, by the vendor's field name.
"""

from __future__ import annotations

from fastapi import Request, Response

from pushgate.dialects.pushapi.responses import answer_format, respond
from pushgate.dialects.pushapi.schemas import (
    XML_ITEMS,
    PushApiError,
    PushApiResponseError,
    PushApiResponseStatus,
)
from pushgate.errors import ErrorCode
from pushgate.http.dialect import Refusal

ERROR_ROOT = "ErrorResponse"
# The services' and the domain's field names, as this dialect's clients know them.
FIELD_NAMES = {
    "user_name": "UserId",
    "email": "UserEmail",
    "external_id": "UserExternalId",
    "company_id": "CompanyId",
    "key": "IntegrationKey",
    "notification.title": "Title",
    "notification.body": "Body",
    "notification.sound": "Sound",
    "notification.data": "ExpirySecs",
    "ttl": "ExpirySecs",
    "content-type": "Content-Type",
}


def vendor_code(code: ErrorCode) -> str:
    """missing_field -> MissingField: the framework's error codes are PascalCase names."""
    return "".join(part.capitalize() for part in code.value.split("_"))


def error_body(code: str, message: str, field: str | None) -> PushApiError:
    """The ResponseStatus (`code` as vendor_code writes it; `field` by its vendor name)."""
    errors = []
    if field:
        errors.append(PushApiResponseError(error_code=code, field_name=field, message=message))
        message = f"{field}: {message}"
    status = PushApiResponseStatus(error_code=code, message=message, errors=errors)
    return PushApiError(response_status=status)


def render(request: Request, refusal: Refusal) -> Response:
    # Request validation by the framework (only the query string here) is a 400 like any
    # other bad input: the vendor's API has no 422.
    status = 400 if refusal.status == 422 else refusal.status
    code = vendor_code(ErrorCode.INVALID if refusal.status == 422 else refusal.code)
    field = FIELD_NAMES.get(refusal.field, refusal.field) if refusal.field else None
    headers: dict[str, str] = {}
    if status == 405:  # only the router refuses a method; no ErrorCode of ours says it
        code = "MethodNotAllowed"
        headers["Allow"] = "POST"
    elif status == 401:
        # The credentials travel in the body; the scheme named here only points at them.
        headers["WWW-Authenticate"] = 'IntegrationKey realm="pushgate"'
    elif refusal.code is ErrorCode.STORAGE_UNAVAILABLE:
        headers["Retry-After"] = "5"
    return respond(
        error_body(code, refusal.message, field),
        root=ERROR_ROOT,
        status=status,
        answer=answer_format(request),
        items=XML_ITEMS,
        headers=headers,
    )
