"""ServiceNow's error body and statuses: every refusal of this dialect, whatever raised it.

ServiceNow's REST API answers errors as `{"error": {"message", "detail"}, "status": "failure"}`
(seed 000 lists 400, 401 and 500 for both actions). `message` is a short summary, in
ServiceNow's own words where the platform has them; `detail` says which field or rule, and
never echoes the rejected value (a password sent in the wrong place must not come back).
"""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from pushgate.dialects.servicenow.schemas import ServiceNowError, ServiceNowErrorDetail
from pushgate.errors import ErrorCode
from pushgate.http.dialect import Refusal

NO_RESOURCE = "Requested URI does not represent any resource"
# ServiceNow's answer to missing or wrong credentials, word for word: it does not say which.
NOT_AUTHENTICATED = ("User Not Authenticated", "Required to provide Auth information")
BASIC_CHALLENGE = 'Basic realm="pushgate"'
ALLOWED_METHODS = "POST"

# Summary per field at fault (then per code); the detail is the rule that was broken.
_SUMMARY_BY_FIELD = {
    "api_version": NO_RESOURCE,
    "resource": NO_RESOURCE,
    "content-type": "Unsupported content type",
    "body": "Exception while reading request",
    "pushApplicationName": "Invalid push application",
    "platform": "Invalid platform",
    "token": "Invalid token",
}
_SUMMARY_BY_CODE = {ErrorCode.UNSUPPORTED_MEDIA_TYPE: "Unsupported content type"}


def error_response(
    status: int, message: str, detail: str | None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ServiceNowError(error=ServiceNowErrorDetail(message=message, detail=detail))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def render(_request: Request, refusal: Refusal) -> Response:
    """Map a refusal onto ServiceNow's statuses: 400, 401, 500; 405 and 413 as HTTP says."""
    if refusal.status == 401:
        message, detail = NOT_AUTHENTICATED
        return error_response(401, message, detail, {"WWW-Authenticate": BASIC_CHALLENGE})
    if refusal.status == 405:
        return error_response(
            405, "Method not Supported", refusal.message, {"Allow": ALLOWED_METHODS}
        )
    if refusal.status == 429:
        # Over the caller's rate, or too many failed sign-ins; Retry-After says when to retry.
        return error_response(429, "Too Many Requests", refusal.message)
    if refusal.status == 413:
        # Kept: the body limit answers 413 before any route runs when Content-Length
        # declares the excess (http/limits.py); a streamed excess found here says the same.
        return error_response(413, "Exception while reading request", refusal.message)
    if refusal.status >= 500:
        # Storage outages included: the document knows only 500 for server-side trouble.
        return error_response(500, "Internal Server Error", refusal.message)
    # Every other refusal (unknown app or platform, bad body, unsupported type...) is the
    # document's "400 Bad Request. A bad request type or malformed request was detected."
    summary = _SUMMARY_BY_FIELD.get(refusal.field or "") or _SUMMARY_BY_CODE.get(
        refusal.code, "Bad Request"
    )
    return error_response(400, summary, refusal.message)
