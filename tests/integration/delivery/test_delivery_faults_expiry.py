"""A provider down past the TTL, and the TTL each attempt carries.

reliability.md F13: a provider down (answering 503, or refusing connections) past the TTL
ends in ERROR expired; nothing reaches it after the expiry, not even once it is back; tries
are paced by the backoff, not every poll; a retry passes the remaining TTL on (FCM
android.ttl and the Web Push TTL header shrink, APNs gets the same expiry instant).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import pytest

from pushgate.delivery.worker import Worker
from pushgate.domain.statuses import ResultCode
from pushgate.fakes.behaviour import ServerPlan
from pushgate.fakes.inbox import Received
from tests.e2e.server import free_port
from tests.integration.delivery.test_delivery_faults_harness import (
    Fakes,
    accepted,
    apns_token,
    app_key,
    certs,
    clock,
    delivery_config,
    fakes,
    kinds,
    register,
    register_browser,
    runtime,
    send,
    wait_final,
    with_fcm,
)

pytestmark = pytest.mark.anyio

# Fixtures, imported by name so that pytest finds them here.
__all__ = ["app_key", "certs", "clock", "delivery_config", "fakes", "kinds", "runtime", "with_fcm"]


class RefusingListener:
    """The provider's port while it is down: every connection is counted and closed at once
    (the TLS handshake fails, as against a refused port, but each try is seen)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connections = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> RefusingListener:
        self._server = await asyncio.start_server(self._refuse, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _refuse(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()


@pytest.mark.parametrize("down", ["503", "refused"])
async def test_provider_down_past_the_ttl_ends_in_error_expired_and_nothing_is_sent_late(
    down: str,
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    fakes: Fakes,
    worker: Worker,
) -> None:
    token = apns_token()
    rid = await register(client, app_key, "ios", token)
    ports = [urlsplit(url).port or 0 for url in (fakes.apns.url, fakes.apns.sandbox_url)]
    async with contextlib.AsyncExitStack() as outage:
        refusing: RefusingListener | None = None
        if down == "503":  # answering 503 without Retry-After: the backoff paces the retries
            fakes.plans["apns"].fail_status = 503
        else:  # not answering at all
            await fakes.apns.aclose()
            refusing = await outage.enter_async_context(RefusingListener(ports[0]))

        def tries() -> int:  # requests the provider saw, or connections it refused
            return refusing.connections if refusing else fakes.inbox.attempts[token]

        loop = asyncio.get_running_loop()
        answer = await send(client, app_key, [rid], ttl=3)
        expires_at = datetime.fromisoformat(answer["expires_at"])
        at_expiry: list[int] = []
        left_s = (expires_at - datetime.now(UTC)).total_seconds()
        loop.call_later(max(left_s, 0.0), lambda: at_expiry.append(tries()))
        # Given up at the last answer before the expiry: final by then.
        (done,) = (
            await wait_final(client, app_key, answer["id"], after=lambda: bool(at_expiry))
        ).values()
        after_expiry = tries()
    # The provider is back: a later notification goes out, the expired one never does.
    if down == "503":
        fakes.plans["apns"].fail_status = None
    else:
        await fakes.apns.start(*ports)
    later = await send(client, app_key, [rid], alert="after the outage")
    print(  # noqa: T201 - the test's figures
        f"\nprovider down ({down}), TTL 3 s: {done['status']} with {done['attempts']} counted"
        f" attempts, {at_expiry[0]} tries by the expiry, {after_expiry} in all: {done['message']}"
    )
    assert (done["status"], done["code"]) == ("ERROR", int(ResultCode.PROVIDER_FAILED))
    assert "expired" in done["message"]
    assert at_expiry[0] >= 2  # it was tried again while the provider was down
    # ... at the pace of the backoff (0.5-1 s, 1-2 s, ...: 3 or 4 in 3 s), not every poll
    assert at_expiry[0] <= 5
    assert after_expiry == at_expiry[0]  # nothing tried after the expiry
    assert later["results"][0]["status"] == "SENT"
    assert [r.payload["aps"]["alert"] for r in accepted(fakes, token)] == ["after the outage"]


def _ttl_sent(provider: str, received: Received) -> int:
    if provider == "apns":  # APNs takes the expiry as an instant: UNIX seconds
        return int(received.headers["apns-expiration"])
    if provider == "fcm":
        return int(str(received.payload["android"]["ttl"]).removesuffix("s"))
    return int(received.headers["ttl"])


@pytest.mark.parametrize(
    ("provider", "with_fcm"), [("apns", False), ("fcm", True), ("webpush", False)]
)
async def test_a_retry_passes_the_remaining_ttl_on(
    provider: str,
    with_fcm: bool,
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    fakes: Fakes,
    worker: Worker,
) -> None:
    if provider == "apns":
        token = apns_token()
        rid = await register(client, app_key, "ios", token)
    elif provider == "fcm":
        token = "fcm-ttl-token"
        rid = await register(client, app_key, "android", token)
    else:
        rid, token = await register_browser(client, app_key, fakes)
    plan: ServerPlan = fakes.plans[provider]
    plan.fail_status, plan.fail_retry_after = 503, "2"
    answer = await send(client, app_key, [rid], ttl=60)
    assert answer["results"][0]["status"] == "QUEUED"
    plan.fail_status = plan.fail_retry_after = None
    arrived = lambda: bool(accepted(fakes, token))  # noqa: E731
    (done,) = (await wait_final(client, app_key, answer["id"], after=arrived)).values()
    assert (done["status"], done["attempts"]) == ("SENT", 2)
    (received,) = accepted(fakes, token)
    expires_at = datetime.fromisoformat(answer["expires_at"])
    ttl = _ttl_sent(provider, received)
    left = (expires_at - received.received_at).total_seconds()
    print(  # noqa: T201 - the test's figures
        f"\n{provider}: TTL 60 s, second attempt after 2 s carried {ttl} ({left:.1f} s left)"
    )
    if provider == "apns":
        assert ttl == int(expires_at.timestamp())  # the same instant, never a fresh TTL
    else:
        assert ttl <= 58  # 60 s less the 2 s of Retry-After at least
        assert left - 2 <= ttl <= left  # whole seconds left, rounded down


async def test_one_web_push_origin_down_is_paced_while_other_origins_keep_answering(
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    fakes: Fakes,
    worker: Worker,
) -> None:
    # One browser's push service refuses every connection; another's answers, and the app
    # keeps sending to it. Before outages were kept per Web Push origin, each answer from the
    # live origin ended "the outage" of the whole provider, so the dead origin was resent to
    # at the poll interval for as long as the app had other traffic.
    up, _ = await register_browser(client, app_key, fakes)
    port = free_port()
    spare = fakes.webpush.subscribe()
    down_endpoint = f"https://127.0.0.1:{port}/push/{spare.endpoint.rsplit('/', 1)[1]}"
    keys = {"p256dh": spare.p256dh, "auth": spare.auth}
    down = await register(client, app_key, "webpush", down_endpoint, keys=keys)
    loop = asyncio.get_running_loop()
    async with RefusingListener(port) as refusing:
        await send(client, app_key, [down], ttl=60)
        started = loop.time()
        live_sends = 0
        while loop.time() - started < WINDOW_S:
            answer = await send(client, app_key, [up])
            assert answer["results"][0]["status"] == "SENT"
            live_sends += 1
            await asyncio.sleep(0.2)  # the app's own pace: other traffic, not synchronisation
        tries = refusing.connections
    print(  # noqa: T201 - the test's figures
        f"\none Web Push origin refusing for {WINDOW_S} s while {live_sends} sends reached "
        f"another: {tries} connection attempts to it"
    )
    # Spaced by the outage's length (0.2 s, then between it and twice it: ~5 in 3 s), where
    # every poll (0.2 s) would be ~15.
    assert 2 <= tries <= 7


WINDOW_S = 3.0
