"""A push service's HTTP answer -> SendResult (RFC 8030 section 5, RFC 8292, providers.md 3.1).

Retry-After is read by retry_after.py, as for every adapter.
"""

from __future__ import annotations

import json
import re

from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.providers.base import SendResult
from pushgate.providers.http import HttpResponse
from pushgate.providers.retry_after import parse_retry_after

Row = tuple[Outcome, ResultCode, str]

# status -> (outcome, SAP result code, reason when the body names none). Sources: RFC 8030
# section 5 (201 Created + Location; 404 for an expired subscription, section 7.3; 413 over
# 4096 bytes, section 7.2; 429, section 8.4), RFC 8292 section 4 (401 bad JWT, 403 key not the
# subscription's), providers.md 3.1 (410 from FCM, Mozilla and Apple in practice; 406 from
# Microsoft's throttling [rep]).
ANSWERS: dict[int, Row] = {
    200: (Outcome.SENT, ResultCode.SENT, "OK"),  # some services answer 200 instead of 201
    201: (Outcome.SENT, ResultCode.SENT, "Created"),  # RFC 8030 5: the push message resource
    202: (Outcome.SENT, ResultCode.SENT, "Accepted"),  # receipts requested (Prefer header)
    400: (Outcome.REJECTED, ResultCode.INVALID_DATA, "BadRequest"),  # headers or body wrong
    401: (Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED, "Unauthorized"),  # VAPID JWT refused
    403: (Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED, "Forbidden"),  # VAPID key mismatch
    404: (Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED, "NotFound"),  # subscription expired
    # Microsoft's push service throttles one channel with 406: back off for this subscription.
    406: (Outcome.RETRY, ResultCode.TOO_MANY_FOR_DEVICE, "Throttled"),
    408: (Outcome.RETRY, ResultCode.RECOVERABLE_IO, "RequestTimeout"),
    410: (Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED, "Gone"),  # unsubscribed or expired
    413: (Outcome.REJECTED, ResultCode.TOO_LARGE, "PayloadTooLarge"),
    # RFC 8030 8.4: the sender exceeds the service's rate for it: a quota, not one device's.
    429: (Outcome.RETRY, ResultCode.QUOTA_EXCEEDED, "TooManyRequests"),
}
# Status classes the table does not name: 5xx is the service's trouble (retry, honouring
# Retry-After), any other status (3xx: redirects are not followed; other 4xx) is not accepted.
SERVER_ERROR: Row = (Outcome.RETRY, ResultCode.RECOVERABLE_IO, "ServerError")
OTHER: Row = (Outcome.REJECTED, ResultCode.NOT_ACCEPTED, "NotAccepted")

# A reason from the body is kept only when it is a short word (Apple's {"reason":
# "BadJwtToken"}, Mozilla's {"error": "Gone"}): never echo free text, which could carry our own
# request back (a JWT) into logs.
_REASON_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_ ]{0,63}")


def row_for(status: int) -> Row:
    row = ANSWERS.get(status)
    if row is not None:
        return row
    return SERVER_ERROR if 500 <= status <= 599 else OTHER


def _body_reason(body: bytes) -> str | None:
    if not body or len(body) > 4096 or not body.lstrip().startswith(b"{"):
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    for key in ("reason", "error"):
        value = parsed.get(key)
        if isinstance(value, str) and _REASON_WORD.fullmatch(value):
            return value
    return None


def result_for(response: HttpResponse, now: float) -> SendResult:
    """The SendResult for one answer; `now` (UNIX seconds) anchors an HTTP-date Retry-After."""
    outcome, code, default_reason = row_for(response.status)
    if outcome is Outcome.SENT:
        return SendResult(outcome, code, provider_ref=response.header("location"))
    reason = _body_reason(response.body) or default_reason
    retry_after = None
    if outcome is Outcome.RETRY:
        retry_after = parse_retry_after(response.header("retry-after"), now)
    return SendResult(outcome, code, reason, retry_after_s=retry_after)
