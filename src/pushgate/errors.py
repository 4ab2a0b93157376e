"""The error model shared by every layer: a stable code, a message and the field at fault.

Nothing here knows HTTP; `pushgate.http.errors` maps codes to statuses and each front door
renders the same exceptions its own way.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, ClassVar


class ErrorCode(StrEnum):
    INVALID = "invalid"
    UNKNOWN_FIELD = "unknown_field"
    MISSING_FIELD = "missing_field"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    BODY_TOO_LARGE = "body_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    STORAGE_FULL = "storage_full"
    INTERNAL = "internal"


class PushgateError(Exception):
    """Base of every error a use case reports to its caller."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details: dict[str, Any] = dict(details or {})


class InvalidInput(PushgateError):
    code = ErrorCode.INVALID


class UnknownField(InvalidInput):
    code = ErrorCode.UNKNOWN_FIELD


class MissingField(InvalidInput):
    code = ErrorCode.MISSING_FIELD


class NotFound(PushgateError):
    code = ErrorCode.NOT_FOUND


class Conflict(PushgateError):
    code = ErrorCode.CONFLICT


class Unauthenticated(PushgateError):
    code = ErrorCode.UNAUTHENTICATED


class CredentialRejected(Unauthenticated):
    """A credential was presented and did not verify (unknown key, wrong password or secret,
    a bad or expired token): counted per client address; missing credentials are not."""


class Forbidden(PushgateError):
    code = ErrorCode.FORBIDDEN


class BodyTooLarge(PushgateError):
    code = ErrorCode.BODY_TOO_LARGE


class UnsupportedMediaType(PushgateError):
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE


class StorageUnavailable(PushgateError):
    """The database (or the queue) cannot take the request now; the same request may succeed
    later. Whoever catches it retries later: callers get Retry-After, workers back off."""

    code = ErrorCode.STORAGE_UNAVAILABLE
    retry_after_s: ClassVar[int] = 5


class StorageFull(StorageUnavailable):
    """The database has no room for a write (disk full, or SQLite's page cap reached): the
    write's transaction was rolled back whole. Reads go on; writes succeed again, without a
    restart, once space is freed, which takes an operator: so a longer Retry-After."""

    code = ErrorCode.STORAGE_FULL
    retry_after_s = 30


class RateLimited(PushgateError):
    """Too many requests: a caller over its rate, or an address after too many failed
    sign-ins. `retry_after_s` (whole seconds, at least 1) is when trying again may succeed."""

    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message, details={"retry_after_s": max(1, retry_after_s)})
        self.retry_after_s = max(1, retry_after_s)
