"""Lanes: a one-device notification never waits behind a broadcast's batches."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest

from pushgate.delivery.worker import Worker
from pushgate.http.deps import Runtime
from pushgate.providers.recording import Recorder
from tests.conftest import FixedClock
from tests.e2e.databases import seed_topic
from tests.integration.api.helpers import ADMIN
from tests.integration.delivery.conftest import register, send, status_of, wait_done, wait_for

pytestmark = pytest.mark.anyio
AUDIENCE = 20_000


async def test_one_device_is_delivered_at_once_while_a_broadcast_runs(
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    recorder: Recorder,
    runtime: Runtime,
    clock: FixedClock,
    worker: Worker,
) -> None:
    recorder.keep = False  # count only
    recorder.delay_s = 0.25  # each broadcast batch (1,000 deliveries) takes a provider round trip
    app = await client.get("/v1/apps/news", headers=ADMIN)
    await seed_topic(runtime.db, app.json()["company_id"], "everyone", AUDIENCE, clock.now)
    rid = await register(client, app_key, "tok-single")
    broadcast = await send(client, app_key, {"topics": ["everyone"]})
    assert broadcast.status_code == 202
    nid = broadcast.json()["id"]

    async def under_way() -> bool:
        return recorder.count >= 2000

    await wait_for(under_way, what="the broadcast to be under way")
    started = time.perf_counter()
    single = await send(client, app_key, {"registrations": [rid]})
    inline_s = time.perf_counter() - started
    assert single.status_code == 200, single.text
    # Through the worker's fast lane too: a scheduled one-device send coming due.
    later = (clock.now + timedelta(seconds=1)).isoformat()
    scheduled = await send(client, app_key, {"registrations": [rid]}, send_at=later)
    assert scheduled.json()["state"] == "scheduled"
    clock.advance(2)
    started = time.perf_counter()
    await wait_done(client, app_key, scheduled.json()["id"])
    lane_s = time.perf_counter() - started
    progress = (await status_of(client, app_key, nid))["counts"]
    print(  # noqa: T201 - the test's figures
        f"\nlanes: one device inline in {inline_s * 1000:.0f} ms, through the fast lane in "
        f"{lane_s * 1000:.0f} ms, while the broadcast stood at {progress['SENT']}/{AUDIENCE}"
    )
    assert progress["SENT"] < AUDIENCE  # the broadcast was still running
    # Typically 0.1-0.3 s. The bound is what "at once" has to survive when the suite's other
    # worker loads the second core; queued behind the broadcast, the send would wait for the
    # rest of it: 18 batches of 0.25 s at least.
    assert inline_s < 2.0
    assert lane_s < 2.0
    done = await wait_done(client, app_key, nid)
    assert done["counts"]["SENT"] == AUDIENCE
