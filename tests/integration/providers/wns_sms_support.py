"""Helpers of the WNS and SMS adapter tests: deliveries, a batch deadline and a manual clock."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

from pushgate.domain.payload import Content, DeliveryOptions
from pushgate.domain.platforms import Platform
from pushgate.providers.base import Batch, Delivery, Provider, Push, Recipient, SendResult


class ManualClock:
    """Monotonic seconds that move only when a test says so (token expiry)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def options(
    *, ttl: timedelta = timedelta(hours=1), collapse_id: str | None = None, once: bool = False
) -> DeliveryOptions:
    return DeliveryOptions(datetime.now(UTC) + ttl, collapse_id=collapse_id, once=once)


def push(content: Content | None = None, delivery_options: DeliveryOptions | None = None) -> Push:
    return Push(content or Content(title="Hello", body="World"), delivery_options or options())


def delivery(token: str, platform: Platform, shared: Push | None = None) -> Delivery:
    recipient = Recipient("reg-" + secrets.token_hex(4), platform, token)
    return Delivery("dlv-" + secrets.token_hex(6), recipient, shared or push())


async def send(
    provider: Provider, *deliveries: Delivery, within_s: float = 15.0
) -> list[SendResult]:
    deadline = asyncio.get_running_loop().time() + within_s
    return await provider.send(Batch(1, list(deliveries), deadline))
