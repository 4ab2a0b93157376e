"""An in-process provider that records what it is given, for tests and the engine benchmark.

Never registered by default: tests and bench/fanout.py build a registry with it. Like the
fake servers it answers by token prefix, so the engine's retry and deactivation paths can be
driven without a network: `dead` unregistered (with a timestamp), `bad` invalid token,
`429` rate limited once (Retry-After 1 s), `500` server error once, `fail` always
unavailable, `big` payload too large.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pushgate.domain.platforms import Platform
from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.providers.base import (
    SENT,
    Batch,
    Provider,
    ProviderCredential,
    ProviderOptions,
    Push,
    SendResult,
)
from pushgate.providers.kinds import ProviderKind

RECORDING_LIMIT = 4096


@dataclass(slots=True)
class Recorder:
    """Everything the recording providers accepted, and how often each token was tried."""

    accepted: list[tuple[str, str, Push]] = field(default_factory=list)  # (delivery, token, push)
    attempts: Counter[str] = field(default_factory=Counter)  # token -> attempts
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    # False: count only (benchmarks of a million deliveries keep no list of them).
    keep: bool = True
    count: int = 0
    delay_s: float = 0.0  # a provider's answer time, per batch

    def tokens(self) -> list[str]:
        return [token for _, token, _ in self.accepted]

    def answer(self, token: str) -> SendResult:
        self.attempts[token] += 1
        first = self.attempts[token] == 1
        if token.startswith("dead"):
            return SendResult(
                Outcome.DEAD_TOKEN,
                ResultCode.TOKEN_REJECTED,
                "Unregistered",
                provider_timestamp=self.clock(),
            )
        if token.startswith("bad"):
            return SendResult(Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED, "BadDeviceToken")
        if token.startswith("big"):
            return SendResult(Outcome.REJECTED, ResultCode.TOO_LARGE, "PayloadTooLarge")
        if token.startswith("429") and first:
            return SendResult(
                Outcome.RETRY, ResultCode.RECOVERABLE_IO, "TooManyRequests", retry_after_s=1.0
            )
        if (token.startswith("500") and first) or token.startswith("fail"):
            return SendResult(Outcome.RETRY, ResultCode.RECOVERABLE_IO, "InternalServerError")
        return SENT


class RecordingProvider:
    def __init__(self, provider: str, recorder: Recorder) -> None:
        self.provider = provider
        self._recorder = recorder
        self.closed = False

    async def send(self, batch: Batch) -> list[SendResult]:
        recorder = self._recorder
        if recorder.delay_s:
            await asyncio.sleep(recorder.delay_s)
        if not recorder.keep:
            recorder.count += len(batch.deliveries)
            return [SENT] * len(batch.deliveries)
        results: list[SendResult] = []
        for delivery in batch.deliveries:
            result = recorder.answer(delivery.recipient.token)
            if result is SENT:
                recorder.count += 1
                recorder.accepted.append(
                    (delivery.delivery_id, delivery.recipient.token, delivery.push)
                )
            results.append(result)
        return results

    async def aclose(self) -> None:
        self.closed = True


def render_json(push: Push, platform: Platform) -> bytes:
    """A neutral rendering: the content's fields as compact JSON."""
    return json.dumps(push.content.to_dict(), separators=(",", ":")).encode()


def recording_kinds(recorder: Recorder) -> dict[str, ProviderKind]:
    """A registry mapping every provider to a RecordingProvider sharing `recorder`."""

    def kind(name: str) -> ProviderKind:
        def build(_credential: ProviderCredential | None, _options: ProviderOptions) -> Provider:
            return RecordingProvider(name, recorder)

        return ProviderKind(name, False, render_json, lambda _p: RECORDING_LIMIT, build)

    return {name: kind(name) for name in ("apns", "fcm", "webpush", "wns", "sms")}
