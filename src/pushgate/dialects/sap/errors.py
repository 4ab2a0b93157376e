"""SAP's error answers: every refusal of this dialect, whatever raised it.

The body is SAP's status object, `{"status": {"code", "notification", "parameters"}}`, the
one its answers carry (`"status": null` on a successful push): `code` is the seed's result
code of the failure, `notification` the message, `parameters` the fields it is about (SAP's
names). Push answers add `"pushResults": []`, the status query `"statusDetails": null`.
Statuses are the document's: every bad request is 400 (also a wrong type or content type,
or a body over the limit), 401 credentials, 403 role, 404 nothing found, 429 quota, 500
anything on the server side (a storage outage adds Retry-After); the runtime API adds 409.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from pushgate.dialects.sap.schemas import SapStatus
from pushgate.domain.statuses import ResultCode
from pushgate.errors import ErrorCode
from pushgate.http.dialect import Refusal
from pushgate.services.quotas import QuotaExceeded

BASIC_CHALLENGE = 'Basic realm="pushgate"'
_CODES = {
    400: ResultCode.INVALID_DATA,
    404: ResultCode.TARGET_NOT_FOUND,
    429: ResultCode.QUOTA_EXCEEDED,
}
# The services' field names, as SAP's clients know them.
FIELD_NAMES = {
    "token": "pushToken",
    "platform": "os",
    "id": "registrationId",
    "time_zone": "timeZone",
    "locale": "userLocale",
    "form_factor": "formFactor",
    "push_group": "pushGroup",
    "target.users": "users",
    "target.topics": "topics",
    "target.bulk": "userNotifications",
    "target.device": "deviceId",
    "target.user": "username",
    "delivery_id": "notificationId",
    "cursor": "$skiptoken",
    "keys": "pushToken",
}


def status_of(refusal: Refusal) -> tuple[int, SapStatus, dict[str, str]]:
    """The HTTP status, SAP status object and headers of a refusal."""
    status = refusal.status
    headers: dict[str, str] = {}
    if isinstance(refusal.error, QuotaExceeded):
        status = 429
    elif status in (413, 415, 422):
        status = 400  # "400 Bad Request: The request payload is invalid."
    elif status >= 500:
        if refusal.code is ErrorCode.STORAGE_UNAVAILABLE:
            headers["Retry-After"] = "5"
        status = 500
    if status == 401:
        headers["WWW-Authenticate"] = BASIC_CHALLENGE
    field = FIELD_NAMES.get(refusal.field or "", refusal.field)
    code = _CODES.get(status, ResultCode.NOT_QUEUED)
    body = SapStatus(
        code=int(code), notification=refusal.message, parameters=[field] if field else None
    )
    return status, body, headers


def _renderer(extra: dict[str, Any]) -> Callable[[Request, Refusal], Response]:
    def render(_request: Request, refusal: Refusal) -> Response:
        status, body, headers = status_of(refusal)
        return JSONResponse(
            {"status": body.model_dump(), **extra}, status_code=status, headers=headers
        )

    return render


render_push = _renderer({"pushResults": []})
render_status = _renderer({"statusDetails": None})
render_plain = _renderer({})
