"""Adapter runs for bench/providers.py, and its FCM and Web Push parts (APNs' figures).

Each adapter runs on its production transport (pycurl HTTP/2, http_curl.py) over ONE and
FOUR connections (max_in_flight = connections x 100 streams, so every connection is used),
against its faithful fake (hypercorn, its own process) and against nginx answering the
provider's success shape; h2load measures both servers alone with the same request. FCM's
access token always comes from the fake's OAuth endpoint (the adapter's real token path),
also when its sends go to nginx. Web Push encrypts every message (ECDH + AES-GCM, RFC 8291)
and its fake decrypts every one, so both sides cost far more per send than APNs'.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from bench import servers
from bench.profiles import profiled
from bench.servers import FCM_PROJECT, STEP_TIMEOUT_S
from pushgate.domain.payload import Content, DeliveryOptions
from pushgate.domain.platforms import Platform
from pushgate.domain.statuses import Outcome
from pushgate.providers.base import (
    Batch,
    Delivery,
    Provider,
    ProviderCredential,
    ProviderOptions,
    Push,
    Recipient,
)
from pushgate.providers.fcm import FcmProvider
from pushgate.providers.fcm_auth import AccessTokens
from pushgate.providers.fcm_message import render
from pushgate.providers.http_curl import CurlTransport
from pushgate.providers.vapid import VapidSigner, b64url, load_vapid_keys
from pushgate.providers.webpush import WebPushProvider
from pushgate.providers.webpush_payload import decode_subscription_keys, encrypt, render_plaintext

CONTENT = Content(title="Order shipped", body="Your order 42 is on its way", data={"id": "42"})
# Sends per run: the Python fakes manage ~1-3k/s, so fewer against them.
FCM_SENDS = {"fake": 4000, "nginx_responder": 20_000}
WEBPUSH_SENDS = {"fake": 2000, "nginx_responder": 10_000}
# 100 streams in flight per connection (http_curl.DEFAULT_STREAMS_PER_CONNECTION): with
# `connections` x 100 requests open, libcurl really uses every connection.
STREAMS = 100


# -- one adapter run -------------------------------------------------------------------------


async def timed_send(provider: Provider, warm: list[Delivery], timed: list[Delivery], *,
                     connections: int, profile: str | None = None,
                     workdir: Path | None = None) -> dict[str, Any]:  # fmt: skip
    """One warm-up batch (connections, tokens, TLS), then `timed` as one batch: the figures.

    `profile` ("perf" or "cprofile", bench/profiles.py) profiles the timed batch only.
    """
    loop = asyncio.get_running_loop()
    components: dict[str, Any] = {}
    try:
        await provider.send(Batch(1, warm, loop.time() + STEP_TIMEOUT_S))
        batch = Batch(1, timed, loop.time() + STEP_TIMEOUT_S)
        async with profiled(profile, workdir or Path("."), components):
            wall, cpu = time.perf_counter(), time.process_time()
            results = await provider.send(batch)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await provider.aclose()
    sends = len(timed)
    failures: dict[str, int] = {}
    for result in results:
        if result.outcome is not Outcome.SENT:
            failures[str(result.reason)] = failures.get(str(result.reason), 0) + 1
    return {
        "sends": sends,
        "connections": connections,
        "streams_per_connection": STREAMS,
        "sent": sends - sum(failures.values()),
        **({"failures": failures} if failures else {}),
        "seconds": round(wall, 3),
        "sends_per_s": round(sends / wall),
        "cpu_us_per_send": round(cpu / sends * 1e6, 1),
        "profiled": profile or False,
        **components,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def best(section: dict[str, Any], *servers_: str) -> int | None:
    rates = [run["sends_per_s"] for name in servers_ for run in section[name].get("adapter", [])]
    return max(rates, default=None)


def _push() -> Push:
    return Push(CONTENT, DeliveryOptions(datetime.now(UTC) + timedelta(hours=1)))


# -- FCM -------------------------------------------------------------------------------------


def fcm_deliveries(count: int, offset: int = 0) -> list[Delivery]:
    push = _push()
    return [
        Delivery(f"d{i}", Recipient(f"r{i}", Platform.FCM, f"tok-{i}"), push)
        for i in range(offset, offset + count)
    ]


async def fcm_rate(url: str, ca_file: str, account: dict[str, Any], *, sends: int,
                   connections: int) -> dict[str, Any]:  # fmt: skip
    credential = ProviderCredential(
        1, "fcm", {"project_id": FCM_PROJECT}, {"service_account": account}, url, "bench"
    )
    provider = FcmProvider(
        credential,
        ProviderOptions(ca_file=ca_file),
        transport=CurlTransport(ca_file=ca_file, max_connections=connections),
        max_in_flight=connections * STREAMS,
    )
    warm = fcm_deliveries(500, offset=10_000_000)
    return await timed_send(provider, warm, fcm_deliveries(sends), connections=connections)


async def bench_fcm(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """FCM adapter vs the fake FCM and vs nginx, 1 and 4 connections; both ceilings."""
    section: dict[str, Any] = {}
    with servers.fake_process("fcm", workdir) as fake:
        account, fake_ca = fake["account"], fake["ca_file"]
        tokens = AccessTokens(account, ca_file=fake_ca)
        try:
            access = await tokens.current()  # the fake's own grant, for h2load
        finally:
            await tokens.aclose()
        headers = [f"authorization: Bearer {access}", "content-type: application/json"]
        body = render(_push(), 3600).request_body("tok-h2load")

        async def measure(url: str, ca_file: str, sends: int) -> dict[str, Any]:
            target = f"{url}/v1/projects/{FCM_PROJECT}/messages:send"
            return {
                "ceiling": [
                    servers.h2load(target, headers, body, workdir, requests=sends, connections=c)
                    for c in (1, 4)
                ],
                "adapter": [
                    await fcm_rate(url, ca_file, account, sends=sends, connections=c)
                    for c in (1, 4)
                ],
            }

        section["fake"] = await measure(fake["url"], fake_ca, FCM_SENDS["fake"])
        with servers.nginx_responder(workdir) as served:
            if served is None:
                section["nginx_responder"] = {"skipped": servers.INSTALL_NGINX}
            else:
                url, nginx_ca = served
                bundle = servers.ca_bundle(workdir, fake_ca, nginx_ca)
                section["nginx_responder"] = await measure(
                    url, bundle, FCM_SENDS["nginx_responder"]
                )
    section["adapter_only"] = _fcm_adapter_only()
    section["best_adapter_sends_per_s"] = best(section, "fake", "nginx_responder")
    return section


def _fcm_adapter_only() -> dict[str, Any]:
    """bench/fcm.py --transport none: the adapter's own CPU per send, no I/O at all."""
    script = str(servers.ROOT / "bench" / "fcm.py")
    done = subprocess.run(  # noqa: S603 - our interpreter and script
        [sys.executable, script, "--seconds", "5", "--transport", "none"],
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_S,
    )
    out = done.stdout  # the JSON document after any progress lines
    figures: dict[str, Any] = json.loads(out[out.index("{") :])
    keep = ("sends_per_s", "adapter_cpu_us_per_send", "sent", "batch", "in_flight", "transport")
    return {key: figures[key] for key in keep}


# -- Web Push --------------------------------------------------------------------------------


def vapid_credential() -> ProviderCredential:
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    settings = {"subject": "mailto:bench@example.com"}
    return ProviderCredential(1, "webpush", settings, {"private_key": b64url(raw)}, None, "b")


def webpush_deliveries(origin: str, subscriptions: list[list[str]], count: int) -> list[Delivery]:
    """`count` deliveries to the fake's subscriptions in turn, their endpoints on `origin`."""
    push, deliveries = _push(), []
    for i in range(count):
        endpoint, p256dh, auth = subscriptions[i % len(subscriptions)]
        path = endpoint.split("/", 3)[3]
        recipient = Recipient(f"r{i}", Platform.WEBPUSH, f"{origin}/{path}", False, p256dh, auth)
        deliveries.append(Delivery(f"d{i}", recipient, push))
    return deliveries


async def webpush_rate(origin: str, ca_file: str, subscriptions: list[list[str]], *,
                       sends: int, connections: int) -> dict[str, Any]:  # fmt: skip
    provider = WebPushProvider(
        vapid_credential(),
        ProviderOptions(ca_file=ca_file, allow_private_addresses=True),  # loopback endpoints
        transport=CurlTransport(ca_file=ca_file, max_connections=connections),
        max_in_flight=connections * STREAMS,
    )
    warm = webpush_deliveries(origin, subscriptions, 200)
    timed = webpush_deliveries(origin, subscriptions, sends)
    return await timed_send(provider, warm, timed, connections=connections)


def _webpush_request(origin: str, subscription: list[str]) -> tuple[list[str], bytes]:
    """One valid Web Push request (headers, encrypted body) for h2load to repeat."""
    _, p256dh, auth = subscription
    body = encrypt(render_plaintext(CONTENT), decode_subscription_keys(p256dh, auth))
    signer = VapidSigner(load_vapid_keys(vapid_credential()), time.time)
    headers = ["ttl: 3600", "urgency: normal", "content-encoding: aes128gcm"]
    headers += ["content-type: application/octet-stream"]
    return [*headers, f"authorization: {signer.authorization(origin)}"], body


async def bench_webpush(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Web Push adapter vs the fake push service and vs nginx, 1 and 4 connections."""
    section: dict[str, Any] = {}

    async def measure(origin: str, ca_file: str, subs: list[list[str]], sends: int) -> Any:
        headers, body = _webpush_request(origin, subs[0])
        target = f"{origin}/{subs[0][0].split('/', 3)[3]}"
        return {
            "ceiling": [
                servers.h2load(target, headers, body, workdir, requests=sends, connections=c)
                for c in (1, 4)
            ],
            "adapter": [
                await webpush_rate(origin, ca_file, subs, sends=sends, connections=c)
                for c in (1, 4)
            ],
        }

    with servers.fake_process("webpush", workdir) as fake:
        subscriptions = fake["subscriptions"]
        section["fake"] = await measure(
            fake["url"], fake["ca_file"], subscriptions, WEBPUSH_SENDS["fake"]
        )
    with servers.nginx_responder(workdir) as served:
        if served is None:
            section["nginx_responder"] = {"skipped": servers.INSTALL_NGINX}
        else:
            origin, nginx_ca = served
            sends = WEBPUSH_SENDS["nginx_responder"]
            section["nginx_responder"] = await measure(origin, nginx_ca, subscriptions, sends)
    section["best_adapter_sends_per_s"] = best(section, "fake", "nginx_responder")
    return section
