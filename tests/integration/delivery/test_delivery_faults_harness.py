"""The harness of the test_delivery_faults* modules (reliability.md F4, F5, F11, F13).

The real engine and adapters against pushgate's fake providers (FakeDeployment's parts, each
test its own), or against an in-process provider that follows a Script (registered through
the provider registry, never patched in). The runtime's clock is the wall clock (ShiftedClock),
because the fakes stamp their ledger and the adapters compute TTLs and Retry-After dates with
it; tests that must skip time shift it forward. No tests here: the modules import the
fixtures they use by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import ssl
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushgate.app import build_runtime
from pushgate.delivery.engine import DeliveryConfig
from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.fakes.apns import FakeApns
from pushgate.fakes.behaviour import ServerPlan, TokenBehaviour
from pushgate.fakes.deployment import APNS_TOPIC, FCM_PROJECT, apns_credential
from pushgate.fakes.fcm import FakeFcm
from pushgate.fakes.inbox import Inbox, Received
from pushgate.fakes.tls import FakeCertificates
from pushgate.fakes.webpush import FakeWebPush
from pushgate.http.deps import Runtime
from pushgate.providers.base import Batch, Provider, ProviderCredential, ProviderOptions, SendResult
from pushgate.providers.kinds import ProviderKind, ProviderRegistry
from pushgate.providers.recording import render_json
from pushgate.providers.registry import default_kinds
from pushgate.store.engine import Database
from tests.conftest import make_settings, wait_for
from tests.integration.api.helpers import make_app, make_key
from tests.integration.delivery.conftest import FAST, SEND_ROLES

APP = "news"


class ShiftedClock:
    """The wall clock, moved forward by what a test skips (a lease, a backoff).

    Never behind the wall clock: the real adapters refuse to send what expired by their own
    clock (time.time), and the fakes stamp what they accept with it.
    """

    def __init__(self) -> None:
        self.shift = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.shift

    def advance(self, seconds: float) -> None:
        self.shift += timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class SeenAttempt:
    token: str
    at: datetime  # the runtime's clock when the provider got it


@dataclass(slots=True)
class Script:
    """An in-process provider's answers by token prefix, and every attempt it saw.

    `answers`: prefix -> the SendResult for a delivery whose token starts with it (else SENT).
    `by_app`: app id -> the SendResult for every delivery of that app (before `answers`).
    `raise_on`: a batch holding a token with this prefix makes the adapter raise.
    `hang_on`: a batch holding a token with this prefix never gets an answer (a worker that
    dies on it), from its `hang_from`-th attempt on.
    `keep`: False counts deliveries per app only (thousands of them), `seen` stays empty.
    """

    clock: Callable[[], datetime]
    answers: dict[str, SendResult] = field(default_factory=dict)
    by_app: dict[int, SendResult] = field(default_factory=dict)
    raise_on: str | None = None
    hang_on: str | None = None
    hang_from: int = 1
    keep: bool = True
    seen: list[SeenAttempt] = field(default_factory=list)
    per_app: Counter[int] = field(default_factory=Counter)
    hanging: asyncio.Event = field(default_factory=asyncio.Event)
    batches: int = 0

    def attempts(self, token: str) -> list[SeenAttempt]:
        return [a for a in self.seen if a.token == token]

    def answer(self, token: str) -> SendResult:
        for prefix, result in self.answers.items():
            if token.startswith(prefix):
                return result
        return SendResult(Outcome.SENT, ResultCode.SENT, provider_ref="ok")


class ScriptedProvider:
    """A provider registered through the registry (never patched in) that follows a Script."""

    def __init__(self, script: Script) -> None:
        self._script = script

    async def send(self, batch: Batch) -> list[SendResult]:
        script = self._script
        script.batches += 1
        script.per_app[batch.app_id] += len(batch.deliveries)
        for_app = script.by_app.get(batch.app_id)
        if for_app is not None:
            return [for_app] * len(batch.deliveries)
        tokens = [d.recipient.token for d in batch.deliveries]
        if script.keep:
            now = script.clock()
            script.seen.extend(SeenAttempt(token, now) for token in tokens)
        if script.raise_on is not None and any(t.startswith(script.raise_on) for t in tokens):
            raise RuntimeError("poison: the adapter fails on this batch")
        hang = script.hang_on
        if hang is not None and any(
            t.startswith(hang) and len(script.attempts(t)) >= script.hang_from for t in tokens
        ):
            script.hanging.set()
            await asyncio.Event().wait()  # the answer never comes
        return [script.answer(t) for t in tokens]

    async def aclose(self) -> None:
        return None


def scripted_kind(name: str, script: Script) -> ProviderKind:
    def build(_credential: ProviderCredential | None, _options: ProviderOptions) -> Provider:
        return ScriptedProvider(script)

    return ProviderKind(name, False, render_json, lambda _p: 4096, build)


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


# Lanes are woken by in-process enqueues; polling only paces the retry loop here, and each
# idle look at the queue costs a few ms of CPU (reliability tests have a CPU budget).
WIRE = replace(FAST, poll_s=0.2)


@pytest.fixture
def delivery_config() -> DeliveryConfig:
    return WIRE


class Fakes:
    """The fake providers a test talks to: FakeDeployment's parts, one inbox (the ledger).

    Only what the tests use, and FCM only when asked: its service account is an RSA key, ~0.5 s
    of CPU to make and load per test.
    """

    def __init__(self, certs: FakeCertificates, *, fcm: bool) -> None:
        self.certs = certs
        self.inbox = Inbox()
        self.plans = {name: ServerPlan() for name in ("apns", "fcm", "webpush")}
        self.apns = FakeApns(certs, self.inbox, topics=[APNS_TOPIC], plan=self.plans["apns"])
        self.webpush = FakeWebPush(certs, self.inbox, plan=self.plans["webpush"])
        self.fcm = FakeFcm(certs, self.inbox, self.plans["fcm"]) if fcm else None
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Fakes:
        for fake in (self.apns, self.webpush, self.fcm):
            if fake is not None:
                await self._stack.enter_async_context(fake)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    def credentials(self) -> dict[str, dict[str, Any]]:
        """What an app without credentials of its own sends with (fake-provider mode)."""
        found: dict[str, dict[str, Any]] = {
            "apns": apns_credential(self.apns),
            "webpush": {"subject": "mailto:fakes@pushgate.dev", "generate": True},
        }
        if self.fcm is not None:
            found["fcm"] = {"service_account": self.fcm.service_account(FCM_PROJECT)}
        return found

    def endpoints(self) -> dict[str, str]:
        found = {"apns": self.apns.url, "apns_sandbox": self.apns.sandbox_url}
        if self.fcm is not None:
            found |= {"fcm": self.fcm.url, "fcm_token": f"{self.fcm.url}/token"}
        return found


class SessionCertificates(FakeCertificates):
    """One CA for the session, each server context made once: making one loads the system's
    trust store (~0.2 s of CPU), twice per test otherwise. The fakes only read them."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self._contexts: dict[tuple[str, ...], ssl.SSLContext] = {}

    def server_context(self, alpn: tuple[str, ...] = ("h2",)) -> ssl.SSLContext:
        found = self._contexts.get(alpn)
        if found is None:
            found = self._contexts[alpn] = super().server_context(alpn)
        return found


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> FakeCertificates:
    return SessionCertificates(tmp_path_factory.mktemp("fake-ca"))


@pytest.fixture
def with_fcm() -> bool:
    """Whether the test's fakes include FCM (tests that need it parametrize this True)."""
    return False


@pytest.fixture
async def fakes(certs: FakeCertificates, with_fcm: bool) -> AsyncIterator[Fakes]:
    async with Fakes(certs, fcm=with_fcm) as running:
        yield running


@pytest.fixture
def kinds() -> dict[str, ProviderKind]:
    """The adapters of the runtime: the shipped ones unless a module says otherwise."""
    return default_kinds()


@pytest.fixture
async def runtime(
    database: Database,
    tmp_path: Path,
    fakes: Fakes,
    delivery_config: DeliveryConfig,
    clock: ShiftedClock,
    kinds: dict[str, ProviderKind],
) -> AsyncIterator[Runtime]:
    """The real engine and adapters, pointed at the fakes like `serve --fake-providers`."""
    credentials = tmp_path / "fake-credentials.json"
    credentials.write_text(json.dumps(fakes.credentials()))
    options = ProviderOptions(
        ca_file=str(fakes.certs.ca_file),
        endpoints=fakes.endpoints(),
        send_timeout_s=delivery_config.send_timeout_s,
        allow_private_addresses=True,
    )
    settings = make_settings(tmp_path, fake_credentials=credentials)
    built, _ = await build_runtime(
        settings,
        db=database,
        registry=ProviderRegistry(kinds, options),
        delivery=delivery_config,
        clock=clock,
    )
    yield built
    await built.engine.aclose()
    await built.limits.aclose()


@pytest.fixture
async def app_key(client: httpx.AsyncClient) -> dict[str, str]:
    return await app_with_key(client, APP)


async def app_with_key(client: httpx.AsyncClient, app: str) -> dict[str, str]:
    await make_app(client, app)
    return {"X-API-Key": await make_key(client, app, *SEND_ROLES)}


async def register(
    client: httpx.AsyncClient,
    headers: Mapping[str, str],
    platform: str,
    token: str,
    *,
    app: str = APP,
    **fields: object,
) -> str:
    body = {"platform": platform, "token": token, **fields}
    response = await client.post(f"/v1/apps/{app}/registrations", json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    registration_id: str = response.json()["id"]
    return registration_id


async def register_browser(
    client: httpx.AsyncClient,
    headers: Mapping[str, str],
    fakes: Fakes,
    *,
    app: str = APP,
    behaviour: TokenBehaviour = TokenBehaviour.ACCEPT,
) -> tuple[str, str]:
    """A new subscription of the fake Web Push's browser: (registration id, endpoint)."""
    subscription = fakes.webpush.subscribe(behaviour=behaviour)
    keys = {"p256dh": subscription.p256dh, "auth": subscription.auth}
    rid = await register(client, headers, "webpush", subscription.endpoint, app=app, keys=keys)
    return rid, subscription.endpoint


async def send(
    client: httpx.AsyncClient,
    headers: Mapping[str, str],
    registration_ids: list[str],
    *,
    app: str = APP,
    alert: str = "Hello",
    **options: object,
) -> dict[str, Any]:
    body = {"target": {"registrations": registration_ids}, "notification": {"alert": alert}}
    response = await client.post(
        f"/v1/apps/{app}/notifications", json={**body, **options}, headers=headers
    )
    assert response.status_code in (200, 202), response.text
    found: dict[str, Any] = response.json()
    return found


async def deliveries(
    client: httpx.AsyncClient, headers: Mapping[str, str], nid: str, *, app: str = APP
) -> dict[str, dict[str, Any]]:
    """The notification's deliveries by registration id."""
    response = await client.get(f"/v1/apps/{app}/notifications/{nid}/deliveries", headers=headers)
    assert response.status_code == 200, response.text
    return {d["registration_id"]: d for d in response.json()["items"]}


async def wait_final(
    client: httpx.AsyncClient,
    headers: Mapping[str, str],
    nid: str,
    *,
    app: str = APP,
    timeout_s: float = 15.0,
    after: Callable[[], bool] | None = None,
) -> dict[str, dict[str, Any]]:
    """The deliveries once none is QUEUED any more.

    `after`: an in-memory condition (a fake's ledger) that holds before they can be final;
    waited on first, because each look at the deliveries is an API request (~5 ms of CPU).
    """
    if after is not None:
        await wait_for(lambda: true_now(after()), timeout_s=timeout_s, what="the provider's answer")
    found: dict[str, dict[str, Any]] = {}

    async def final() -> bool:
        found.clear()
        found.update(await deliveries(client, headers, nid, app=app))
        return bool(found) and all(d["status"] != "QUEUED" for d in found.values())

    await wait_for(final, timeout_s=timeout_s, what=f"notification {nid} to finish")
    return found


async def true_now(value: bool) -> bool:
    return value


def accepted(fakes: Fakes, token: str) -> list[Received]:
    return [r for r in fakes.inbox.received if r.token == token]


def http_date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)


def whole_second_after(seconds: float) -> datetime:
    """An instant `seconds` or a little more from now, on a whole second (an HTTP-date's)."""
    now = datetime.now(UTC)
    return datetime.fromtimestamp(math.ceil(now.timestamp() + seconds), UTC)


def apns_token(prefix: str = "") -> str:
    return (prefix + "0123456789abcdef" * 4)[:64]


__all__ = [
    "APP",
    "WIRE",
    "Fakes",
    "Script",
    "ScriptedProvider",
    "SeenAttempt",
    "ShiftedClock",
    "accepted",
    "apns_token",
    "app_key",
    "app_with_key",
    "certs",
    "clock",
    "deliveries",
    "delivery_config",
    "fakes",
    "http_date",
    "kinds",
    "register",
    "register_browser",
    "runtime",
    "scripted_kind",
    "send",
    "true_now",
    "wait_final",
    "whole_second_after",
    "with_fcm",
]
