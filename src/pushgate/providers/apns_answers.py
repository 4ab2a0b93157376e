"""APNs answers -> SendResult: the table of every documented reason (providers.md 1.3).

Apple's rules (Handling notification responses from APNs): never retry BadDeviceToken,
DeviceTokenNotForTopic, Forbidden, ExpiredToken, Unregistered, PayloadTooLarge; retry
TooManyRequests after a delay; other 4xx only once fixed; 5xx with back-off. Codes are the
SAP seed's (domain/statuses.py). Our convention for "don't retry" 4xx: INVALID_DATA (1) when
the notification's own content is at fault (the sender can fix it), NOT_ACCEPTED (10) when the
request we built is (a pushgate bug: nobody but us can fix it).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.providers.base import SENT, SendResult
from pushgate.providers.http import HttpResponse, TimedOut, TransportError

_D, _R, _J, _A = Outcome.DEAD_TOKEN, Outcome.RETRY, Outcome.REJECTED, Outcome.AUTH
_C = ResultCode

# (status, reason) -> (outcome, code). Reasons and statuses from Apple's table, providers.md 1.3.
ANSWERS: dict[tuple[int, str], tuple[Outcome, ResultCode]] = {
    # Token invalid: malformed, or of the other environment (the engine's mass-invalidation
    # guard tells a sandbox/production mix-up from dead tokens).
    (400, "BadDeviceToken"): (_D, _C.TOKEN_REJECTED),
    (400, "DeviceTokenNotForTopic"): (_D, _C.TOKEN_REJECTED),
    (400, "MissingDeviceToken"): (_D, _C.TOKEN_MISSING),  # the registration has no token
    # The notification's content: its collapse id, expiry or an empty payload.
    (400, "BadCollapseId"): (_J, _C.INVALID_DATA),
    (400, "BadExpirationDate"): (_J, _C.INVALID_DATA),
    (400, "PayloadEmpty"): (_J, _C.INVALID_DATA),
    # Requests we built wrongly: a pushgate bug, not retried.
    (400, "BadMessageId"): (_J, _C.NOT_ACCEPTED),
    (400, "BadPriority"): (_J, _C.NOT_ACCEPTED),
    (400, "DuplicateHeaders"): (_J, _C.NOT_ACCEPTED),
    (400, "InvalidPushType"): (_J, _C.NOT_ACCEPTED),
    (404, "BadPath"): (_J, _C.NOT_ACCEPTED),
    (405, "MethodNotAllowed"): (_J, _C.NOT_ACCEPTED),
    # The credential's topic: configuration.
    (400, "BadTopic"): (_A, _C.CONFIGURATION_EXPIRED),
    (400, "MissingTopic"): (_A, _C.CONFIGURATION_EXPIRED),
    (400, "TopicDisallowed"): (_A, _C.CONFIGURATION_EXPIRED),
    # The connection idled out before the request: nothing was delivered; reconnect, resend.
    (400, "IdleTimeout"): (_R, _C.RECOVERABLE_IO),
    # Certificate or provider token: configuration. ExpiredProviderToken is renewed and the
    # push resent once inside the adapter; this row is what is left when that fails.
    (403, "BadCertificate"): (_A, _C.CONFIGURATION_EXPIRED),
    (403, "BadCertificateEnvironment"): (_A, _C.CONFIGURATION_EXPIRED),
    (403, "BadEnvironmentKeyIdInToken"): (_A, _C.CONFIGURATION_EXPIRED),
    (403, "ExpiredProviderToken"): (_A, _C.CONFIGURATION_EXPIRED),
    (403, "Forbidden"): (_A, _C.CONFIGURATION_EXPIRED),
    (403, "InvalidProviderToken"): (_A, _C.CONFIGURATION_EXPIRED),
    (403, "MissingProviderToken"): (_A, _C.CONFIGURATION_EXPIRED),
    (403, "UnrelatedKeyIdInToken"): (_A, _C.CONFIGURATION_EXPIRED),
    # Dead tokens; provider_timestamp carries the 410's timestamp (deactivate only if the
    # registration was not renewed after it).
    (410, "Unregistered"): (_D, _C.TOKEN_REJECTED),
    (410, "ExpiredToken"): (_D, _C.REGISTRATION_EXPIRED),
    (413, "PayloadTooLarge"): (_J, _C.TOO_LARGE),
    # Too many pushes to one device: later, after Retry-After when given.
    (429, "TooManyRequests"): (_R, _C.TOO_MANY_FOR_DEVICE),
    # Our token caching is broken (>1 new token per 20 min): later; nothing was delivered.
    (429, "TooManyProviderTokenUpdates"): (_R, _C.RECOVERABLE_IO),
    (500, "InternalServerError"): (_R, _C.RECOVERABLE_IO),
    (503, "ServiceUnavailable"): (_R, _C.RECOVERABLE_IO),
    (503, "Shutdown"): (_R, _C.RECOVERABLE_IO),  # the server closes the connection: reconnect
}

# A reason not in the table (Apple adds some): decided by its status alone.
BY_STATUS: dict[int, tuple[Outcome, ResultCode]] = {
    400: (_J, _C.NOT_ACCEPTED),
    403: (_A, _C.CONFIGURATION_EXPIRED),
    404: (_J, _C.NOT_ACCEPTED),
    405: (_J, _C.NOT_ACCEPTED),
    410: (_D, _C.TOKEN_REJECTED),
    413: (_J, _C.TOO_LARGE),
    429: (_R, _C.TOO_MANY_FOR_DEVICE),
}
_OTHER_STATUS = (_R, _C.RECOVERABLE_IO)  # 5xx and anything unexpected: retry with back-off
EXPIRED_PROVIDER_TOKEN = "ExpiredProviderToken"  # noqa: S105 - a reason, not a secret


def _reason_and_timestamp(body: bytes) -> tuple[str | None, datetime | None]:
    try:
        doc = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(doc, dict):
        return None, None
    reason = doc.get("reason")
    stamp = doc.get("timestamp")
    when = None
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        when = datetime.fromtimestamp(stamp / 1000, UTC)  # milliseconds since the epoch
    return (reason if isinstance(reason, str) else None), when


def retry_after_s(value: str | None, now: Callable[[], float]) -> float | None:
    """Retry-After in seconds or as an HTTP-date (RFC 9110 10.2.3), never negative."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now())


def result_of_answer(
    response: HttpResponse, now: Callable[[], float], sent_id: str | None = None
) -> SendResult:
    """The SendResult for one HTTP answer of APNs; `sent_id`: the apns-id of the request.

    APNs echoes the request's apns-id; the answer's own header wins when it was collected.
    """
    apns_id = response.header("apns-id") or sent_id
    if response.status == 200:
        return sent(apns_id)
    reason, when = _reason_and_timestamp(response.body)
    status = response.status
    outcome, code = ANSWERS.get((status, reason or ""), BY_STATUS.get(status, _OTHER_STATUS))
    wait = None
    if outcome is Outcome.RETRY:
        wait = retry_after_s(response.header("retry-after"), now)
    return SendResult(
        outcome,
        code,
        reason or f"HTTP {status}",
        retry_after_s=wait,
        provider_ref=apns_id,
        provider_timestamp=when if outcome is Outcome.DEAD_TOKEN else None,
    )


def result_of_failure(error: TransportError) -> SendResult:
    """A failure below HTTP: retried; unsent when the server provably never saw it."""
    if isinstance(error, TimedOut):
        return TIMEOUT
    return SendResult(
        Outcome.RETRY, ResultCode.RECOVERABLE_IO, _failure_reason(error), unsent=error.unsent
    )


def _failure_reason(error: TransportError) -> str:
    # Class name plus libcurl's message: it names host and port, never headers or paths.
    return f"{type(error).__name__}: {error}"[:200]


TIMEOUT = SendResult(Outcome.RETRY, ResultCode.RECOVERABLE_IO, "timeout")
TOO_LARGE = SendResult(Outcome.REJECTED, ResultCode.TOO_LARGE, "PayloadTooLarge")
# The notification expired before this attempt: nothing is sent late (reliability.md F13).
EXPIRED = SendResult(Outcome.REJECTED, ResultCode.PROVIDER_FAILED, "expired")


# sent(): SENT with its apns-id, built from SendResult's own slots. The frozen dataclass's
# __init__ (one object.__setattr__ per field) took ~1 us of a send's ~5 us of Python,
# measured; this takes ~0.4. Every field is copied from SENT, so a new field is too.
_SLOTS = vars(SendResult)  # field name -> its slot's descriptor
_SENT_FIELDS = [
    (_SLOTS[field.name].__set__, getattr(SENT, field.name))
    for field in dataclasses.fields(SendResult)
    if field.name != "provider_ref"
]
_set_provider_ref = _SLOTS["provider_ref"].__set__
_new = object.__new__


def sent(apns_id: str | None) -> SendResult:
    """The result of a 200: SENT, its provider_ref the notification's apns-id."""
    result: SendResult = _new(SendResult)
    for set_field, value in _SENT_FIELDS:
        set_field(result, value)
    _set_provider_ref(result, apns_id)
    return result
