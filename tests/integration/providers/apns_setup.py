"""Building blocks of the APNs adapter tests: keys, credentials, batches, a movable clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.domain.payload import Content, DeliveryOptions, Priority
from pushgate.domain.platforms import Platform
from pushgate.providers.base import Batch, Delivery, ProviderCredential, Push, Recipient

KEY_ID = "KEY1234567"
TEAM_ID = "TEAM123456"
TOPIC = "com.example.app"


class Clock:
    """Unix time that tests move explicitly; shared by the adapter and the fake."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def private_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def token_credential(
    key: ec.EllipticCurvePrivateKey,
    endpoint: str | None,
    sandbox_endpoint: str | None = None,
    *,
    key_id: str = KEY_ID,
    topic: str = TOPIC,
) -> ProviderCredential:
    """Shaped like services/credential_checks.py stores a token credential."""
    settings: dict[str, object] = {
        "auth": "token",
        "key_id": key_id,
        "team_id": TEAM_ID,
        "topic": topic,
    }
    if sandbox_endpoint is not None:
        settings["sandbox_endpoint"] = sandbox_endpoint
    return ProviderCredential(1, "apns", settings, {"key": private_pem(key)}, endpoint, "v1")


def certificate_credential(
    certificate: bytes, private_key: bytes, endpoint: str
) -> ProviderCredential:
    settings = {"auth": "certificate", "topic": TOPIC, "subject": f"CN={TOPIC}"}
    secret = {
        "certificate": certificate.decode(),
        "private_key": private_key.decode(),
        "private_key_password": None,
    }
    return ProviderCredential(1, "apns", settings, secret, endpoint, "v1")


def options(
    clock: Clock,
    *,
    ttl: timedelta = timedelta(hours=1),
    priority: Priority | None = None,
    collapse_id: str | None = None,
    once: bool = False,
) -> DeliveryOptions:
    expires_at = datetime.fromtimestamp(clock.now, UTC) + ttl
    return DeliveryOptions(expires_at, priority, collapse_id, once)


def alert_push(clock: Clock, text: str = "hello", **kwargs: object) -> Push:
    return Push(Content(alert=text), options(clock, **kwargs))  # type: ignore[arg-type]


def batch(
    tokens: Sequence[str],
    push: Push,
    *,
    seconds: float = 10.0,
    sandbox: bool = False,
    platform: Platform = Platform.APNS,
) -> Batch:
    deliveries = [
        Delivery(f"d-{i}-{token}", Recipient(f"r-{i}", platform, token, sandbox), push)
        for i, token in enumerate(tokens)
    ]
    return Batch(1, deliveries, asyncio.get_running_loop().time() + seconds)


def hex_tokens(count: int, prefix: str = "") -> list[str]:
    """Distinct 64-digit hex device tokens, starting with `prefix` (a behaviour, e.g. "dead")."""
    return [f"{prefix}{i:0{64 - len(prefix)}x}" for i in range(count)]


async def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait for `condition` with a deadline (no sleep as synchronisation: it is re-checked)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    for _ in range(100_000):
        if condition():
            return
        if loop.time() > deadline:
            break
        await asyncio.sleep(0.002)
    raise AssertionError(f"condition not met within {timeout_s} s")
