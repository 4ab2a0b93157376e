"""Delivery statuses, provider outcomes and the per-target result codes of the SAP seed.

A delivery is one notification to one registration. The worker moves it QUEUED -> SENT or
ERROR; the app may then report RECEIVED -> CONSUMED -> CONFIRMED, only forwards.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class DeliveryStatus(IntEnum):
    """Stored as a small integer; the order is the order receipts may move a delivery in."""

    QUEUED = 0
    SENT = 1
    ERROR = 2
    RECEIVED = 3
    CONSUMED = 4
    CONFIRMED = 5

    @property
    def is_final(self) -> bool:
        """Nothing more will be attempted: every status except QUEUED."""
        return self is not DeliveryStatus.QUEUED


RECEIPT_STATUSES = (DeliveryStatus.RECEIVED, DeliveryStatus.CONSUMED, DeliveryStatus.CONFIRMED)


def receipt_allowed(current: DeliveryStatus, reported: DeliveryStatus) -> bool:
    """An app receipt may only move a sent delivery forwards (SENT < RECEIVED < ...)."""
    if reported not in RECEIPT_STATUSES or current in (DeliveryStatus.QUEUED, DeliveryStatus.ERROR):
        return False
    return reported > current


class ResultCode(IntEnum):
    """The per-target codes of the SAP seed's push responses, exactly."""

    QUEUED = -1  # queued; the communication with the provider failed (for now)
    SENT = 0
    INVALID_DATA = 1
    TARGET_NOT_FOUND = 2
    NOT_QUEUED = 3
    CONFIGURATION_EXPIRED = 4
    TOKEN_MISSING = 5
    TOKEN_REJECTED = 6
    REGISTRATION_EXPIRED = 7
    TOO_MANY_FOR_DEVICE = 8
    TOO_LARGE = 9
    NOT_ACCEPTED = 10
    RECOVERABLE_IO = 11  # recoverable I/O problem; queued for a retry
    PROVIDER_FAILED = 12  # communication failed, not queued (also: expired while retrying)
    PROVIDER_FAILED_AGAIN = 13
    QUOTA_EXCEEDED = 14


class Outcome(StrEnum):
    """What a provider answer means for the delivery and the registration."""

    SENT = "sent"
    RETRY = "retry"  # 429, 5xx, connection loss: try again later (until expiry)
    DEAD_TOKEN = "dead_token"  # noqa: S105 - never works again: deactivate the registration
    REJECTED = "rejected"  # this notification will never be accepted: do not retry
    AUTH = "auth"  # our credential is wrong or expired: a configuration problem


# What each outcome does to the delivery's status; RETRY stays QUEUED until it gives up.
STATUS_OF: dict[Outcome, DeliveryStatus] = {
    Outcome.SENT: DeliveryStatus.SENT,
    Outcome.RETRY: DeliveryStatus.QUEUED,
    Outcome.DEAD_TOKEN: DeliveryStatus.ERROR,
    Outcome.REJECTED: DeliveryStatus.ERROR,
    Outcome.AUTH: DeliveryStatus.ERROR,
}
