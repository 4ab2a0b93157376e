"""Redis loses every stream mid-fan-out (a restart without persistence): nothing is lost.

The database is the record; the recovery sweep notices the notification has stopped moving
and plans it again, skipping every registration that already has a delivery row.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import redis.asyncio as redis_async

from pushgate.delivery.engine import DeliveryConfig
from pushgate.delivery.worker import Worker
from pushgate.http.deps import Runtime
from pushgate.providers.recording import Recorder
from tests.conftest import REDIS_URL, FixedClock
from tests.e2e.databases import seed_topic
from tests.integration.api.helpers import ADMIN
from tests.integration.delivery.conftest import FAST, send, wait_done, wait_for

pytestmark = pytest.mark.anyio
AUDIENCE = 10_000


@pytest.fixture
def queue_settings(redis_prefix: str) -> dict[str, Any]:
    return {"queue": "redis", "redis_url": REDIS_URL, "redis_prefix": redis_prefix}


@pytest.fixture
def delivery_config() -> DeliveryConfig:
    return DeliveryConfig(
        poll_s=FAST.poll_s, lease_s=FAST.lease_s, send_timeout_s=FAST.send_timeout_s, stall_s=5
    )


async def test_streams_lost_mid_fanout_are_recovered_by_the_sweep(
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    recorder: Recorder,
    runtime: Runtime,
    clock: FixedClock,
    redis_prefix: str,
    worker: Worker,
) -> None:
    recorder.delay_s = 0.05
    app = await client.get("/v1/apps/news", headers=ADMIN)
    await seed_topic(runtime.db, app.json()["company_id"], "all", AUDIENCE, clock.now)
    response = await send(client, app_key, {"topics": ["all"]})
    nid = response.json()["id"]

    async def under_way() -> bool:
        return recorder.count >= AUDIENCE // 4

    await wait_for(under_way, what="the fan-out to be under way")
    lost = redis_async.from_url(REDIS_URL)
    keys = [key async for key in lost.scan_iter(match=redis_prefix + ":*")]
    await lost.delete(*keys)  # every stream and its consumer group, gone
    await lost.aclose()
    at_loss = recorder.count

    async def recovered() -> bool:
        clock.advance(3)  # the sweep judges progress on the runtime's clock
        status = await client.get(f"/v1/apps/news/notifications/{nid}", headers=app_key)
        return bool(status.json()["state"] == "done")

    await wait_for(recovered, timeout_s=60, what="the sweep to recover the notification")
    status = await wait_done(client, app_key, nid)
    tokens = recorder.tokens()
    duplicates = len(tokens) - len(set(tokens))
    print(  # noqa: T201 - the fault test's figures
        f"\nRedis streams lost mid-fan-out: accepted {AUDIENCE}, delivered {len(set(tokens))}, "
        f"lost {AUDIENCE - len(set(tokens))}, duplicated {duplicates}, delivered before the "
        f"loss {at_loss}"
    )
    assert status["counts"]["SENT"] == AUDIENCE
    assert status["counts"]["QUEUED"] == 0
    assert len(set(tokens)) == AUDIENCE
    # Only batches in flight when the streams vanished can go twice (2 slots of 1,000).
    assert duplicates <= 2 * 1000
