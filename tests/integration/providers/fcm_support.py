"""What the FCM integration tests share: a running fake, adapters pointed at it, batches."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pushgate.domain.payload import Content, DeliveryOptions, JsonObject
from pushgate.domain.platforms import Platform
from pushgate.fakes.fcm import FakeFcm
from pushgate.fakes.inbox import Inbox
from pushgate.fakes.tls import FakeCertificates
from pushgate.providers.base import (
    Batch,
    Delivery,
    ProviderCredential,
    ProviderOptions,
    Push,
    Recipient,
)
from pushgate.providers.fcm import FcmProvider
from pushgate.providers.http_curl import CurlTransport

PROJECT = "pushgate-test"


class MonotonicClock:
    """The adapter's injected clock: tests move it, nothing waits."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass(slots=True)
class FcmWorld:
    fake: FakeFcm
    inbox: Inbox
    certs: FakeCertificates
    clock: MonotonicClock

    def credential(
        self,
        account: JsonObject | None = None,
        *,
        project_id: str = PROJECT,
        endpoint: str | None = None,
        fake_endpoint: bool = True,  # without an endpoint of its own: the fake's URL
    ) -> ProviderCredential:
        account = account if account is not None else self.fake.service_account(PROJECT)
        return ProviderCredential(
            app_id=1,
            provider="fcm",
            settings={"project_id": project_id, "client_email": account["client_email"]},
            secret={"service_account": account},
            endpoint=endpoint or (self.fake.url if fake_endpoint else None),
            version="1",
        )

    def provider(
        self,
        credential: ProviderCredential | None = None,
        *,
        send_timeout_s: float = 10.0,
        endpoints: dict[str, str] | None = None,
    ) -> FcmProvider:
        options = ProviderOptions(
            ca_file=str(self.certs.ca_file),
            endpoints=endpoints or {},
            send_timeout_s=send_timeout_s,
        )
        transport = CurlTransport(ca_file=options.ca_file)  # what build_fcm gives it
        return FcmProvider(
            credential or self.credential(), options, transport=transport, clock=self.clock
        )


@contextlib.asynccontextmanager
async def fcm_world_running(tmp_path: Path) -> AsyncIterator[FcmWorld]:
    """A fake FCM on a free port, its CA and inbox, and the adapters' clock."""
    certs = FakeCertificates(tmp_path / "certs")
    inbox = Inbox()
    async with FakeFcm(certs, inbox) as fake:
        yield FcmWorld(fake, inbox, certs, MonotonicClock())


def make_push(
    content: Content | None = None,
    *,
    ttl: timedelta = timedelta(hours=1),
    once: bool = False,
    collapse_id: str | None = None,
) -> Push:
    options = DeliveryOptions(
        expires_at=datetime.now(UTC) + ttl, once=once, collapse_id=collapse_id
    )
    return Push(content or Content(title="Hello", body="world"), options)


def make_batch(tokens: Sequence[str], push: Push | None = None, *, within_s: float = 10.0) -> Batch:
    shared = push or make_push()
    deliveries = [
        Delivery(f"d{i}", Recipient(f"r{i}", Platform.FCM, token), shared)
        for i, token in enumerate(tokens)
    ]
    return Batch(1, deliveries, asyncio.get_running_loop().time() + within_s)
