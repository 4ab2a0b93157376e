"""Building blocks for the Web Push adapter tests: credentials, deliveries, a movable clock.

Kept out of conftest.py so the other adapters' tests in this folder keep their own fixtures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from pushgate.domain.payload import Content, DeliveryOptions, Priority
from pushgate.domain.platforms import Platform
from pushgate.fakes.tls import FakeCertificates
from pushgate.fakes.webpush import Subscription
from pushgate.providers.base import (
    Batch,
    Delivery,
    ProviderCredential,
    ProviderOptions,
    Push,
    Recipient,
    SendResult,
)
from pushgate.providers.http_curl import CurlTransport
from pushgate.providers.webpush import WebPushProvider
from pushgate.services.credential_checks import check_credential

SUBJECT = "mailto:ops@example.com"


class UnixClock:
    """Wall-clock seconds that stand still unless a test moves them (shared by adapter and fake)."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


def credential() -> ProviderCredential:
    """A VAPID credential exactly as services/credential_checks.py stores it."""
    checked = check_credential("webpush", {"subject": SUBJECT, "generate": True})
    return ProviderCredential(1, "webpush", checked.settings, checked.secret, None, "v1")


def options(certs: FakeCertificates, *, allow_private: bool = True) -> ProviderOptions:
    return ProviderOptions(ca_file=str(certs.ca_file), allow_private_addresses=allow_private)


def provider(
    cred: ProviderCredential,
    opts: ProviderOptions,
    clock: Callable[[], float],
    *,
    allow_hosts: frozenset[str] = frozenset(),
    max_in_flight: int = 100,
) -> WebPushProvider:
    transport = CurlTransport(ca_file=opts.ca_file)  # what the kind builds
    return WebPushProvider(
        cred,
        opts,
        transport=transport,
        clock=clock,
        allow_hosts=allow_hosts,
        max_in_flight=max_in_flight,
    )


def push(
    clock: UnixClock,
    content: Content | None = None,
    *,
    ttl: timedelta = timedelta(hours=1),
    priority: Priority | None = None,
    collapse_id: str | None = None,
    once: bool = False,
) -> Push:
    expires_at = clock.datetime() + ttl
    return Push(
        content or Content(title="Hello", body="World"),
        DeliveryOptions(expires_at, priority, collapse_id, once),
    )


def delivery(
    subscription: Subscription, the_push: Push, *, endpoint: str | None = None, n: int = 0
) -> Delivery:
    recipient = Recipient(
        f"reg-{subscription.id}",
        Platform.WEBPUSH,
        endpoint or subscription.endpoint,
        p256dh=subscription.p256dh,
        auth_secret=subscription.auth,
    )
    return Delivery(f"d{n}-{subscription.id}", recipient, the_push)


async def send(
    adapter: WebPushProvider, deliveries: Sequence[Delivery], *, within_s: float = 20.0
) -> list[SendResult]:
    deadline = asyncio.get_running_loop().time() + within_s
    return await adapter.send(Batch(1, list(deliveries), deadline))
