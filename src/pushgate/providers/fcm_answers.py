"""What an FCM HTTP v1 answer means: the answer table (providers.md 2.4).

FCM's error body is a google.rpc.Status; its `details` carry an FcmError with the errorCode
(https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode) and, for bad fields, a
google.rpc.BadRequest naming them. An answer without FcmError comes from Google's front end
(authentication, IAM, routing) and is read by its HTTP status instead.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.providers.base import SendResult
from pushgate.providers.http import HttpResponse

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
# QUOTA_EXCEEDED: "retry with a minimum initial delay of 1 minute" unless Retry-After says.
QUOTA_RETRY_AFTER_S = 60.0
MAX_REASON = 200  # FCM's messages can echo a field's value; keep reasons short


@dataclass(frozen=True, slots=True)
class Answer:
    outcome: Outcome
    code: ResultCode
    default_retry_after_s: float | None = None  # when the answer has no Retry-After


# FcmError errorCode -> what it means for the delivery (ErrorCode reference, providers.md 2.4).
ERROR_CODE_ANSWERS: dict[str, Answer] = {
    # 404 NOT_FOUND: the app instance unregistered (uninstalled, token expired): dead token.
    "UNREGISTERED": Answer(Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED),
    # 400: a bad field of our message: a bug or bad content, never retried. When the field
    # is the token (see about_token) the token is dead instead: INVALID_TOKEN_ANSWER.
    "INVALID_ARGUMENT": Answer(Outcome.REJECTED, ResultCode.INVALID_DATA),
    # 403 PERMISSION_DENIED: the token belongs to another Firebase project (sender id).
    "SENDER_ID_MISMATCH": Answer(Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED),
    # 429 RESOURCE_EXHAUSTED: project, device or topic quota; back off at least a minute.
    "QUOTA_EXCEEDED": Answer(Outcome.RETRY, ResultCode.QUOTA_EXCEEDED, QUOTA_RETRY_AFTER_S),
    # 503: FCM overloaded: retry honouring Retry-After, with exponential backoff.
    "UNAVAILABLE": Answer(Outcome.RETRY, ResultCode.RECOVERABLE_IO),
    # 500: an unknown internal error: retried like UNAVAILABLE.
    "INTERNAL": Answer(Outcome.RETRY, ResultCode.RECOVERABLE_IO),
    # 401 UNAUTHENTICATED: the APNs certificate/key or web push key stored in the Firebase
    # project is wrong: our configuration, the token stays (old name APNS_AUTH_ERROR).
    "THIRD_PARTY_AUTH_ERROR": Answer(Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED),
    "APNS_AUTH_ERROR": Answer(Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED),
}
# INVALID_ARGUMENT about the registration token itself: the token is not valid (dead).
INVALID_TOKEN_ANSWER = Answer(Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED)

# HTTP status -> meaning when the body carries no FcmError (or UNSPECIFIED_ERROR).
STATUS_ANSWERS: dict[int, Answer] = {
    # A request Google could not parse (unknown field, data value not a string).
    400: Answer(Outcome.REJECTED, ResultCode.INVALID_DATA),
    # Our access token was refused; the adapter already refreshed it and resent once.
    401: Answer(Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED),
    # The FCM API is disabled for the project or the service account lacks the IAM role.
    403: Answer(Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED),
    # No such project (or a wrong base URL): configuration, not the token.
    404: Answer(Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED),
    408: Answer(Outcome.RETRY, ResultCode.RECOVERABLE_IO),
    413: Answer(Outcome.REJECTED, ResultCode.TOO_LARGE),
    429: Answer(Outcome.RETRY, ResultCode.QUOTA_EXCEEDED, QUOTA_RETRY_AFTER_S),
    500: Answer(Outcome.RETRY, ResultCode.RECOVERABLE_IO),
    502: Answer(Outcome.RETRY, ResultCode.RECOVERABLE_IO),
    503: Answer(Outcome.RETRY, ResultCode.RECOVERABLE_IO),
    504: Answer(Outcome.RETRY, ResultCode.RECOVERABLE_IO),
}
# Any other status: 5xx are retried, the rest refused (unknown: the reason names the status).
OTHER_SERVER_ERROR = Answer(Outcome.RETRY, ResultCode.RECOVERABLE_IO)
OTHER_CLIENT_ERROR = Answer(Outcome.REJECTED, ResultCode.NOT_ACCEPTED)


@dataclass(frozen=True, slots=True)
class FcmErrorBody:
    error_code: str | None  # the FcmError detail's errorCode; None without one
    message: str
    about_token: bool  # the error concerns the registration token itself


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def parse_error(body: bytes) -> FcmErrorBody:
    """The errorCode, message and whether the token is at fault, from a google.rpc.Status."""
    raw = _json(body)
    error = raw.get("error") if isinstance(raw, dict) else None
    if not isinstance(error, dict):
        return FcmErrorBody(None, "", about_token=False)
    message = str(error.get("message", ""))
    error_code: str | None = None
    about_token = "registration token" in message.lower()
    details = error.get("details")
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        if detail.get("@type") == FCM_ERROR_TYPE and isinstance(detail.get("errorCode"), str):
            error_code = detail["errorCode"]
        if detail.get("@type") == BAD_REQUEST_TYPE:
            violations = detail.get("fieldViolations")
            for violation in violations if isinstance(violations, list) else []:
                if isinstance(violation, dict) and violation.get("field") == "message.token":
                    about_token = True
    if error_code == "UNSPECIFIED_ERROR":
        error_code = None
    return FcmErrorBody(error_code, message, about_token)


def is_bare_unauthenticated(response: HttpResponse) -> bool:
    """401 without FcmError: our access token was refused (refresh it and resend once)."""
    return response.status == 401 and parse_error(response.body).error_code is None


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from now: delay-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - now).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def answer_for(response: HttpResponse, now: datetime) -> SendResult:
    """The SendResult of one messages:send answer (`now`: aware UTC, for HTTP-date waits)."""
    if response.status == 200:
        raw = _json(response.body)
        name = raw.get("name") if isinstance(raw, dict) else None
        return SendResult(Outcome.SENT, ResultCode.SENT, provider_ref=str(name) if name else None)
    error = parse_error(response.body)
    row = _row(response.status, error)
    reason = error.error_code or f"HTTP {response.status}"
    if error.message:
        reason = f"{reason}: {error.message}"
    waited = retry_after_s(response.header("retry-after"), now)
    return SendResult(
        row.outcome,
        row.code,
        reason[:MAX_REASON],
        retry_after_s=waited if waited is not None else row.default_retry_after_s,
    )


def _row(status: int, error: FcmErrorBody) -> Answer:
    if error.about_token and status == 400 and error.error_code in (None, "INVALID_ARGUMENT"):
        return INVALID_TOKEN_ANSWER
    if error.error_code is not None and error.error_code in ERROR_CODE_ANSWERS:
        return ERROR_CODE_ANSWERS[error.error_code]
    if status in STATUS_ANSWERS:
        return STATUS_ANSWERS[status]
    return OTHER_SERVER_ERROR if status >= 500 else OTHER_CLIENT_ERROR
