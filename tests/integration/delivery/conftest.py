"""Delivery tests: the real engine on a real database, providers replaced by the recorder.

The recording provider is registered through the runtime's provider registry (the same
path the real adapters take), never by patching.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushgate.app import build_runtime
from pushgate.delivery.engine import DeliveryConfig
from pushgate.delivery.worker import Worker
from pushgate.http.deps import Runtime
from pushgate.providers.base import ProviderOptions
from pushgate.providers.recording import Recorder, recording_kinds
from pushgate.providers.registry import ProviderRegistry
from pushgate.store.engine import Database
from tests.conftest import FixedClock, make_settings, wait_for

__all__ = ["wait_for"]  # the delivery tests import it from here too
from tests.integration.api.helpers import make_app, make_key

SEND_ROLES = (
    "push_single",
    "push_multiple",
    "push_all",
    "registrations_write",
    "pushregistrations_read",
)
FAST = DeliveryConfig(poll_s=0.05, lease_s=5.0, send_timeout_s=5.0, inline_deadline_s=5.0)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def delivery_config() -> DeliveryConfig:
    return FAST


@pytest.fixture
def clock() -> FixedClock:
    """The runtime's time: tests move it (retries come due, schedules start, TTLs end)."""
    return FixedClock()


@pytest.fixture
def queue_settings() -> dict[str, Any]:
    """PUSHGATE_* queue settings of the runtime: the database queue unless a module says so."""
    return {}


@pytest.fixture
async def runtime(
    database: Database,
    tmp_path: Path,
    recorder: Recorder,
    delivery_config: DeliveryConfig,
    clock: FixedClock,
    queue_settings: dict[str, Any],
) -> AsyncIterator[Runtime]:
    recorder.clock = clock
    registry = ProviderRegistry(recording_kinds(recorder), ProviderOptions())
    built, _ = await build_runtime(
        make_settings(tmp_path, **queue_settings),
        db=database,
        registry=registry,
        delivery=delivery_config,
        clock=clock,
    )
    yield built
    await built.engine.aclose()
    await built.limits.aclose()  # its Redis client, when the rate limits live in Redis


@pytest.fixture
async def worker(runtime: Runtime) -> AsyncIterator[Worker]:
    """The delivery worker, running for the test."""
    running = Worker(runtime.engine)
    task = asyncio.create_task(running.run())
    yield running
    await running.stop(grace_s=5)
    await task


@pytest.fixture
async def app_key(client: httpx.AsyncClient) -> dict[str, str]:
    await make_app(client, "news")
    return {"X-API-Key": await make_key(client, "news", *SEND_ROLES)}


async def register(
    client: httpx.AsyncClient, headers: dict[str, str], token: str, **fields: object
) -> str:
    body = {"platform": fields.pop("platform", "ios"), "token": token, **fields}
    response = await client.post("/v1/apps/news/registrations", json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    registration_id: str = response.json()["id"]
    return registration_id


async def send(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    target: Mapping[str, object],
    notification: Mapping[str, object] | None = None,
    **options: object,
) -> httpx.Response:
    body = {"target": target, "notification": notification or {"alert": "Hello"}, **options}
    return await client.post("/v1/apps/news/notifications", json=body, headers=headers)


async def status_of(
    client: httpx.AsyncClient, headers: dict[str, str], notification_id: str
) -> dict[str, Any]:
    response = await client.get(f"/v1/apps/news/notifications/{notification_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_done(
    client: httpx.AsyncClient, headers: dict[str, str], notification_id: str
) -> dict[str, Any]:
    """The notification's status once every targeted registration has a final status."""
    found: dict[str, Any] = {}

    async def done() -> bool:
        found.update(await status_of(client, headers, notification_id))
        return bool(found["state"] == "done")

    await wait_for(done, what=f"notification {notification_id} to finish")
    return found
