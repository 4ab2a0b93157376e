"""PostgreSQL crashes (immediate stop) during a send and comes back: nothing is lost.

While it is down, requests get 503 with Retry-After (never 500); the worker recovers without
a restart of its own, and every delivery of the broadcast ends SENT.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from pushgate.app import build_runtime, create_app
from pushgate.config import async_database_url
from pushgate.delivery.engine import DeliveryConfig
from pushgate.delivery.worker import Worker
from pushgate.providers.base import ProviderOptions
from pushgate.providers.kinds import ProviderRegistry
from pushgate.providers.recording import Recorder, recording_kinds
from pushgate.store.engine import Database
from pushgate.store.migrations import upgrade
from tests.conftest import make_settings, wait_for
from tests.e2e.databases import seed_topic
from tests.e2e.private_servers import PrivatePostgres, private_postgres
from tests.integration.api.helpers import ADMIN, make_app, make_key

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]
AUDIENCE = 10_000


@pytest.fixture
async def server() -> AsyncIterator[PrivatePostgres]:
    with private_postgres() as pg:
        yield pg


async def test_a_crash_during_a_broadcast_loses_nothing_and_answers_503(
    server: PrivatePostgres, tmp_path: Path
) -> None:
    db = Database(async_database_url(server.url), pool_size=5)
    await upgrade(db)
    recorder = Recorder(keep=False, delay_s=0.05)
    registry = ProviderRegistry(recording_kinds(recorder), ProviderOptions())
    config = DeliveryConfig(poll_s=0.05, lease_s=3, send_timeout_s=2)
    runtime, _ = await build_runtime(
        make_settings(tmp_path), db=db, registry=registry, delivery=config
    )
    worker = Worker(runtime.engine)
    task = asyncio.create_task(worker.run())
    transport = httpx.ASGITransport(app=create_app(runtime.settings, runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://pushgate.test") as client:
        app = await make_app(client, "news")
        key = {"X-API-Key": await make_key(client, "news", "push_all", "push_multiple")}
        await seed_topic(db, int(str(app["company_id"])), "all", AUDIENCE, runtime.clock())
        sent = await client.post(
            "/v1/apps/news/notifications",
            json={"target": {"topics": ["all"]}, "notification": {"alert": "hi"}},
            headers=key,
        )
        assert sent.status_code == 202, sent.text
        nid = sent.json()["id"]

        async def under_way() -> bool:
            return recorder.count >= AUDIENCE // 4

        await wait_for(under_way, timeout_s=60, what="the broadcast to be under way")
        server.stop()  # the crash
        at_crash = recorder.count
        during = await client.post(
            "/v1/apps/news/notifications",
            json={"target": {"topics": ["all"]}, "notification": {"alert": "again"}},
            headers=key,
        )
        ready = await client.get("/readyz")
        assert during.status_code == 503, during.text
        assert "retry-after" in during.headers
        assert ready.status_code == 503
        server.start()
        started = time.monotonic()

        async def done() -> bool:
            try:
                status = await client.get(f"/v1/apps/news/notifications/{nid}", headers=key)
            except (OSError, asyncpg.PostgresError):
                return False
            return status.status_code == 200 and status.json()["state"] == "done"

        await wait_for(done, timeout_s=60, what="the broadcast to finish after the restart")
        recovered_s = time.monotonic() - started
        status = (await client.get(f"/v1/apps/news/notifications/{nid}", headers=ADMIN)).json()
    await worker.stop()
    await task
    await runtime.engine.aclose()
    await runtime.limits.aclose()
    await db.dispose()
    print(  # noqa: T201 - the fault test's figures
        f"\nPostgreSQL crash mid-broadcast: accepted {AUDIENCE}, SENT {status['counts']['SENT']}, "
        f"provider saw {recorder.count} (at the crash {at_crash}), duplicates "
        f"{recorder.count - AUDIENCE}, finished {recovered_s:.1f} s after the restart"
    )
    assert status["counts"]["SENT"] == AUDIENCE
    assert status["counts"]["QUEUED"] == 0
    assert recorder.count - AUDIENCE <= 2 * 1000  # at most the batches in flight, again
