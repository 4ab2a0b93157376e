"""The one interface between the delivery engine and a push service.

A provider gets a batch of deliveries for one app and one credential and answers with one
SendResult per delivery, in order. It never raises for a per-token answer, and turns
transport failures into RETRY results at its edge (style.md section 4). It never touches
the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pushgate.domain.payload import Content, DeliveryOptions, JsonObject
from pushgate.domain.recipients import Recipient
from pushgate.domain.statuses import Outcome, ResultCode

__all__ = [
    "SENT",
    "Batch",
    "Delivery",
    "Provider",
    "ProviderCredential",
    "ProviderOptions",
    "Push",
    "Recipient",
    "SendResult",
]


@dataclass(frozen=True, slots=True)
class Push:
    """What a group of recipients gets: one content variant and the notification's options.

    One instance is shared by every recipient of the same variant, so a provider can render
    (and cache) its wire payload once per Push rather than once per token.
    """

    content: Content
    options: DeliveryOptions


@dataclass(slots=True)  # not frozen: one per delivery, see domain/recipients.py
class Delivery:
    delivery_id: str  # ours, stable across attempts (APNs apns-id derives from it)
    recipient: Recipient
    push: Push


@dataclass(frozen=True, slots=True)
class Batch:
    app_id: int
    deliveries: Sequence[Delivery]
    # loop.time() by which every answer must be in; what is still open then is a RETRY.
    deadline: float


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    code: ResultCode
    reason: str | None = None  # the provider's reason, e.g. "BadDeviceToken"
    retry_after_s: float | None = None
    provider_ref: str | None = None  # the provider's id of the message (apns-id, FCM name)
    # When the provider says the token stopped working (APNs 410 timestamp): a registration
    # renewed after this instant is kept.
    provider_timestamp: datetime | None = None
    # The request provably never reached the provider (unprocessed after GOAWAY, refused
    # stream, rate limit not acquired): resend without counting an attempt.
    unsent: bool = False


SENT = SendResult(Outcome.SENT, ResultCode.SENT)


@dataclass(frozen=True, slots=True)
class ProviderCredential:
    """An app's credential for one provider, opened from the vault for the adapter only."""

    app_id: int
    provider: str
    settings: JsonObject
    secret: JsonObject = field(repr=False)
    endpoint: str | None
    version: str  # changes whenever the credential is replaced: adapters are rebuilt then


@dataclass(frozen=True, slots=True)
class ProviderOptions:
    """Deployment-wide provider settings (config.py builds them)."""

    ca_file: str | None = None  # PUSHGATE_PROVIDER_CA_FILE: trust these roots too
    endpoints: dict[str, str] = field(default_factory=dict)  # provider -> base URL override
    send_timeout_s: float = 30.0  # total deadline of one attempt, headers and body
    allow_private_addresses: bool = False  # fake-provider mode
    # Operator allow-list: tenant-supplied endpoint hosts admitted despite the SSRF guard.
    allowed_hosts: frozenset[str] = frozenset()


class Provider(Protocol):
    """One app's connection to one push service."""

    async def send(self, batch: Batch) -> list[SendResult]:
        """One result per delivery of the batch, in the same order."""
        ...

    async def aclose(self) -> None:
        """Close connections; pending sends end as RETRY results."""
        ...
