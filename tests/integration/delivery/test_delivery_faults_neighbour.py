"""A noisy neighbour: one app's provider refuses everything, another app's sends go on.

reliability.md F5: app A's provider answers 429 (Retry-After: 1 s) to everything; app B's
1,000 sends, timed from the request to every delivery recorded, take at most 1.5 times their
time alone. On a loaded two-core machine a sub-second time varies by more than that ratio
alone, so the bound is max(1.5 x alone, alone + 1 s); the figures are printed.

The providers are in-process (the Script of test_delivery_faults.py, registered through the
registry): what is measured is the engine sharing its worker, queue and database between the
two apps, not a fake server's speed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushgate.app import build_runtime
from pushgate.delivery.engine import DeliveryConfig
from pushgate.delivery.worker import Worker
from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.http.deps import Runtime
from pushgate.providers.base import ProviderOptions, SendResult
from pushgate.providers.kinds import ProviderRegistry
from pushgate.store.engine import Database
from tests.conftest import make_settings, wait_for
from tests.e2e.databases import seed_topic
from tests.integration.api.helpers import ADMIN
from tests.integration.delivery.test_delivery_faults_harness import (
    Script,
    ShiftedClock,
    app_with_key,
    register,
    scripted_kind,
    send,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

AUDIENCE = 1000  # app B's sends
FLOOD = 5000  # app A's, refused with 429 over and over
TOO_MANY = SendResult(
    Outcome.RETRY, ResultCode.QUOTA_EXCEEDED, "TooManyRequests", retry_after_s=1.0
)


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()  # A's retries come due by themselves, a second after each 429


@pytest.fixture
def script(clock: ShiftedClock) -> Script:
    return Script(clock, keep=False)


@pytest.fixture
async def runtime(
    database: Database,
    tmp_path: Path,
    delivery_config: DeliveryConfig,
    clock: ShiftedClock,
    script: Script,
) -> AsyncIterator[Runtime]:
    names = ("apns", "fcm", "webpush", "wns", "sms")
    registry = ProviderRegistry(
        {name: scripted_kind(name, script) for name in names}, ProviderOptions()
    )
    built, _ = await build_runtime(
        make_settings(tmp_path),
        db=database,
        registry=registry,
        delivery=delivery_config,
        clock=clock,
    )
    yield built
    await built.engine.aclose()
    await built.limits.aclose()


async def _app(client: httpx.AsyncClient, name: str) -> tuple[int, dict[str, str]]:
    headers = await app_with_key(client, name)
    found = await client.get(f"/v1/apps/{name}", headers=ADMIN)
    company_id: int = found.json()["company_id"]
    return company_id, headers


async def _broadcast(
    client: httpx.AsyncClient, app: str, headers: Mapping[str, str], topic: str
) -> str:
    body = {"target": {"topics": [topic]}, "notification": {"alert": "Hello"}}
    response = await client.post(f"/v1/apps/{app}/notifications", json=body, headers=headers)
    assert response.status_code == 202, response.text
    nid: str = response.json()["id"]
    return nid


async def _done(
    client: httpx.AsyncClient, app: str, headers: Mapping[str, str], nid: str
) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def done() -> bool:
        response = await client.get(f"/v1/apps/{app}/notifications/{nid}", headers=headers)
        found.update(response.json())
        return bool(found["state"] == "done")

    await wait_for(done, timeout_s=60, what=f"{app}'s notification to finish")
    return found


async def _timed_broadcast(
    client: httpx.AsyncClient, headers: Mapping[str, str], script: Script, app_id: int
) -> float:
    """B's broadcast to its audience: seconds from the request until all are recorded."""
    started = time.perf_counter()
    answered = script.per_app[app_id] + AUDIENCE
    nid = await _broadcast(client, "quiet", headers, "all")

    async def provider_has_them() -> bool:  # in memory: cheap to poll
        return script.per_app[app_id] >= answered

    await wait_for(provider_has_them, timeout_s=60, what="B's sends to reach the provider")
    status = await _done(client, "quiet", headers, nid)
    elapsed = time.perf_counter() - started
    assert status["counts"]["SENT"] == AUDIENCE, status
    return elapsed


async def test_an_app_whose_provider_429s_everything_does_not_slow_another_app_down(
    client: httpx.AsyncClient,
    runtime: Runtime,
    script: Script,
    clock: ShiftedClock,
    worker: Worker,
) -> None:
    a_id, a_key = await _app(client, "flood")
    b_id, b_key = await _app(client, "quiet")
    await seed_topic(runtime.db, b_id, "all", AUDIENCE, clock())
    await seed_topic(runtime.db, a_id, "all", FLOOD, clock())
    script.by_app[a_id] = TOO_MANY
    warm = await register(client, b_key, "ios", "warm-up", app="quiet")  # first-use costs
    assert (await send(client, b_key, [warm], app="quiet"))["results"][0]["status"] == "SENT"

    alone_s = await _timed_broadcast(client, b_key, script, b_id)

    a_nid = await _broadcast(client, "flood", a_key, "all")

    async def retries_under_way() -> bool:  # every delivery refused once, and retried already
        return script.per_app[a_id] > FLOOD

    await wait_for(retries_under_way, timeout_s=30, what="A's retries to begin")
    (waiting,) = [lane for lane in await runtime.engine.backlog() if lane.lane == "retry"]
    refused_before = script.per_app[a_id]
    with_flood_s = await _timed_broadcast(client, b_key, script, b_id)
    refused_during = script.per_app[a_id] - refused_before
    flood = (await client.get(f"/v1/apps/flood/notifications/{a_nid}", headers=a_key)).json()
    bound_s = max(1.5 * alone_s, alone_s + 1.0)
    print(  # noqa: T201 - the test's figures
        f"\nnoisy neighbour: B's {AUDIENCE} sends alone {alone_s:.2f} s, while A's provider "
        f"429s {FLOOD} deliveries {with_flood_s:.2f} s (x{with_flood_s / alone_s:.2f}, bound "
        f"{bound_s:.2f} s); A's retries waiting as B began: {waiting.jobs}, A's 429s during "
        f"B's sends: {refused_during}, A so far: "
        f"{script.per_app[a_id]} tries, counts {flood['counts']}"
    )
    # A's flood was in progress as B sent: its retries were due, waiting for the worker (which
    # gives fresh sends the larger share meanwhile: worker.py, so A may get no turn at all).
    assert waiting.oldest_due_at is not None
    assert waiting.jobs > FLOOD // 2
    assert (flood["counts"]["SENT"], flood["counts"]["ERROR"]) == (0, 0)  # A's all wait
    assert with_flood_s <= bound_s
