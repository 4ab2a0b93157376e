"""What each fake accepted, oldest first: the ledger tests and the device simulator read."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Received:
    provider: str  # apns, fcm, webpush, wns, sms
    token: str  # device token, FCM token, subscription id, channel, phone number
    headers: dict[str, str]
    payload: Any  # parsed JSON (or XML text / decrypted Web Push plaintext)
    received_at: datetime
    connection: int = 0  # which connection carried it (GOAWAY and pooling tests)
    message_id: str | None = None  # the id the fake answered with (apns-id, FCM name...)

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "token": self.token,
            "headers": self.headers,
            "payload": self.payload,
            "received_at": self.received_at.isoformat(),
            "connection": self.connection,
            "message_id": self.message_id,
        }


@dataclass(slots=True)
class Inbox:
    """Shared by every fake of one deployment; single event loop, so no locking."""

    received: list[Received] = field(default_factory=list)
    # Every request a fake saw (accepted or not), per token: duplicates are counts here.
    attempts: Counter[str] = field(default_factory=Counter)
    limit: int = 2_000_000  # oldest entries are dropped beyond this, so memory stays bounded

    def record(self, item: Received) -> None:
        self.received.append(item)
        if len(self.received) > self.limit:
            del self.received[: len(self.received) - self.limit]

    def clear(self) -> None:
        self.received.clear()
        self.attempts.clear()

    def tokens(self, provider: str | None = None) -> list[str]:
        return [r.token for r in self.received if provider is None or r.provider == provider]


def utc_now() -> datetime:
    return datetime.now(UTC)
