"""PostgreSQL crashes (immediate stop) during a send and comes back: nothing is lost.

reliability.md F7. While it is down, requests get 503 with Retry-After (never 500); the worker
recovers without a restart of its own, and every delivery of the broadcast ends SENT. Under a
stream of idempotent sends through a 10 s outage, every 2xx is delivered and replaying its key
adds nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
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


@dataclass
class Service:
    """An API and a worker in this process, on the private cluster."""

    client: httpx.AsyncClient
    recorder: Recorder
    db: Database
    key: dict[str, str]
    app_id: int


@asynccontextmanager
async def service(tmp_path: Path, url: str, audience: int) -> AsyncIterator[Service]:
    db = Database(async_database_url(url), pool_size=5)
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
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://pushgate.test"
        ) as client:
            app = await make_app(client, "news")
            key = {"X-API-Key": await make_key(client, "news", "push_all", "push_multiple")}
            app_id = int(str(app["company_id"]))
            await seed_topic(db, app_id, "all", audience, runtime.clock())
            yield Service(client, recorder, db, key, app_id)
    finally:
        await worker.stop()
        await task
        await runtime.engine.aclose()
        await runtime.limits.aclose()
        await db.dispose()


async def _state(client: httpx.AsyncClient, nid: str, key: dict[str, str]) -> str | None:
    try:
        status = await client.get(f"/v1/apps/news/notifications/{nid}", headers=key)
    except (OSError, asyncpg.PostgresError):
        return None
    return str(status.json()["state"]) if status.status_code == 200 else None


async def test_a_crash_during_a_broadcast_loses_nothing_and_answers_503(
    server: PrivatePostgres, tmp_path: Path
) -> None:
    async with service(tmp_path, server.url, AUDIENCE) as svc:
        client, recorder, key = svc.client, svc.recorder, svc.key
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
            return await _state(client, nid, key) == "done"

        await wait_for(done, timeout_s=60, what="the broadcast to finish after the restart")
        recovered_s = time.monotonic() - started
        status = (await client.get(f"/v1/apps/news/notifications/{nid}", headers=ADMIN)).json()
    print(  # noqa: T201 - the fault test's figures
        f"\nPostgreSQL crash mid-broadcast: accepted {AUDIENCE}, SENT {status['counts']['SENT']}, "
        f"provider saw {recorder.count} (at the crash {at_crash}), duplicates "
        f"{recorder.count - AUDIENCE}, finished {recovered_s:.1f} s after the restart"
    )
    assert status["counts"]["SENT"] == AUDIENCE
    assert status["counts"]["QUEUED"] == 0
    assert recorder.count - AUDIENCE <= 2 * 1000  # at most the batches in flight, again


OUTAGE_S = 10.0
SMALL_AUDIENCE = 20


@pytest.mark.slow
async def test_a_ten_second_outage_under_idempotent_sends_never_500s_and_replays_add_nothing(
    server: PrivatePostgres, tmp_path: Path
) -> None:
    async with service(tmp_path, server.url, SMALL_AUDIENCE) as svc:
        client, key = svc.client, svc.key
        answers: list[tuple[str, int, str | None, bool]] = []  # key, status, id, Retry-After
        stop = asyncio.Event()

        async def sender() -> None:
            index = 0
            while not stop.is_set():
                idem = f"order-{index}"
                index += 1
                try:
                    answer = await client.post(
                        "/v1/apps/news/notifications",
                        json={"target": {"topics": ["all"]}, "notification": {"alert": idem}},
                        headers={**key, "Idempotency-Key": idem},
                    )
                except (OSError, asyncpg.PostgresError) as exc:  # would be a 500 over HTTP
                    raise AssertionError(f"{idem}: the API raised {exc!r}") from exc
                nid = answer.json().get("id") if answer.status_code < 300 else None
                answers.append((idem, answer.status_code, nid, "retry-after" in answer.headers))
                await asyncio.sleep(0.05)  # pacing of the load, not synchronisation

        senders = asyncio.create_task(sender())

        async def some_accepted() -> bool:
            return sum(1 for a in answers if a[1] < 300) >= 10

        await wait_for(some_accepted, timeout_s=30, what="sends accepted before the outage")
        server.stop()
        down_at = len(answers)
        outage_ends = time.monotonic() + OUTAGE_S

        async def outage_over() -> bool:
            return time.monotonic() >= outage_ends

        await wait_for(outage_over, timeout_s=OUTAGE_S + 5, what="the outage to last 10 s")
        server.start()
        restarted = time.monotonic()
        up_at = len(answers)
        # The requests in flight at the stop and at the start may be answered either way.
        during = answers[down_at + 1 : up_at - 1]

        async def accepted_again() -> bool:
            return any(a[1] < 300 for a in answers[up_at:])

        await wait_for(accepted_again, timeout_s=30, what="a send accepted after the restart")
        recovered_s = time.monotonic() - restarted
        stop.set()
        await senders
        accepted = {idem: nid for idem, code, nid, _ in answers if code < 300 and nid}

        async def all_done() -> bool:
            states = [await _state(client, nid, key) for nid in accepted.values()]
            return all(state == "done" for state in states)

        await wait_for(all_done, timeout_s=60, what="every accepted send to be delivered")
        saw_before_replay = svc.recorder.count
        for idem, nid in accepted.items():
            replay = await client.post(
                "/v1/apps/news/notifications",
                json={"target": {"topics": ["all"]}, "notification": {"alert": idem}},
                headers={**key, "Idempotency-Key": idem},
            )
            assert replay.status_code < 300, replay.text
            assert replay.json()["id"] == nid
            assert replay.headers["idempotent-replayed"] == "true"
        sent_counts = [
            (await client.get(f"/v1/apps/news/notifications/{nid}", headers=key)).json()["counts"]
            for nid in accepted.values()
        ]
        async with svc.db.engine.connect() as conn:
            stored = (await conn.exec_driver_sql("SELECT count(*) FROM notifications")).scalar_one()
    codes = sorted({code for _, code, _, _ in answers})
    delivered = sum(counts["SENT"] for counts in sent_counts)
    print(  # noqa: T201 - the fault test's figures
        f"\nPostgreSQL down {OUTAGE_S:.0f} s under idempotent sends: {len(answers)} requests, "
        f"{len(accepted)} accepted ({len(during)} answered during the outage), status codes "
        f"{codes}, {delivered} deliveries SENT of {len(accepted) * SMALL_AUDIENCE}, provider saw "
        f"{svc.recorder.count}; first 2xx {recovered_s:.1f} s after the restart; "
        f"{len(accepted)} replays added {svc.recorder.count - saw_before_replay} deliveries"
    )
    assert during, "no request was answered while PostgreSQL was down"
    assert all(code == 503 and retry for _, code, _, retry in during), during
    assert all(code < 300 or code == 503 for _, code, _, _ in answers), codes
    assert recovered_s <= 10.0
    # Replays stored nothing. (A commit the crash cut off before its answer may have stored one
    # more notification behind a 503: the ambiguity an idempotency key exists to resolve.)
    assert len(accepted) <= stored <= len(accepted) + 1
    assert all(counts["SENT"] == SMALL_AUDIENCE for counts in sent_counts), sent_counts
    assert svc.recorder.count == saw_before_replay
