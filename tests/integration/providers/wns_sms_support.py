"""Helpers of the WNS and SMS adapter tests: deliveries, a batch deadline, a manual clock, and
the checks both adapters pass against their fakes' behaviours and scripted answers."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

from pushgate.domain.payload import Content, DeliveryOptions
from pushgate.domain.platforms import Platform
from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.fakes.behaviour import ServerPlan
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


async def check_failing_once_then_sent(
    provider: Provider, target: Delivery, code: ResultCode, retry_after: float | None
) -> None:
    """A "429..." or "500..." token: RETRY once (with its Retry-After), then SENT."""
    [first] = await send(provider, target)
    assert (first.outcome, first.code, first.retry_after_s) == (Outcome.RETRY, code, retry_after)
    [second] = await send(provider, target)
    assert second.outcome is Outcome.SENT


async def check_scripted_status(
    provider: Provider,
    plan: ServerPlan,
    target: Delivery,
    status: int,
    expected: tuple[Outcome, ResultCode],
    *,
    retry_after: str,
) -> None:
    """Every answer scripted to `status` with Retry-After: the adapter's row for it."""
    plan.fail_status = status
    plan.fail_retry_after = retry_after
    [result] = await send(provider, target)
    outcome, _ = expected
    assert (result.outcome, result.code) == expected
    assert result.retry_after_s == (float(retry_after) if outcome is Outcome.RETRY else None)
