"""Web Push adapter cost: CPU per message (render + aes128gcm + VAPID) and sends/s to the fake.

Usage: uv run python bench/webpush.py [--messages 2000] [--batch 500]

Both figures in one process on loopback: the send rate includes the fake's own work (TLS,
HTTP/2 via hypercorn, and one ECDH + AES-GCM decryption per message), so it is a floor for
the adapter, not its ceiling. Writes bench/results/webpush.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pushgate.domain.payload import Content, DeliveryOptions
from pushgate.domain.platforms import Platform
from pushgate.fakes.inbox import Inbox
from pushgate.fakes.tls import FakeCertificates
from pushgate.fakes.webpush import FakeWebPush
from pushgate.providers.base import (
    Batch,
    Delivery,
    ProviderCredential,
    ProviderOptions,
    Push,
    Recipient,
)
from pushgate.providers.http_curl import CurlTransport
from pushgate.providers.vapid import VapidSigner, load_vapid_keys
from pushgate.providers.webpush import WebPushProvider
from pushgate.providers.webpush_payload import (
    decode_subscription_keys,
    encrypt,
    render_plaintext,
)
from pushgate.services.credential_checks import check_credential

RESULTS = Path(__file__).resolve().parent / "results" / "webpush.json"
CONTENT = Content(title="Order shipped", body="Your order 42 is on its way", data={"id": "42"})


def _credential() -> ProviderCredential:
    checked = check_credential("webpush", {"subject": "mailto:bench@example.com", "generate": True})
    return ProviderCredential(1, "webpush", checked.settings, checked.secret, None, "bench")


def cpu_per_message(fake: FakeWebPush, messages: int) -> float:
    """Microseconds of CPU for the adapter's per-message work (no network)."""
    subscription = fake.subscribe()
    keys = decode_subscription_keys(subscription.p256dh, subscription.auth)
    signer = VapidSigner(load_vapid_keys(_credential()), time.time)
    started = time.process_time()
    for _ in range(messages):
        encrypt(render_plaintext(CONTENT), keys)
        signer.authorization(fake.origin)
    return (time.process_time() - started) / messages * 1e6


async def sends_per_second(fake: FakeWebPush, ca_file: str, messages: int, batch: int) -> float:
    options = ProviderOptions(ca_file=ca_file, allow_private_addresses=True)
    adapter = WebPushProvider(
        _credential(),
        options,
        transport=CurlTransport(ca_file=ca_file),  # what webpush_kind builds
    )
    push = Push(CONTENT, DeliveryOptions(datetime.now(UTC) + timedelta(hours=1)))
    deliveries = []
    for n in range(messages):
        sub = fake.subscribe()
        recipient = Recipient(f"r{n}", Platform.WEBPUSH, sub.endpoint, False, sub.p256dh, sub.auth)
        deliveries.append(Delivery(f"d{n}", recipient, push))
    loop = asyncio.get_running_loop()
    started = loop.time()
    sent = 0
    try:
        for offset in range(0, messages, batch):
            chunk = deliveries[offset : offset + batch]
            results = await adapter.send(Batch(1, chunk, loop.time() + 60))
            sent += sum(1 for r in results if r.outcome.value == "sent")
    finally:
        await adapter.aclose()
    elapsed = loop.time() - started
    if sent != messages:
        raise SystemExit(f"only {sent} of {messages} sent")
    return messages / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        certs = FakeCertificates(Path(tmp))
        async with FakeWebPush(certs, Inbox()) as fake:
            cpu_us = cpu_per_message(fake, args.messages)
            rate = await sends_per_second(fake, str(certs.ca_file), args.messages, args.batch)
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "messages": args.messages,
        "batch": args.batch,
        "adapter_cpu_us_per_message": round(cpu_us, 1),
        "sends_per_s_curl_h2_same_process_fake": round(rate),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
