"""Delivery metrics recorded by the real engine: accepted notifications, outcomes by provider,
retries, token invalidations, provider send time and open adapters."""

from __future__ import annotations

import httpx
import pytest

from pushgate.http.deps import Runtime
from pushgate.http.metrics import scrape
from pushgate.telemetry import exposition
from tests.conftest import FixedClock
from tests.integration.delivery.conftest import register, send
from tests.integration.test_metrics import value

pytestmark = pytest.mark.anyio


async def test_an_inline_send_records_each_outcome(
    client: httpx.AsyncClient, app_key: dict[str, str]
) -> None:
    for token in ("ok-1", "dead-1", "429-1"):
        await register(client, app_key, token, user="alice")
    before = exposition().decode()
    response = await send(client, app_key, {"users": ["alice"]})
    assert response.status_code in (200, 202), response.text
    after = exposition().decode()

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("pushgate_notifications_accepted_total", target="users") == 1
    for outcome in ("sent", "dead_token", "retry"):
        assert grew("pushgate_deliveries_total", provider="apns", outcome=outcome) == 1, outcome
    assert grew("pushgate_delivery_retries_total", provider="apns") == 1
    assert grew("pushgate_token_invalidations_total", provider="apns") == 1
    assert grew("pushgate_provider_send_duration_seconds_count", provider="apns") == 1
    assert value(after, "pushgate_provider_adapters", provider="apns") >= 1


async def test_the_backlog_counts_waiting_jobs_and_due_retries(
    client: httpx.AsyncClient, app_key: dict[str, str], runtime: Runtime, clock: FixedClock
) -> None:
    await register(client, app_key, "ok-2", topics=["news"])
    await register(client, app_key, "429-2", user="carol")
    queued = await send(client, app_key, {"topics": ["news"]})
    assert queued.status_code == 202, queued.text  # no worker runs: the fan-out job waits
    await send(client, app_key, {"users": ["carol"]})  # rate limited once: a retry in ~1 s
    clock.advance(31)
    backlog = {lane.lane: lane for lane in await runtime.engine.backlog()}
    assert (backlog["fast"].jobs, backlog["bulk"].jobs, backlog["retry"].jobs) == (0, 1, 1)
    text = (await scrape(runtime.engine)).decode()
    retry_age = value(text, "pushgate_queue_oldest_job_age_seconds", lane="retry")
    assert retry_age == pytest.approx(30, abs=1.5)
    if runtime.settings.queue == "database":  # Redis stamps entries with its own clock
        assert value(text, "pushgate_queue_oldest_job_age_seconds", lane="bulk") == 31
