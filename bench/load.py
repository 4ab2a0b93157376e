"""Sustained mixed load on PostgreSQL with 5 % provider faults (reliability.md L5; the issue's
`bench/load.py`).

Usage: uv run --frozen python bench/load.py [--duration 600] [--rate 15] [--sample-s 10]
       [--fault-every 20] [--drain-timeout 300] [--serve-workers 1] [--keep-database]
       [--platforms apns,fcm,webpush]

Starts, each in a process of its own: the fake providers of `pushgate fakes` (APNs, FCM, Web
Push... over TLS + HTTP/2) refusing every 20th request they would accept (429 + Retry-After: 1
and 500 in turn, fakes/behaviour.py `fault_every`: 5 %), a fresh PostgreSQL database,
`pushgate serve` with PUSHGATE_WORKER=false (no embedded worker; small targets are still
delivered inline by the API, as designed, and their retries go to the queue) and two
`pushgate worker`. Seeds users of 3 devices and topics of 25 subscribers, then for
`--duration` seconds issues requests open-loop at `--rate` per second (async tasks on
harness.RawHttp, a lean HTTP/1.1 client, not httpx: see there; up to 256 in flight, and a
request that finds them all busy is counted as skipped): registrations of unique
tokens, sends to one registration, to a user and to a topic (each carrying a `load_id` in its
data), and reads of a notification's and a delivery's status. Every `--sample-s` it prints
and records the RSS and CPU of serve and each worker (/proc), the queue (jobs, retries due,
notifications not done) and the counts per kind. Then it stops the load, waits for the queue
to drain and checks every accepted send against the database (done, targeted = audience,
all SENT) and against the fakes' ledger ((token, load_id) pairs they accepted): lost =
expected pairs never accepted, duplicates = pairs accepted more than once.

Default rate, measured on the 2-core machine with other work running: this mix held 20
requests/s at a load average of 2-3 (p99 < 1 s, no errors) but not at 4-5 (client timeouts),
and collapsed at 30/s (p50 > 10 s) with one HTTP process or two; 15/s leaves that margin.
In serve, an inline single-device send cost ~35 ms of CPU, a topic send's accept ~10 ms, a
status read ~4 ms, a registration ~1.7 ms (registrations alone: 360/s). --platforms fcm,webpush
leaves APNs out. (Before serve and the workers signed the same APNs provider token, three
processes made three tokens for one key and the fake refused the third within 20 minutes:
TooManyProviderTokenUpdates; providers/apns_auth.py.)

Memory criterion ("no growth"): per process, the mean RSS of the last third of the samples
<= the first third's x 1.10 + 20 MB; the first 10 % of the run is warm-up and left out.
Results: bench/results/load.json (core count, duration, rate, command, git commit).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/load.py`: the bench package beside it

from bench.harness import (  # noqa: E402
    APP,
    ERROR,
    QUEUED,
    SENT,
    RawHttp,
    children,
    create_app,
    drain,
    drop_database,
    fakes_process,
    free_port,
    fresh_database,
    git_commit,
    machine,
    memory_trend,
    proc_figures,
    pushgate_env,
    quantile,
    queue_state,
    start,
    stop,
    wait_log,
    wait_ready,
)

RESULTS = ROOT / "bench" / "results" / "load.json"
ROLES = ["registrations_write", "push_single", "push_multiple", "pushregistrations_read"]
MIX = {  # share of requests per kind
    "register": 25,
    "send_device": 30,
    "send_user": 10,
    "send_topic": 5,
    "read_notification": 15,
    "read_delivery": 15,
}
PLATFORM_SHARE = {"apns": 6, "fcm": 3, "webpush": 1}  # of ten registrations
SEED_USERS, DEVICES_PER_USER, SEED_TOPICS = 100, 3, 12  # 300 registrations, 25 per topic
MAX_IN_FLIGHT = 256


# -- the load --------------------------------------------------------------------------------


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)  # status code or exception name


@dataclass
class Load:
    """What the clients did and what they expect the fakes to have accepted."""

    client: RawHttp
    control: httpx.AsyncClient
    platforms: list[str]  # registrations take these in turn (PLATFORM_SHARE)
    rng: random.Random = field(default_factory=lambda: random.Random(5))  # noqa: S311
    tallies: dict[str, Tally] = field(default_factory=lambda: {k: Tally() for k in MIX})
    devices: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=2000))
    users: dict[str, list[str]] = field(default_factory=dict)  # seeded: user -> tokens
    topics: dict[str, list[str]] = field(default_factory=dict)  # seeded: topic -> tokens
    expected: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # load_id -> ...
    notifications: deque[str] = field(default_factory=lambda: deque(maxlen=2000))
    deliveries: deque[str] = field(default_factory=lambda: deque(maxlen=2000))
    serial: int = 0
    in_flight: int = 0
    skipped: int = 0

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial

    async def register(self, user: str | None = None, topic: str | None = None) -> str | None:
        n = self.next_serial()
        platform = self.platforms[n % len(self.platforms)]
        body: dict[str, Any] = {"user": user or f"load-u{n % 5000}", "locale": "de-DE"}
        if platform == "apns":
            body |= {"platform": "apns", "token": f"a1{n:062x}"}  # hex, no behaviour prefix
        elif platform == "fcm":
            body |= {"platform": "fcm", "token": f"load-fcm-{n}"}
        else:  # a subscription of the fake push service's simulated browser
            sub = (await self.control.post("/webpush/subscriptions", json={})).json()
            body |= {"platform": "webpush", "token": sub["endpoint"], "keys": sub["keys"]}
        if topic is not None:
            body["topics"] = [topic]
        answer = await self.timed("register", "POST", f"/v1/apps/{APP}/registrations", body)
        if answer is None:
            return None
        self.devices.append((answer["id"], body["token"]))
        return str(body["token"])

    async def send(self, kind: str) -> None:
        if kind == "send_device":
            rid, token = self.rng.choice(self.devices)
            target: dict[str, Any] = {"registrations": [rid]}
            tokens = [token]
        elif kind == "send_user":
            user = self.rng.choice(sorted(self.users))
            target, tokens = {"users": [user]}, self.users[user]
        else:
            topic = self.rng.choice(sorted(self.topics))
            target, tokens = {"topics": [topic]}, self.topics[topic]
        load_id = f"L{self.next_serial()}"
        body = {"target": target, "notification": {"alert": "load", "data": {"load_id": load_id}}}
        answer = await self.timed(kind, "POST", f"/v1/apps/{APP}/notifications", body)
        if answer is None:
            return
        self.expected[load_id] = (answer["id"], tokens)
        self.notifications.append(answer["id"])
        for result in answer.get("results") or ():
            if result["status"] != "QUEUED":
                self.deliveries.append(result["delivery_id"])

    async def read(self, kind: str) -> None:
        if kind == "read_notification" and self.notifications:
            nid = self.rng.choice(self.notifications)
            await self.timed(kind, "GET", f"/v1/apps/{APP}/notifications/{nid}")
        elif kind == "read_delivery" and self.deliveries:
            await self.timed(kind, "GET", f"/v1/deliveries/{self.rng.choice(self.deliveries)}")

    async def timed(self, kind: str, method: str, path: str, body: Any = None) -> Any:
        tally = self.tallies[kind]
        started = time.perf_counter()
        try:
            status, answer = await self.client.request(method, path, body)
        except (OSError, TimeoutError, EOFError, ValueError) as exc:  # EOFError: IncompleteRead
            tally.errors[type(exc).__name__] += 1
            return None
        tally.latencies_ms.append((time.perf_counter() - started) * 1000)
        if status >= 300:
            tally.errors[str(status)] += 1
            return None
        return answer

    async def one(self, kind: str) -> None:
        self.in_flight += 1
        try:
            if kind == "register":
                await self.register()
            elif kind.startswith("send"):
                await self.send(kind)
            else:
                await self.read(kind)
        finally:
            self.in_flight -= 1

    async def seed(self) -> None:
        async def device(i: int) -> None:
            user, topic = f"seed-u{i // DEVICES_PER_USER}", f"seed-t{i % SEED_TOPICS}"
            token = await self.register(user, topic)
            if token is None:
                errors = dict(self.tallies["register"].errors)
                raise RuntimeError(f"seeding registration {i} failed: {errors}")
            self.users.setdefault(user, []).append(token)
            self.topics.setdefault(topic, []).append(token)

        count = SEED_USERS * DEVICES_PER_USER
        for start_at in range(0, count, 16):
            await asyncio.gather(*(device(i) for i in range(start_at, min(count, start_at + 16))))
        self.tallies["register"] = Tally()  # seeding is not part of the measured load

    async def run(self, rate: float, duration_s: float) -> None:
        """Open loop: request i starts at i / rate s, whatever the answers' pace."""
        kinds, weights = list(MIX), list(MIX.values())
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        began, i = loop.time(), 0
        while (due := began + i / rate) < began + duration_s:
            await asyncio.sleep(max(0.0, due - loop.time()))
            i += 1
            if self.in_flight >= MAX_IN_FLIGHT:
                self.skipped += 1
                continue
            task = asyncio.create_task(self.one(self.rng.choices(kinds, weights)[0]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=60)


# -- sampling, drain, checks -----------------------------------------------------------------


async def sampler(load: Load, db: asyncpg.Connection, pids: dict[str, int], every_s: float,
                  samples: list[dict[str, Any]], began: float) -> None:  # fmt: skip
    last_done = 0
    while True:
        await asyncio.sleep(every_s)
        done = sum(len(t.latencies_ms) + sum(t.errors.values()) for t in load.tallies.values())
        sample: dict[str, Any] = {
            "t_s": round(time.monotonic() - began, 1),
            "rss_mb": {}, "cpu_s": {},
            **await queue_state(db),
            "requests_per_s": round((done - last_done) / every_s, 1),
            "in_flight": load.in_flight,
            "errors": sum(sum(t.errors.values()) for t in load.tallies.values()),
            "counts": {k: len(t.latencies_ms) for k, t in load.tallies.items()},
        }  # fmt: skip
        for name, pid in pids.items():
            rss, cpu = proc_figures(pid)
            sample["rss_mb"][name], sample["cpu_s"][name] = round(rss, 1), round(cpu, 1)
        last_done = done
        samples.append(sample)
        rss_mb = " ".join(f"{n} {v:.0f}" for n, v in sample["rss_mb"].items())
        print(f"[{sample['t_s']:>6.0f} s] {sample['requests_per_s']:>6} req/s  in flight "
              f"{load.in_flight:>3}  errors {sample['errors']}  jobs {sample['jobs']}  retries "
              f"{sample['retries_waiting']}  open {sample['notifications_open']}  RSS MB: {rss_mb}",
              flush=True)  # fmt: skip


async def check(load: Load, db: asyncpg.Connection, ledger: dict[str, Any]) -> dict[str, Any]:
    """Every accepted send against the database and the fakes' ledger."""
    rows = {r["id"]: r for r in await db.fetch(
        "SELECT id, state, targeted, sent, errors FROM notifications")}  # fmt: skip
    accepted = Counter({(t, i): n for t, i, n in ledger["accepted"]})
    lost = not_done = miscounted = expected_pairs = 0
    for load_id, (nid, tokens) in load.expected.items():
        row = rows.get(nid)
        expected_pairs += len(tokens)
        if row is None or row["state"] != "done":
            not_done += 1
        elif row["targeted"] != len(tokens) or row["sent"] != len(tokens):
            miscounted += 1
        lost += sum(1 for token in tokens if not accepted[(token, load_id)])
    statuses = {r["status"]: r["count"] for r in await db.fetch(
        "SELECT status, count(*) FROM deliveries GROUP BY status")}  # fmt: skip
    reasons = {status: {r["reason"]: r["count"] for r in await db.fetch(
        "SELECT reason, count(*) FROM deliveries WHERE status = $1 GROUP BY reason LIMIT 10",
        status)} for status in (QUEUED, ERROR)}  # fmt: skip
    known = set(load.expected)
    return {
        "notifications_accepted": len(load.expected),
        "deliveries_expected": expected_pairs,
        "deliveries_by_status": {"QUEUED": statuses.get(QUEUED, 0), "SENT": statuses.get(SENT, 0),
                                 "ERROR": statuses.get(ERROR, 0)},
        "error_reasons": reasons[ERROR],
        "still_queued_reasons": reasons[QUEUED],  # the last answer of what did not drain
        "notifications_not_done": not_done,
        "notifications_miscounted": miscounted,
        "lost": lost,
        "duplicates": sum(n - 1 for n in accepted.values() if n > 1),
        "accepted_by_fakes": sum(n for (_, i), n in accepted.items() if i in known),
        "accepted_unknown_load_id": sum(n for (_, i), n in accepted.items() if i not in known),
        "fake_requests": ledger["requests"],
        "faults_injected": ledger["faults"],
    }  # fmt: skip


def summary(load: Load, duration_s: float) -> dict[str, Any]:
    kinds: dict[str, Any] = {}
    for kind, tally in load.tallies.items():
        kinds[kind] = {
            "ok": len(tally.latencies_ms) - sum(v for k, v in tally.errors.items() if k.isdigit()),
            "errors": dict(tally.errors),
            "per_s": round(len(tally.latencies_ms) / duration_s, 1),
            "p50_ms": quantile(tally.latencies_ms, 0.50),
            "p99_ms": quantile(tally.latencies_ms, 0.99),
            "max_ms": quantile(tally.latencies_ms, 1.0),
        }
    return kinds


# -- the run ---------------------------------------------------------------------------------


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    with fakes_process(workdir / "fakes", args.fault_every) as fakes:
        url = await fresh_database()
        env = pushgate_env(workdir / "data", url, fakes["env"])
        port = free_port()
        role = ["serve", "--port", str(port), "--workers", str(args.serve_workers)]
        serve = start(role, env | {"PUSHGATE_WORKER": "false"}, workdir / "serve.log")
        processes = [serve]
        try:
            await wait_ready(f"http://127.0.0.1:{port}", serve, workdir / "serve.log")
            for n in (1, 2):
                log = workdir / f"worker{n}.log"
                processes.append(start(["worker"], env, log))
                await wait_log(log, "delivering from", processes[-1])
            return await measure(args, port, fakes, url, processes)
        finally:
            stop(processes)
            if args.keep_database:
                print(f"database kept: {url}")
            else:
                await drop_database(url)


async def measure(args: argparse.Namespace, port: int, fakes: dict[str, Any], url: str,
                  processes: list[subprocess.Popen[bytes]]) -> dict[str, Any]:  # fmt: skip
    # `serve --workers N` (N > 1): uvicorn's supervisor and its N HTTP processes.
    http = children(processes[0].pid) if args.serve_workers > 1 else []
    pids = {"serve": processes[0].pid} | {f"serve.http{n}": p for n, p in enumerate(http, 1)}
    pids |= {"worker1": processes[1].pid, "worker2": processes[2].pid, "fakes": fakes["pid"]}
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as setup, \
            httpx.AsyncClient(base_url=fakes["control"], timeout=120) as control:  # fmt: skip
        key = await create_app(setup, ROLES)
        chosen = args.platforms.split(",")
        turns = [p for p, n in PLATFORM_SHARE.items() if p in chosen for _ in range(n)]
        load = Load(RawHttp(port, {"X-API-Key": key}), control, turns)
        await load.seed()
        print(f"seeded {len(load.devices)} registrations; load at {args.rate}/s for "
              f"{args.duration:.0f} s", flush=True)  # fmt: skip
        db = await asyncpg.connect(url)
        samples: list[dict[str, Any]] = []
        began = time.monotonic()
        task = asyncio.create_task(sampler(load, db, pids, args.sample_s, samples, began))
        await load.run(args.rate, args.duration)
        elapsed = time.monotonic() - began
        task.cancel()
        print(f"load stopped after {elapsed:.0f} s; draining ...", flush=True)
        drain_s, drained, left = await drain(db, args.drain_timeout)
        ledger = (await control.get("/load/ledger")).json()
        delivery = await check(load, db, ledger)
        await db.close()
        load.client.close()
    kinds = summary(load, elapsed)
    memory = memory_trend(samples, args.duration * 0.1)
    http_errors = sum(sum(k["errors"].values()) for k in kinds.values())
    verdict = {
        "zero_loss": delivery["lost"]
        == delivery["notifications_not_done"]
        == delivery["notifications_miscounted"]
        == 0,
        "queue_drained": drained,
        "no_http_errors": http_errors == 0,
        "no_memory_growth": all(m["no_growth"] for n, m in memory.items() if n != "fakes"),
    }
    return {
        "config": {
            "duration_s": args.duration, "rate_per_s": args.rate, "mix_percent": MIX,
            "fault_share": f"1 in {args.fault_every} provider requests (429 + Retry-After: 1 "
            "and 500 in turn)", "workers": 2, "serve_http_processes": args.serve_workers,
            "serve": "API only (PUSHGATE_WORKER=false), "
            "inline delivery of small targets", "database": "PostgreSQL (fresh database)",
            "seed": f"{SEED_USERS} users x {DEVICES_PER_USER} devices, {SEED_TOPICS} topics x "
            f"{SEED_USERS * DEVICES_PER_USER // SEED_TOPICS} subscribers",
            "max_in_flight": MAX_IN_FLIGHT, "platforms": args.platforms,
        },
        "requests": kinds,
        "elapsed_s": round(elapsed, 1),  # the duration, then the last answers' wait
        "throughput_per_s": round(sum(len(t.latencies_ms) for t in load.tallies.values())
                                  / elapsed, 1),
        "skipped_client_saturated": load.skipped,
        "http_errors": http_errors,
        "memory_criterion": "last-third mean RSS <= first-third mean x 1.10 + 20 MB, after a "
        "warm-up of the first 10 % of the run",
        "memory": memory,
        "drain": {"seconds": drain_s, "drained": drained, "left": left},
        "delivery": delivery,
        "pass": verdict,
        "samples": samples,
    }  # fmt: skip


def print_summary(report: dict[str, Any]) -> None:
    print(f"\nthroughput {report['throughput_per_s']} req/s, HTTP errors "
          f"{report['http_errors']}, skipped (client saturated) "
          f"{report['skipped_client_saturated']}")  # fmt: skip
    for kind, k in report["requests"].items():
        print(f"  {kind:18} {k['per_s']:>7}/s  p50 {k['p50_ms']} ms  p99 {k['p99_ms']} ms  "
              f"errors {k['errors'] or 0}")  # fmt: skip
    for name, m in report["memory"].items():
        print(f"  RSS {name:8} {m['first_third_mean_mb']} -> {m['last_third_mean_mb']} MB "
              f"({m['slope_mb_per_min']} MB/min) no growth: {m['no_growth']}")  # fmt: skip
    d = report["delivery"]
    print(f"  drain {report['drain']['seconds']} s (drained: {report['drain']['drained']}); "
          f"{d['notifications_accepted']} sends, {d['deliveries_expected']} deliveries "
          f"expected, {d['deliveries_by_status']}, lost {d['lost']}, duplicates "
          f"{d['duplicates']}, faults {d['faults_injected']}")  # fmt: skip
    print(f"  pass: {report['pass']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds of load [600]")
    parser.add_argument("--rate", type=float, default=15, help="requests per second [15]")
    parser.add_argument("--sample-s", type=float, default=10, help="sampling interval [10]")
    parser.add_argument("--fault-every", type=int, default=20, help="1 in N refused [20: 5 %%]")
    parser.add_argument("--drain-timeout", type=float, default=300)
    parser.add_argument("--serve-workers", type=int, default=1, help="serve --workers [1]")
    parser.add_argument("--keep-database", action="store_true", help="to inspect it afterwards")
    parser.add_argument(
        "--platforms", default="apns,fcm,webpush", help="registrations' platforms [all three]"
    )
    args = parser.parse_args()
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    load_before = machine()["load_average"]
    with tempfile.TemporaryDirectory(prefix="pushgate-load-") as tmp:
        report = asyncio.run(run(args, Path(tmp)))
    report = {
        "benchmark": "sustained mixed load with 5 % provider faults (reliability.md L5)",
        "command": "uv run --frozen python bench/load.py " + " ".join(sys.argv[1:]),
        "git_commit": git_commit(),
        "machine": machine() | {"load_average_at_start": load_before},
        "measured_at": started,
        **report,
    }
    print_summary(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
