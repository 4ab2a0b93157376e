"""Webhooks: which events an endpoint wants, the signed request it gets, and the retry rule.

The request (docs/webhooks.md): `POST` of the JSON envelope below, with
`X-Pushgate-Timestamp: <unix seconds>` and `X-Pushgate-Signature: v1=<hex>`, where the hex is
HMAC-SHA256, keyed with the webhook's secret, over `<timestamp>.<body bytes>`. Signing the
timestamp with the body lets a receiver refuse replays older than a few minutes; the `v1=`
prefix leaves room for another scheme (several comma-separated signatures during a rotation).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pushgate.domain.events import EventKind
from pushgate.domain.records import Event, JsonObject, Registration
from pushgate.errors import InvalidInput

ALL_KINDS = "*"  # a webhook subscribed to every kind, present and future
SIGNATURE_HEADER = "X-Pushgate-Signature"
TIMESTAMP_HEADER = "X-Pushgate-Timestamp"
EVENT_ID_HEADER = "X-Pushgate-Event-Id"
EVENT_KIND_HEADER = "X-Pushgate-Event"
WEBHOOK_HEADER = "X-Pushgate-Webhook"
MAX_KINDS = 32

# Retries: 1 s doubling, at most 15 minutes apart, 12 attempts (about 1.2 h in all); an event
# older than MAX_EVENT_AGE gets no further retry. Deliveries of one webhook are made one at a
# time, in the order the events were recorded, so a failing endpoint holds back its later
# events (never another webhook's) until the head is delivered or given up.
FIRST_RETRY = timedelta(seconds=1)
MAX_RETRY_DELAY = timedelta(minutes=15)
MAX_ATTEMPTS = 12
MAX_EVENT_AGE = timedelta(hours=24)


class DeliveryState:
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # given up: attempts or age exhausted


def parse_kinds(names: Iterable[str], *, field: str = "events") -> tuple[str, ...]:
    """Event kinds by name (or `*` for all), each once, in the order given."""
    kinds: list[str] = []
    for name in names:
        if name != ALL_KINDS and name not in EventKind.__members__.values():
            known = ", ".join(sorted(k.value for k in EventKind))
            raise InvalidInput(f"unknown event kind; use * or {known}", field=field)
        if name not in kinds:
            kinds.append(name)
    if not kinds:
        raise InvalidInput("name at least one event kind (or *)", field=field)
    if len(kinds) > MAX_KINDS:
        raise InvalidInput(f"names at most {MAX_KINDS} kinds", field=field)
    return tuple(kinds)


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt (1 s, 2 s, 4 s, ... at most 15 min)."""
    delay: timedelta = FIRST_RETRY * (2 ** min(max(attempts - 1, 0), 20))
    return min(delay, MAX_RETRY_DELAY)


def gives_up(attempts: int, event_at: datetime, now: datetime) -> bool:
    """After a failed attempt: True when this event gets no further one."""
    return attempts >= MAX_ATTEMPTS or now - event_at >= MAX_EVENT_AGE


def envelope(event: Event, app_name: str) -> bytes:
    """The body every webhook of the app gets for `event` (compact JSON, UTF-8)."""
    document: JsonObject = {
        "id": event.id,
        "kind": event.kind,
        "app": app_name,
        "subject": event.subject,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=` + hex HMAC-SHA256(secret, "<timestamp>." + body)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(secret: str, timestamp: int, body: bytes, header: str) -> bool:
    """What a receiver does: any of the header's comma-separated signatures matches."""
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, part.strip()) for part in header.split(","))


@dataclass(frozen=True, slots=True)
class SignedRequest:
    body: bytes
    headers: list[tuple[str, str]]


def signed_request(
    event: Event, app_name: str, webhook_name: str, secret: str, now: datetime
) -> SignedRequest:
    body = envelope(event, app_name)
    timestamp = int(now.timestamp())
    return SignedRequest(
        body,
        [
            ("content-type", "application/json"),
            (EVENT_ID_HEADER.lower(), str(event.id)),
            (EVENT_KIND_HEADER.lower(), event.kind),
            (WEBHOOK_HEADER.lower(), webhook_name),
            (TIMESTAMP_HEADER.lower(), str(timestamp)),
            (SIGNATURE_HEADER.lower(), signature(secret, timestamp, body)),
        ],
    )


def device_data(registration: Registration, **extra: object) -> JsonObject:
    """What a device event says of its registration (never the token: the receiver asks the
    API for it if it must; a webhook body travels through more hands than an API answer)."""
    data: JsonObject = {
        "registration_id": registration.id,
        "device_id": registration.device_id,
        "platform": registration.platform.value,
        "user": registration.user_name,
        "active": registration.active,
    }
    data.update(extra)
    return data


@dataclass(frozen=True, slots=True)
class Webhook:
    """A webhook as shown (its secret never is, after the answer that created it)."""

    id: int
    app_id: int
    name: str
    url: str
    kinds: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None  # set while its head delivery waits for a retry
    pending: int = 0  # deliveries not yet delivered or given up


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event for one webhook, and how its attempts went."""

    id: int
    webhook_id: int
    event_id: int
    event_kind: str
    status: str  # DeliveryState
    attempts: int
    last_status: int | None  # the HTTP status of the last attempt (None: no answer)
    last_error: str | None
    last_attempt_at: datetime | None
    created_at: datetime
    completed_at: datetime | None
