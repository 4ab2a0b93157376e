"""reliability.md F10, adapter by adapter: a slow provider (answer held past the deadline,
answer trickled a byte at a time, connection blackholed) ends the attempt at the *total*
deadline ±1 s as a RETRY that counts an attempt; once the fault is lifted the retry is SENT,
and the fake's ledger never shows the delivery twice at once.

Each adapter sends through a FaultProxy (fakes/fault_proxy.py) in front of its fake, over
TLS and HTTP/2 as in production, with ProviderOptions.send_timeout_s as the deadline (the
batch's is later). The three modes run at once, each with its own fake, proxy and adapter.
The engine's half (the worker's retry, the batch deadline, API accept p99) is in
test_slow_provider_engine.py. For APNs, test_apns_faults.py's
`test_a_slow_token_is_bounded_by_the_batch_deadline` covers a slow answer from the fake
itself; the trickle and the blackhole are here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.domain.platforms import Platform
from pushgate.domain.statuses import Outcome
from pushgate.fakes.apns import FakeApns
from pushgate.fakes.fault_proxy import FaultProxy
from pushgate.fakes.inbox import Inbox
from pushgate.fakes.tls import FakeCertificates
from pushgate.fakes.webpush import FakeWebPush
from pushgate.providers.apns import ApnsProvider
from pushgate.providers.base import (
    Batch,
    Delivery,
    Provider,
    ProviderOptions,
    Recipient,
    SendResult,
)
from pushgate.providers.http_curl import CurlTransport
from pushgate.providers.webpush import WebPushProvider
from tests.integration.faults.slow_modes import DEADLINE_S, SLOW_MODES, Attempt, receptions
from tests.integration.providers.apns_setup import (
    KEY_ID,
    TEAM_ID,
    TOPIC,
    Clock,
    alert_push,
    hex_tokens,
    token_credential,
)
from tests.integration.providers.fcm_support import fcm_world_running, make_push
from tests.integration.providers.webpush_helpers import UnixClock, credential, delivery, push

pytestmark = pytest.mark.anyio

BATCH_S = DEADLINE_S + 3.0  # the batch's deadline: later, so the per-request one is tested
Send = Callable[[Delivery], Awaitable[SendResult]]
OneMode = Callable[[str], Coroutine[Any, Any, Attempt]]


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def sender(provider: Provider) -> Send:
    async def send(one: Delivery) -> SendResult:
        deadline = asyncio.get_running_loop().time() + BATCH_S
        [result] = await provider.send(Batch(1, [one], deadline))
        return result

    return send


async def exercise(
    adapter: str,
    mode: str,
    proxy: FaultProxy,
    send: Send,
    inbox: Inbox,
    warm: Delivery,
    slow: Delivery,
) -> Attempt:
    """Warm the connection, make the provider slow, send, lift the fault, send again."""
    warmed = await send(warm)
    assert warmed.outcome is Outcome.SENT, warmed  # TLS + HTTP/2 up through the proxy
    token = slow.recipient.token
    proxy.set(SLOW_MODES[mode])
    loop = asyncio.get_running_loop()
    start = loop.time()
    first = await send(slow)
    took = loop.time() - start
    seen_before_lift = inbox.attempts[token]
    proxy.set()
    retried = await send(slow)
    times = receptions(inbox, token)
    return Attempt(
        adapter, mode, took, first, retried, seen_before_lift, inbox.attempts[token], times
    )


async def run_modes(one_mode: OneMode) -> None:
    """Every slow mode at once; print each one's figures, then check them."""
    outcomes = await asyncio.gather(*(one_mode(m) for m in SLOW_MODES), return_exceptions=True)
    attempts = [o for o in outcomes if isinstance(o, Attempt)]
    for attempt in attempts:
        print(attempt.line())  # noqa: T201 - the test's figures
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    for attempt in attempts:
        attempt.check()


async def test_fcm_slow_answers_end_at_the_total_deadline_and_are_retried(tmp_path: Path) -> None:
    async def one_mode(mode: str) -> Attempt:
        async with (
            fcm_world_running(tmp_path / mode) as world,
            FaultProxy("127.0.0.1", port_of(world.fake.url)) as proxy,
        ):
            # Only the send endpoint goes through the proxy; the OAuth token comes directly.
            provider = world.provider(
                world.credential(endpoint=proxy.url()), send_timeout_s=DEADLINE_S
            )
            shared = make_push()
            warm, slow = (
                Delivery(
                    f"d-{key}", Recipient(f"r-{key}", Platform.FCM, f"tok-{mode}-{key}"), shared
                )
                for key in ("warm", "slow")
            )
            try:
                return await exercise("fcm", mode, proxy, sender(provider), world.inbox, warm, slow)
            finally:
                await provider.aclose()

    await run_modes(one_mode)


class ProxiedWebPush(FakeWebPush):
    """The fake push service as its clients reach it, through a proxy: its subscriptions'
    endpoints and the VAPID audience it expects name the proxy's origin."""

    public_origin: str | None = None

    @property
    def origin(self) -> str:
        return self.public_origin or super().origin


async def test_webpush_slow_answers_end_at_the_total_deadline_and_are_retried(
    tmp_path: Path,
) -> None:
    async def one_mode(mode: str) -> Attempt:
        certs = FakeCertificates(tmp_path / mode)
        inbox = Inbox()
        async with (
            ProxiedWebPush(certs, inbox, clock=time.time) as fake,
            FaultProxy("127.0.0.1", fake.port) as proxy,
        ):
            fake.public_origin = proxy.url()
            options = ProviderOptions(
                ca_file=str(certs.ca_file), allow_private_addresses=True, send_timeout_s=DEADLINE_S
            )
            transport = CurlTransport(ca_file=options.ca_file)
            provider = WebPushProvider(credential(), options, transport=transport, clock=time.time)
            shared = push(UnixClock())
            warm, slow = (delivery(fake.subscribe(), shared, n=n) for n in range(2))
            try:
                return await exercise("webpush", mode, proxy, sender(provider), inbox, warm, slow)
            finally:
                await provider.aclose()

    await run_modes(one_mode)


async def test_apns_slow_answers_end_at_the_total_deadline_and_are_retried(
    tmp_path: Path,
) -> None:
    certs = FakeCertificates(tmp_path / "certs")
    key = ec.generate_private_key(ec.SECP256R1())
    clock = Clock()

    async def one_mode(mode: str) -> Attempt:
        inbox = Inbox()
        async with FakeApns(certs, inbox, topics=[TOPIC], clock=clock) as fake:
            fake.add_key(KEY_ID, TEAM_ID, key.public_key())
            async with FaultProxy("127.0.0.1", port_of(fake.url)) as proxy:
                options = ProviderOptions(ca_file=str(certs.ca_file), send_timeout_s=DEADLINE_S)
                provider = ApnsProvider(token_credential(key, proxy.url()), options, clock=clock)
                shared = alert_push(clock)
                warm, slow = (
                    Delivery(f"d-{n}", Recipient(f"r-{n}", Platform.APNS, token), shared)
                    for n, token in enumerate(hex_tokens(2))
                )
                try:
                    return await exercise("apns", mode, proxy, sender(provider), inbox, warm, slow)
                finally:
                    await provider.aclose()

    await run_modes(one_mode)
