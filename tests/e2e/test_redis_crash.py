"""Redis killed with -9 in the middle of a fan-out, with and without its append-only file.

Pass (reliability.md F8): nothing is lost either way, and sends are accepted while Redis is
down (the database holds them; the recovery sweep queues them once Redis is back).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from pushgate.app import build_runtime, create_app
from pushgate.delivery.engine import DeliveryConfig
from pushgate.delivery.worker import Worker
from pushgate.providers.base import ProviderOptions
from pushgate.providers.kinds import ProviderRegistry
from pushgate.providers.recording import Recorder, recording_kinds
from pushgate.store.engine import Database
from tests.conftest import make_settings, wait_for
from tests.e2e.databases import seed_topic
from tests.e2e.private_servers import PrivateRedis, private_redis
from tests.integration.api.helpers import make_app, make_key

pytestmark = pytest.mark.anyio
AUDIENCE = 10_000
STALL_S = 4.0


@pytest.fixture(params=[True, False], ids=["appendonly", "no-persistence"])
async def redis_server(request: pytest.FixtureRequest) -> AsyncIterator[PrivateRedis]:
    with private_redis(appendonly=request.param) as server:
        yield server


async def test_redis_killed_mid_fanout_loses_nothing(
    redis_server: PrivateRedis, database: Database, tmp_path: Path
) -> None:
    recorder = Recorder(keep=False, delay_s=0.05)
    registry = ProviderRegistry(recording_kinds(recorder), ProviderOptions())
    config = DeliveryConfig(poll_s=0.05, lease_s=3, send_timeout_s=2, stall_s=STALL_S)
    settings = make_settings(tmp_path, queue="redis", redis_url=redis_server.url)
    runtime, _ = await build_runtime(settings, db=database, registry=registry, delivery=config)
    worker = Worker(runtime.engine)
    task = asyncio.create_task(worker.run())
    transport = httpx.ASGITransport(app=create_app(runtime.settings, runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://pushgate.test") as client:
        app = await make_app(client, "news")
        key = {"X-API-Key": await make_key(client, "news", "push_all", "push_multiple")}
        await seed_topic(database, int(str(app["company_id"])), "all", AUDIENCE, runtime.clock())
        body = {"target": {"topics": ["all"]}, "notification": {"alert": "hi"}}
        first = await client.post("/v1/apps/news/notifications", json=body, headers=key)
        assert first.status_code == 202, first.text

        async def under_way() -> bool:
            return recorder.count >= AUDIENCE // 4

        await wait_for(under_way, timeout_s=60, what="the fan-out to be under way")
        redis_server.kill()
        at_kill = recorder.count
        while_down = await client.post("/v1/apps/news/notifications", json=body, headers=key)
        assert while_down.status_code == 202, while_down.text  # accepted: the database has it
        redis_server.start()
        restarted = time.monotonic()
        ids = [first.json()["id"], while_down.json()["id"]]

        async def both_done() -> bool:
            for nid in ids:
                status = await client.get(f"/v1/apps/news/notifications/{nid}", headers=key)
                if status.json()["state"] != "done":
                    return False
            return True

        await wait_for(
            both_done, timeout_s=90, what="both notifications to finish after the restart"
        )
        recovered_s = time.monotonic() - restarted
        counts = [
            (await client.get(f"/v1/apps/news/notifications/{nid}", headers=key)).json()["counts"]
            for nid in ids
        ]
    await worker.stop()
    await task
    await runtime.engine.aclose()
    await runtime.limits.aclose()  # its Redis client, when the rate limits live in Redis
    duplicates = recorder.count - 2 * AUDIENCE
    print(  # noqa: T201 - the fault test's figures
        f"\nF8 Redis kill -9 (appendonly={redis_server.appendonly}): accepted 2 x {AUDIENCE}, "
        f"SENT {counts[0]['SENT']} + {counts[1]['SENT']}, provider saw {recorder.count} "
        f"(at the kill {at_kill}), duplicated {duplicates}, both done {recovered_s:.1f} s "
        f"after the restart"
    )
    assert [c["SENT"] for c in counts] == [AUDIENCE, AUDIENCE]
    assert [c["QUEUED"] for c in counts] == [0, 0]
    assert duplicates <= 2 * 1000  # the batches in flight at the kill, at most
