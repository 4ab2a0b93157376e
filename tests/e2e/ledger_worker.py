"""`pushgate worker` with every provider replaced by a ledger: a test-only entry point.

Run as `python -m tests.e2e.ledger_worker LEDGER_FILE` with the PUSHGATE_* environment of
the worker under test; LEDGER_DELAY_S is the provider's answer time, and
LEDGER_HANG_AFTER_BATCHES=N makes it stop answering after N batches. Each provider appends
the delivery id of everything it accepts to the ledger (O_APPEND, one line per delivery),
so a test counts deliveries that reached "the provider" across processes that may be
killed at any moment: duplicates are lines that appear twice, losses are deliveries
missing from it.
"""

from __future__ import annotations

import asyncio
import os
import sys

from pushgate.app import run_worker
from pushgate.config import Settings
from pushgate.delivery.engine import DeliveryConfig
from pushgate.providers.base import (
    SENT,
    Batch,
    Provider,
    ProviderCredential,
    ProviderOptions,
    SendResult,
)
from pushgate.providers.kinds import ProviderKind, ProviderRegistry
from pushgate.providers.recording import render_json

PROVIDERS = ("apns", "fcm", "webpush", "wns", "sms")


class LedgerProvider:
    def __init__(self, fd: int, delay_s: float, hang_after: int | None) -> None:
        self._fd = fd
        self._delay_s = delay_s
        self._hang_after = hang_after
        self._batches = 0

    async def send(self, batch: Batch) -> list[SendResult]:
        await asyncio.sleep(self._delay_s)  # a provider's round trip
        lines = "".join(d.delivery_id + "\n" for d in batch.deliveries)
        os.write(self._fd, lines.encode())
        self._batches += 1
        if self._hang_after is not None and self._batches > self._hang_after:
            # The provider took the batch but its answer never comes back: the worker holds
            # the lease of a delivered, unrecorded batch, the worst moment to be killed.
            await asyncio.Event().wait()
        return [SENT] * len(batch.deliveries)

    async def aclose(self) -> None:
        return None


def ledger_registry(path: str, delay_s: float, hang_after: int | None) -> ProviderRegistry:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    provider = LedgerProvider(fd, delay_s, hang_after)  # one, so batches count per process

    def build(_credential: ProviderCredential | None, _options: ProviderOptions) -> Provider:
        return provider

    kinds = {n: ProviderKind(n, False, render_json, lambda _p: 4096, build) for n in PROVIDERS}
    return ProviderRegistry(kinds, ProviderOptions())


def main() -> None:
    ledger = sys.argv[1]
    delay_s = float(os.environ.get("LEDGER_DELAY_S", "0.05"))
    hang = os.environ.get("LEDGER_HANG_AFTER_BATCHES")
    settings = Settings()
    config = DeliveryConfig(
        lease_s=settings.lease_s, send_timeout_s=settings.send_timeout_s, poll_s=0.1
    )
    registry = ledger_registry(ledger, delay_s, int(hang) if hang else None)
    asyncio.run(run_worker(settings, registry=registry, delivery=config))


if __name__ == "__main__":
    main()
