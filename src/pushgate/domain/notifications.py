"""A notification as stored: what was asked, where it stands, and the counts of its outcome."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pushgate.domain.payload import DeliveryOptions, Message
from pushgate.domain.targets import Target


class NotificationState(StrEnum):
    SCHEDULED = "scheduled"  # send_at lies ahead; cancellable
    QUEUED = "queued"  # accepted, fan-out not started yet
    SENDING = "sending"
    DONE = "done"  # every targeted registration has a final status
    CANCELLED = "cancelled"


class Lane(StrEnum):
    """Queue lanes: one device or high priority never waits behind a broadcast."""

    FAST = "fast"
    BULK = "bulk"


@dataclass(frozen=True, slots=True)
class NotificationRequest:
    """The validated request, stored as JSON with the notification."""

    target: Target
    message: Message
    options: DeliveryOptions
    send_at: datetime | None = None
    local_time: bool = False  # send_at is a wall-clock time in each registration's zone

    def to_json(self) -> str:
        return json.dumps(
            {
                "target": self.target.to_dict(),
                "message": self.message.to_dict(),
                "options": self.options.to_dict(),
                "send_at": self.send_at.isoformat() if self.send_at else None,
                "local_time": self.local_time,
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> NotificationRequest:
        raw: Mapping[str, Any] = json.loads(text)
        send_at = raw.get("send_at")
        return cls(
            Target.from_dict(raw["target"]),
            Message.from_dict(raw["message"]),
            DeliveryOptions.from_dict(raw["options"]),
            datetime.fromisoformat(send_at) if send_at else None,
            bool(raw.get("local_time", False)),
        )


@dataclass(frozen=True, slots=True)
class Counts:
    planned: int  # in batches not yet done
    targeted: int  # registrations reached by done batches
    sent: int
    errors: int
    received: int
    consumed: int
    confirmed: int

    @property
    def final(self) -> int:
        return self.sent + self.errors + self.received + self.consumed + self.confirmed

    def by_status(self) -> dict[str, int]:
        """Counts by status name, as the status endpoint shows them."""
        return {
            "QUEUED": self.planned + self.targeted - self.final,
            "SENT": self.sent,
            "ERROR": self.errors,
            "RECEIVED": self.received,
            "CONSUMED": self.consumed,
            "CONFIRMED": self.confirmed,
        }


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    app_id: int
    kind: str
    lane: Lane
    state: NotificationState
    request_json: str
    epoch: int
    send_at: datetime | None
    local_time: bool
    expires_at: datetime
    idempotency_key: str | None
    counts: Counts
    fanout_done: bool
    batches_open: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None

    def request(self) -> NotificationRequest:
        return NotificationRequest.from_json(self.request_json)


def delivery_id(notification_id: str, registration_id: str) -> str:
    """A delivery's public id: derived, never minted (no uuid per delivery on the hot path)."""
    return notification_id + registration_id


def split_delivery_id(value: str) -> tuple[str, str] | None:
    """(notification id, registration id), or None for what cannot be a delivery id."""
    if len(value) != 64 or any(ch not in "0123456789abcdef" for ch in value):
        return None
    return value[:32], value[32:]
