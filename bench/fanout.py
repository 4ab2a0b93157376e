"""Fan-out throughput: N registrations subscribed to one topic, one send, until all are SENT.

Usage: uv run python bench/fanout.py [--registrations 100000 | --audience 200000] [--million]
       [--only sqlite|postgres] [--apns fake|node|nginx] [--rss-cap-mb 256]

Measures the engine itself with the in-process recording provider (no network): the time
from accepting the notification until every delivery is recorded SENT, deliveries/s, and
the process's peak RSS. Seeding goes straight to the database and is not measured. Writes
bench/results/fanout.json.

Worker memory (reliability.md L4, "fan-out of 200k to one topic: worker RSS under a stated
cap"): the worker runs in this process, whose resident set (VmRSS) is sampled every 50 ms
while the fan-out runs; its peak must stay under --rss-cap-mb, 256 MB by default. Why 256:
fan-out reads keyset pages of 1,000 registrations and keeps at most `batches_in_flight` of
them per worker, so the worker's memory must not grow with the audience; this whole
process held ~136 MB for 100k and for 1M (results above), so 256 MB leaves ~120 MB of
headroom and is still far below what per-registration state for 200k would take.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import platform
import resource
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench import servers as pbench  # noqa: E402
from pushgate.app import build_runtime  # noqa: E402
from pushgate.config import Settings, async_database_url  # noqa: E402
from pushgate.delivery.engine import DeliveryConfig  # noqa: E402
from pushgate.delivery.worker import Worker  # noqa: E402
from pushgate.domain.ids import new_id  # noqa: E402
from pushgate.domain.notifications import NotificationRequest  # noqa: E402
from pushgate.domain.payload import Content, DeliveryOptions, Message  # noqa: E402
from pushgate.domain.targets import Target, TargetKind  # noqa: E402
from pushgate.http.deps import Runtime  # noqa: E402
from pushgate.providers.base import ProviderOptions  # noqa: E402
from pushgate.providers.recording import Recorder, recording_kinds  # noqa: E402
from pushgate.providers.registry import ProviderRegistry, default_kinds  # noqa: E402
from pushgate.services import notifications as sending  # noqa: E402
from pushgate.services.credentials import set_credential  # noqa: E402
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


def _current_rss_mb() -> float:
    """This process's resident set now (VmRSS), not its lifetime peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


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


@dataclass
class Providers:
    """Where the bench delivers: the in-process recorder, or an APNs server over HTTP/2."""

    label: str
    registry: ProviderRegistry
    accepted: Callable[[], int | None]
    apns: tuple[str, str] | None = None  # (base URL, CA file) of the APNs server
    key_pem: str | None = None


def recording_providers() -> Providers:
    recorder = Recorder(keep=False)
    registry = ProviderRegistry(recording_kinds(recorder), ProviderOptions())
    return Providers("recording (in-process, engine cost only)", registry, lambda: recorder.count)


@contextlib.contextmanager
def apns_providers(server: str, workdir: Path) -> Iterator[Providers]:
    """The real APNs adapter (pycurl, HTTP/2, TLS) against the fake or a fast responder."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    servers: contextlib.AbstractContextManager[tuple[str, str] | None]
    if server == "fake":
        servers = pbench.fake_apns_process(workdir, public)
    elif server == "node":
        servers = pbench.node_responder(workdir)
    else:
        servers = pbench.nginx_responder(workdir)
    with servers as found:
        if found is None:
            raise SystemExit(f"{server} is not installed (see bench/providers.py)")
        _, ca_file = found
        options = ProviderOptions(ca_file=ca_file, send_timeout_s=30)
        labels = {
            "fake": "APNs adapter -> fake APNs (Python h2, own process)",
            "node": "APNs adapter -> Node.js http2 responder",
            "nginx": "APNs adapter -> nginx HTTP/2 responder",
        }
        yield Providers(
            labels[server], ProviderRegistry(default_kinds(), options), lambda: None, found, pem
        )


async def _credential(runtime: Runtime, app_id: int, providers: Providers) -> None:
    if providers.apns is None or providers.key_pem is None:
        return
    fields = {
        "key_id": pbench.KEY_ID,
        "team_id": pbench.TEAM_ID,
        "topic": pbench.TOPIC,
        "key": providers.key_pem,
    }
    async with unit_of_work(runtime.db) as uow:
        await set_credential(
            uow, runtime.vault, app_id, "apns", fields, providers.apns[0], runtime.clock()
        )


async def _single_device_ms(runtime: Runtime, app_id: int) -> float:
    """A one-device send while the broadcast runs: milliseconds until its answer is in."""
    async with unit_of_work(runtime.db, readonly=True) as uow:
        row = (await uow.conn.exec_driver_sql("SELECT id FROM registrations LIMIT 1")).one()
    now = datetime.now(UTC)
    request = NotificationRequest(
        Target(TargetKind.REGISTRATIONS, registration_ids=(row[0],)),
        Message(Content(alert="just you")),
        DeliveryOptions(expires_at=now + timedelta(hours=1)),
    )
    started = time.perf_counter()
    answer = await sending.accept(
        runtime.engine, app_id, request, idempotency_key=None, body_hash=None, now=now
    )
    assert isinstance(answer, sending.Accepted)
    assert answer.results is not None
    assert answer.results[0].status.name == "SENT"
    return (time.perf_counter() - started) * 1000


async def _run(
    database: str, url: str, count: int, schema: str | None, providers: Providers
) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="pushgate-fanout-"))
    db = Database(async_database_url(url), schema=schema, pool_size=10)
    await upgrade(db)
    app_id, _ = await _seed(db, count)
    settings = Settings(data_dir=data_dir, master_key=None, admin_key=None)
    registry = providers.registry
    runtime, _ = await build_runtime(settings, db=db, registry=registry, delivery=CONFIG)
    await _credential(runtime, app_id, providers)
    worker = Worker(runtime.engine)
    task = asyncio.create_task(worker.run())
    rss_before = _rss_mb()
    rss_now_before = rss_peak = _current_rss_mb()
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
    single_ms: float | None = None
    while True:
        async with unit_of_work(db, readonly=True) as uow:
            found = await uow.notifications.get(nid)
        assert found is not None
        if found.state.value == "done":
            break
        if single_ms is None and found.counts.sent >= count // 3:
            single_ms = await _single_device_ms(runtime, app_id)
        rss_peak = max(rss_peak, _current_rss_mb())
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
        "provider": providers.label,
        "registrations": count,
        "page_size": CONFIG.page_size,
        "batches_in_flight": CONFIG.bulk_concurrency,
        "seconds": round(elapsed, 3),
        "deliveries_per_s": round(count / elapsed),
        "counts": counts,
        "recorded_sent": counts["SENT"],
        "provider_accepted": providers.accepted(),
        "single_device_during_fanout_ms": round(single_ms, 1) if single_ms else None,
        "peak_rss_mb": round(_rss_mb(), 1),
        "rss_before_send_mb": round(rss_before, 1),
        "rss_at_send_mb": round(rss_now_before, 1),
        "rss_peak_during_fanout_mb": round(rss_peak, 1),
    }
    print(json.dumps(result, indent=2))
    assert counts["SENT"] == count, counts
    return result


async def _postgres(count: int, providers: Providers) -> dict[str, Any]:
    schema = "bench_" + secrets.token_hex(4)
    conn = await asyncpg.connect(POSTGRES_URL)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        return await _run("postgres", POSTGRES_URL, count, schema, providers)
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


async def _sqlite(count: int, providers: Providers) -> dict[str, Any]:
    path = Path(tempfile.mkdtemp(prefix="pushgate-fanout-db-")) / "bench.db"
    return await _run("sqlite", f"sqlite:///{path}", count, None, providers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", "--audience", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="1,000,000 registrations")
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument(
        "--apns",
        choices=["fake", "node", "nginx"],
        help="deliver through the real APNs adapter to this server instead of the recorder",
    )
    parser.add_argument(
        "--rss-cap-mb", type=float, default=256.0, help="cap on the worker's RSS [256]"
    )
    args = parser.parse_args()
    count = 1_000_000 if args.million else args.registrations
    results = []
    for name, run in (("sqlite", _sqlite), ("postgres", _postgres)):
        if args.only and args.only != name:
            continue
        print(f"{name}: {count:,} registrations")
        if args.apns:
            with apns_providers(args.apns, Path(tempfile.mkdtemp(prefix="pushgate-apns-"))) as p:
                results.append(asyncio.run(run(count, p)))
        else:
            results.append(asyncio.run(run(count, recording_providers())))
        peak = results[-1]["rss_peak_during_fanout_mb"]
        results[-1] |= {"rss_cap_mb": args.rss_cap_mb, "rss_under_cap": peak <= args.rss_cap_mb,
                        "load_average_1m": round(os.getloadavg()[0], 2)}  # fmt: skip
        verdict = "under the cap" if peak <= args.rss_cap_mb else "OVER THE CAP"
        print(
            f"worker RSS peak during the fan-out {peak} MB, cap {args.rss_cap_mb:g} MB: {verdict}"
        )
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
