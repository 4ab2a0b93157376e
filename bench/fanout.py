"""Fan-out throughput: N registrations subscribed to one topic, one send, until all are SENT.

Usage: uv run python bench/fanout.py [--registrations 100000] [--million]
       [--only sqlite|postgres] [--provider recording]

Measures the engine itself with the in-process recording provider (no network): the time
from accepting the notification until every delivery is recorded SENT, deliveries/s, and
the process's peak RSS. Seeding goes straight to the database and is not measured. Writes
bench/results/fanout.json.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import platform
import resource
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from pushgate.app import build_runtime  # noqa: E402
from pushgate.config import Settings, async_database_url  # noqa: E402
from pushgate.delivery.engine import DeliveryConfig  # noqa: E402
from pushgate.delivery.worker import Worker  # noqa: E402
from pushgate.domain.ids import new_id  # noqa: E402
from pushgate.domain.notifications import NotificationRequest  # noqa: E402
from pushgate.domain.payload import Content, DeliveryOptions, Message  # noqa: E402
from pushgate.domain.targets import Target, TargetKind  # noqa: E402
from pushgate.providers.base import ProviderOptions  # noqa: E402
from pushgate.providers.recording import Recorder, recording_kinds  # noqa: E402
from pushgate.providers.registry import ProviderRegistry  # noqa: E402
from pushgate.services import notifications as sending  # noqa: E402
from pushgate.store.engine import Database  # noqa: E402
from pushgate.store.migrations import upgrade  # noqa: E402
from pushgate.store.uow import unit_of_work  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "fanout.json"
POSTGRES_URL = os.environ.get(
    "PUSHGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SEED_CHUNK = 20_000


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _seed(db: Database, count: int) -> tuple[int, int]:
    """An app and `count` iOS registrations subscribed to topic "all"; returns (app, topic)."""
    now = datetime.now(UTC)
    async with unit_of_work(db) as uow:
        app = await uow.apps.create("bench", "", now)
        topic_ids = await uow.topics.ensure(app.id, ["all"], now)
    topic_id = topic_ids["all"]
    locales = ["en", "de-DE", "fr", "es", None]
    done = 0
    while done < count:
        size = min(SEED_CHUNK, count - done)
        rows = []
        subs = []
        for i in range(size):
            rid = new_id()
            token = f"{done + i:064x}"
            rows.append((rid, app.id, "apns", token, locales[i % 5], now, now, now))
            subs.append((rid, topic_id, now))
        async with unit_of_work(db) as uow:
            if db.is_sqlite:
                await uow.conn.exec_driver_sql(
                    "INSERT INTO registrations (id, app_id, platform, token, locale, created_at, "
                    "updated_at, last_seen_at, sandbox, active) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                    "0, 1)",
                    [(*r[:5], *(t.strftime("%Y-%m-%d %H:%M:%S.%f") for t in r[5:])) for r in rows],
                )
                await uow.conn.exec_driver_sql(
                    "INSERT INTO subscriptions (registration_id, topic_id, created_at) "
                    "VALUES (?, ?, ?)",
                    [(s[0], s[1], s[2].strftime("%Y-%m-%d %H:%M:%S.%f")) for s in subs],
                )
            else:
                raw = await uow.conn.get_raw_connection()
                driver: Any = raw.driver_connection
                await uow.conn.exec_driver_sql("SELECT 1")
                await driver.copy_records_to_table(
                    "registrations",
                    records=[(*r, False, True) for r in rows],
                    columns=[
                        "id",
                        "app_id",
                        "platform",
                        "token",
                        "locale",
                        "created_at",
                        "updated_at",
                        "last_seen_at",
                        "sandbox",
                        "active",
                    ],
                )
                await driver.copy_records_to_table(
                    "subscriptions",
                    records=subs,
                    columns=["registration_id", "topic_id", "created_at"],
                )
        done += size
        print(f"  seeded {done:,}/{count:,}", end="\r", flush=True)
    print()
    return app.id, topic_id


PROFILE = os.environ.get("PUSHGATE_BENCH_PROFILE")  # write a cProfile of the send phase here


CONFIG = DeliveryConfig(
    page_size=int(os.environ.get("PUSHGATE_BENCH_PAGE", "1000")),
    bulk_concurrency=int(os.environ.get("PUSHGATE_BENCH_CONCURRENCY", "2")),
)


async def _run(database: str, url: str, count: int, schema: str | None) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="pushgate-fanout-"))
    db = Database(async_database_url(url), schema=schema, pool_size=10)
    await upgrade(db)
    app_id, _ = await _seed(db, count)
    settings = Settings(data_dir=data_dir, master_key=None, admin_key=None)
    recorder = Recorder(keep=False)
    registry = ProviderRegistry(recording_kinds(recorder), ProviderOptions())
    runtime, _ = await build_runtime(settings, db=db, registry=registry, delivery=CONFIG)
    worker = Worker(runtime.engine)
    task = asyncio.create_task(worker.run())
    rss_before = _rss_mb()
    now = datetime.now(UTC)
    request = NotificationRequest(
        Target(TargetKind.TOPICS, topics=("all",)),
        Message(Content(alert="Hello"), {"de": Content(alert="Hallo")}),
        DeliveryOptions(expires_at=now + timedelta(hours=1)),
    )
    profiler = cProfile.Profile() if PROFILE else None
    if profiler is not None:
        profiler.enable()
    started = time.perf_counter()
    accepted = await sending.accept(
        runtime.engine, app_id, request, idempotency_key=None, body_hash=None, now=now
    )
    assert isinstance(accepted, sending.Accepted)
    nid = accepted.notification.id
    while True:
        async with unit_of_work(db, readonly=True) as uow:
            found = await uow.notifications.get(nid)
        assert found is not None
        if found.state.value == "done":
            break
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(f"{PROFILE}.{database}")
    await worker.stop()
    await task
    await runtime.engine.aclose()
    counts = found.counts.by_status()
    await db.dispose()
    result = {
        "database": database,
        "provider": "recording (in-process, engine cost only)",
        "registrations": count,
        "page_size": CONFIG.page_size,
        "batches_in_flight": CONFIG.bulk_concurrency,
        "seconds": round(elapsed, 3),
        "deliveries_per_s": round(count / elapsed),
        "counts": counts,
        "recorded_sent": counts["SENT"],
        "provider_accepted": recorder.count,
        "peak_rss_mb": round(_rss_mb(), 1),
        "rss_before_send_mb": round(rss_before, 1),
    }
    print(json.dumps(result, indent=2))
    assert counts["SENT"] == count, counts
    return result


async def _postgres(count: int) -> dict[str, Any]:
    schema = "bench_" + secrets.token_hex(4)
    conn = await asyncpg.connect(POSTGRES_URL)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        return await _run("postgres", POSTGRES_URL, count, schema)
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


async def _sqlite(count: int) -> dict[str, Any]:
    path = Path(tempfile.mkdtemp(prefix="pushgate-fanout-db-")) / "bench.db"
    return await _run("sqlite", f"sqlite:///{path}", count, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="1,000,000 registrations")
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    count = 1_000_000 if args.million else args.registrations
    results = []
    for name, run in (("sqlite", _sqlite), ("postgres", _postgres)):
        if args.only and args.only != name:
            continue
        print(f"{name}: {count:,} registrations")
        results.append(asyncio.run(run(count)))
    previous: list[dict[str, Any]] = []
    if RESULTS.exists():
        previous = json.loads(RESULTS.read_text()).get("results", [])
    keep = [
        r
        for r in previous
        if (r["database"], r["registrations"], r["provider"])
        not in {(n["database"], n["registrations"], n["provider"]) for n in results}
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "fan-out of one topic send until every delivery is recorded SENT",
                "command": "uv run python bench/fanout.py " + " ".join(sys.argv[1:]),
                "machine": {
                    "cores": os.cpu_count(),
                    "python": platform.python_version(),
                    "system": platform.platform(),
                },
                "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "results": keep + results,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
