"""FCM adapter throughput against the fake FCM, the fake in its own process.

Usage: uv run python bench/fcm.py [--seconds 10] [--batch 500] [--in-flight 256]
       [--transport curl|httpx2|none]

`--transport none` answers every request at once without I/O (the token still comes from
the fake): what is left is the adapter's own work per send (render, tasks, answer table).

Prints sends/s and the adapter process's CPU per send as JSON (nothing is written to
bench/results: bench/providers.py owns the providers figures). The fake is hypercorn
(Python h2), so it is likely the limit; the CPU per send shows the adapter's own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from pushgate.domain.payload import Content, DeliveryOptions
from pushgate.domain.platforms import Platform
from pushgate.domain.statuses import Outcome
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
from pushgate.providers.fcm import MAX_IN_FLIGHT, FcmProvider
from pushgate.providers.http import Headers, HttpResponse, HttpTransport
from pushgate.providers.http_curl import CurlTransport
from pushgate.providers.http_httpx import HttpxTransport

PROJECT = "bench-project"


def serve_fake(directory: str, pipe: Connection) -> None:
    async def main() -> None:
        certs = FakeCertificates(Path(directory))
        inbox = Inbox(limit=10_000)
        async with FakeFcm(certs, inbox) as fake:
            pipe.send((fake.url, str(certs.ca_file), fake.service_account(PROJECT)))
            while (await asyncio.get_running_loop().run_in_executor(None, pipe.recv)) == "cpu":
                pipe.send(time.process_time())

    asyncio.run(main())


def fake_cpu(pipe: Connection) -> float:
    pipe.send("cpu")
    seconds: float = pipe.recv()
    return seconds


class AnsweringTransport:
    """No I/O: every request answered 200 at once, to measure the adapter's own work."""

    _answer = HttpResponse(200, [], b'{"name": "projects/bench-project/messages/1"}')

    async def request(
        self, method: str, url: str, headers: Headers, body: bytes, *, timeout_s: float
    ) -> HttpResponse:
        return self._answer

    async def aclose(self) -> None:
        return None


def build_provider(url: str, ca_file: str, account: dict[str, Any], args: Any) -> FcmProvider:
    credential = ProviderCredential(
        1, "fcm", {"project_id": PROJECT}, {"service_account": account}, url, "1"
    )
    transport: HttpTransport
    if args.transport == "none":
        transport = AnsweringTransport()
    elif args.transport == "httpx2":
        transport = HttpxTransport(http2=True, ca_file=ca_file)
    else:  # what build_fcm uses
        transport = CurlTransport(ca_file=ca_file, max_connections=4)
    options = ProviderOptions(ca_file=ca_file)
    return FcmProvider(credential, options, transport=transport, max_in_flight=args.in_flight)


def deliveries(count: int) -> list[Delivery]:
    push = Push(
        Content(title="Bench", body="x" * 100),
        DeliveryOptions(datetime.now(UTC) + timedelta(hours=1)),
    )
    return [
        Delivery(f"d{i}", Recipient(f"r{i}", Platform.FCM, f"tok-{i}"), push) for i in range(count)
    ]


async def send_for(provider: FcmProvider, args: Any) -> tuple[int, Counter[str | None]]:
    """Batches of args.batch tokens, one after another, for args.seconds: (sent, failures)."""
    batch = deliveries(args.batch)
    loop = asyncio.get_running_loop()
    sent, failures = 0, Counter[str | None]()
    started = time.perf_counter()
    while time.perf_counter() - started < args.seconds:
        for result in await provider.send(Batch(1, batch, loop.time() + 60)):
            if result.outcome is Outcome.SENT:
                sent += 1
            else:
                failures[result.reason] += 1
    return sent, failures


async def measure(
    url: str, ca_file: str, account: dict[str, Any], args: Any, pipe: Connection
) -> dict[str, Any]:
    provider = build_provider(url, ca_file, account, args)
    try:
        # The access token and the connection, before the clock starts.
        await provider.send(Batch(1, deliveries(10), asyncio.get_running_loop().time() + 30))
        cpu, wall, their_cpu = time.process_time(), time.perf_counter(), fake_cpu(pipe)
        sent, failures = await send_for(provider, args)
        elapsed, cpu_used = time.perf_counter() - wall, time.process_time() - cpu
        their_cpu = fake_cpu(pipe) - their_cpu
    finally:
        await provider.aclose()
    return {
        "sends_per_s": round(sent / elapsed),
        "adapter_cpu_us_per_send": round(cpu_used / max(sent, 1) * 1e6),
        "fake_cpu_us_per_send": round(their_cpu / max(sent, 1) * 1e6),
        "sent": sent,
        "failed": sum(failures.values()),
        "failures": dict(failures.most_common(5)),
        "batch": args.batch,
        "in_flight": args.in_flight,
        "seconds": round(elapsed, 1),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "transport": {
            "curl": "pycurl http2 (production)",
            "httpx2": "httpx2 http2",
            "none": "none (answers 200 at once)",
        }[args.transport],
        "fake": "hypercorn (separate process)",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--in-flight", type=int, default=MAX_IN_FLIGHT)
    parser.add_argument("--transport", choices=("curl", "httpx2", "none"), default="curl")
    args = parser.parse_args()
    ours, theirs = multiprocessing.Pipe()
    with tempfile.TemporaryDirectory() as directory:
        fake = multiprocessing.Process(target=serve_fake, args=(directory, theirs))
        fake.start()
        url, ca_file, account = ours.recv()
        try:
            figures = asyncio.run(measure(url, ca_file, account, args, ours))
        finally:
            ours.send("stop")
            fake.join(timeout=10)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
