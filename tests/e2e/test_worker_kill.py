"""Two `pushgate worker` processes on PostgreSQL; one is SIGKILLed in the middle of a fan-out.

Pass (reliability.md F1): every delivery ends SENT, none is lost, duplicates are counted and
bounded by what the killed worker had in flight, no job is left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from pushgate.config import async_database_url
from pushgate.delivery.engine import DeliveryConfig, DeliveryEngine
from pushgate.delivery.queue import Queue
from pushgate.delivery.queue_db import DbQueue
from pushgate.delivery.queue_redis import RedisQueue
from pushgate.domain.notifications import NotificationRequest
from pushgate.domain.payload import Content, DeliveryOptions, Message
from pushgate.domain.targets import Target, TargetKind
from pushgate.providers.base import ProviderOptions
from pushgate.providers.kinds import ProviderRegistry
from pushgate.services import notifications as sending
from pushgate.services.vault import Vault
from pushgate.store.engine import Database
from pushgate.store.uow import unit_of_work
from tests.conftest import MASTER_KEY, wait_for
from tests.e2e.databases import fresh_postgres, seed_topic
from tests.e2e.private_servers import private_redis

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

AUDIENCE = 20_000
PAGE = 1000
IN_FLIGHT = 2  # DeliveryConfig.bulk_concurrency: batches a worker has in flight
LEASE_S = 3.0
HANG_AFTER = 3  # the victim's provider stops answering after this many batches


@contextmanager
def worker_process(
    url: str,
    ledger: Path,
    log: Path,
    queue: dict[str, str],
    *,
    hang_after: int | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **queue,
        **{k: v for k, v in os.environ.items() if not k.startswith("PUSHGATE_")},
        "PUSHGATE_DATABASE_URL": url,
        "PUSHGATE_DATA_DIR": str(ledger.parent / "data"),
        "PUSHGATE_MASTER_KEY": MASTER_KEY,
        "PUSHGATE_LEASE_S": str(LEASE_S),
        "PUSHGATE_SEND_TIMEOUT_S": "2",
        "LEDGER_DELAY_S": "0.05",
        **({"LEDGER_HANG_AFTER_BATCHES": str(hang_after)} if hang_after is not None else {}),
    }
    with log.open("ab") as sink:
        command = [sys.executable, "-m", "tests.e2e.ledger_worker", str(ledger)]
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def ledger_lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


@pytest.fixture(params=["database", "redis"])
def queue_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The workers' queue: the database outbox, or Redis Streams on a Redis of the test's own
    running with append-only persistence, as docs/delivery.md says Redis must."""
    if request.param == "database":
        yield {}
        return
    with private_redis(appendonly=True) as redis_server:
        yield {
            "PUSHGATE_QUEUE": "redis",
            "PUSHGATE_REDIS_URL": redis_server.url,
            "PUSHGATE_REDIS_PREFIX": "pushgate",
        }


def client_queue(db: Database, queue: dict[str, str]) -> Queue:
    """The queue the test itself accepts the notification into (as the API would)."""
    clock = partial(datetime.now, UTC)
    if not queue:
        return DbQueue(db, owner="test-client", lease_s=LEASE_S, clock=clock)
    return RedisQueue(
        queue["PUSHGATE_REDIS_URL"],
        owner="test-client",
        lease_s=LEASE_S,
        clock=clock,
        prefix=queue["PUSHGATE_REDIS_PREFIX"],
    )


async def test_sigkill_of_one_worker_mid_fanout_loses_nothing(
    tmp_path: Path, queue_env: dict[str, str]
) -> None:
    async with fresh_postgres() as url:
        db = Database(async_database_url(url), pool_size=4)
        now = datetime.now(UTC)
        async with unit_of_work(db) as uow:
            app = await uow.apps.create("kill", "", now)
        await seed_topic(db, app.id, "all", AUDIENCE, now)
        engine = DeliveryEngine(
            db,
            client_queue(db, queue_env),
            ProviderRegistry({}, ProviderOptions()),
            Vault(MASTER_KEY.encode()).open,
            config=DeliveryConfig(),
            clock=lambda: datetime.now(UTC),
        )
        victim_ledger, survivor_ledger = tmp_path / "ledger-victim", tmp_path / "ledger-survivor"
        log = tmp_path / "workers.log"
        with worker_process(url, victim_ledger, log, queue_env, hang_after=HANG_AFTER) as victim:
            request = NotificationRequest(
                Target(TargetKind.TOPICS, topics=("all",)),
                Message(Content(alert="hello")),
                DeliveryOptions(expires_at=now + timedelta(hours=1)),
            )
            accepted = await sending.accept(
                engine, app.id, request, idempotency_key=None, body_hash=None, now=now
            )
            assert isinstance(accepted, sending.Accepted)
            nid = accepted.notification.id

            async def victim_holds_delivered_batches() -> bool:
                return len(ledger_lines(victim_ledger)) >= (HANG_AFTER + IN_FLIGHT) * PAGE

            # The victim delivers some batches, then holds IN_FLIGHT delivered but unrecorded
            # ones when the second worker joins the fan-out and the victim is killed.
            await wait_for(
                victim_holds_delivered_batches, timeout_s=60, what="the victim to deliver"
            )
            with worker_process(url, survivor_ledger, log, queue_env):

                async def survivor_working() -> bool:
                    return len(ledger_lines(survivor_ledger)) >= PAGE

                await wait_for(survivor_working, timeout_s=60, what="the second worker to deliver")
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                killed_at = len(ledger_lines(victim_ledger)) + len(ledger_lines(survivor_ledger))

                async def done() -> bool:
                    async with unit_of_work(db, readonly=True) as uow:
                        found = await uow.notifications.get(nid)
                    return found is not None and found.state.value == "done"

                await wait_for(
                    done,
                    timeout_s=120,
                    what=f"the notification to finish\n{log.read_text()[-2000:]}",
                )
        async with unit_of_work(db, readonly=True) as uow:
            found = await uow.notifications.get(nid)
            rows: list[Any] = list(
                await uow.conn.exec_driver_sql(
                    "SELECT status, count(*) FROM deliveries GROUP BY status"
                )
            )
            statuses = {int(row[0]): int(row[1]) for row in rows}
            jobs_left = (await uow.conn.exec_driver_sql("SELECT count(*) FROM jobs")).scalar_one()
            taken_over = (
                await uow.conn.exec_driver_sql("SELECT count(*) FROM deliveries WHERE attempts > 1")
            ).scalar_one()
        await engine.aclose()
        await db.dispose()
    assert found is not None
    lines = ledger_lines(victim_ledger) + ledger_lines(survivor_ledger)
    seen = Counter(lines)
    duplicates = len(lines) - len(seen)
    print(  # noqa: T201 - the fault test's figures (reliability.md)
        f"\nF1 SIGKILL mid-fan-out (PostgreSQL, {queue_env.get('PUSHGATE_QUEUE', 'database')} "
        f"queue): accepted {AUDIENCE}, "
        f"delivered {len(seen)}, lost {AUDIENCE - len(seen)}, duplicated {duplicates} "
        f"(bound {IN_FLIGHT * PAGE}), ledger at kill {killed_at}, deliveries of batches taken "
        f"over from the killed worker {taken_over}"
    )
    assert found.counts.by_status()["SENT"] == AUDIENCE
    assert statuses == {1: AUDIENCE}  # every delivery row SENT
    assert len(seen) == AUDIENCE  # nothing lost: every registration reached the provider
    # The batch the provider took but the victim never recorded was sent again, and only
    # what the victim had in flight was.
    assert duplicates == IN_FLIGHT * PAGE
    assert taken_over == IN_FLIGHT * PAGE
    assert jobs_left == 0
