"""Send accept throughput: POST /v1/apps/{app}/notifications for 60 s (reliability.md L2).

Usage: uv run --frozen python bench/accept.py [--duration 60] [--connections 32]
       [--targets topic,device]

bench/registrations.py measures the registration path; this measures the send path, on
PostgreSQL (a fresh database), one `pushgate serve` process without an embedded worker
(PUSHGATE_WORKER=false) and the fake providers of `pushgate fakes` in a process of their
own, without faults. Two targets, one run of `--duration` seconds each after 2 s of
warm-up:
- topic: a topic of 10 registrations; the send is stored with its fan-out job and answered
  202 (queued): the accept path alone (no worker runs, so the jobs pile up, as they would
  behind a busy worker);
- device: one registration by id; small targets are delivered inline, so the answer (200)
  waits for the fake APNs' (the whole single-device path).
The client speaks raw HTTP/1.1 keep-alive over `--connections` connections from a process
of its own (bench/registrations.py's), closed loop. Reports requests/s, p50/p99 and errors
(any answer but 200/202, by status) and writes bench/results/accept.json. Pass: 0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/accept.py`: the bench package beside it

from bench import harness  # noqa: E402
from bench.registrations import _post, _request  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "accept.json"
ROLES = ["registrations_write", "push_single", "push_multiple"]
AUDIENCE = 10


async def _connection(port: int, key: str, bodies: list[dict[str, Any]], deadline: float,
                      latencies: list[float], errors: Counter[int]) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    path = f"/v1/apps/{harness.APP}/notifications"
    raws = [_post(port, path, body, key) for body in bodies]
    count = 0
    try:
        while time.perf_counter() < deadline:
            count += 1
            started = time.perf_counter()
            status, _ = await _request(reader, writer, raws[count % len(raws)])
            latencies.append(time.perf_counter() - started)
            if status not in (200, 202):
                errors[status] += 1
    finally:
        writer.close()


def _client_process(port: int, key: str, bodies: list[dict[str, Any]], connections: int,
                    seconds: float, queue: Any) -> None:  # fmt: skip
    async def main() -> None:
        latencies: list[float] = []
        errors: Counter[int] = Counter()
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(_connection(port, key, bodies, deadline, latencies, errors)
              for _ in range(connections))
        )  # fmt: skip
        queue.put((latencies, dict(errors)))

    asyncio.run(main())


def _measure(port: int, key: str, bodies: list[dict[str, Any]], connections: int,
             seconds: float) -> tuple[list[float], dict[int, int]]:  # fmt: skip
    queue: Any = multiprocessing.Queue()
    client = multiprocessing.Process(
        target=_client_process, args=(port, key, bodies, connections, seconds, queue)
    )
    client.start()
    latencies, errors = queue.get(timeout=seconds + 120)
    client.join(timeout=30)
    return latencies, errors


async def _seed(port: int) -> tuple[str, list[str]]:
    """The app's key, and AUDIENCE registrations (ids) subscribed to topic "news"."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        key = await harness.create_app(client, ROLES)
        ids = []
        for n in range(AUDIENCE):
            body = {"platform": "apns", "token": f"a1{n:062x}", "topics": ["news"]}
            answer = await client.post(
                f"/v1/apps/{harness.APP}/registrations", json=body, headers={"X-API-Key": key}
            )
            answer.raise_for_status()
            ids.append(answer.json()["id"])
    return key, ids


async def _jobs(url: str) -> int:
    db = await asyncpg.connect(url)
    try:
        count: int = await db.fetchval("SELECT count(*) FROM jobs")
        return count
    finally:
        await db.close()


def run_target(target: str, args: argparse.Namespace, workdir: Path,
               fakes: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    url = asyncio.run(harness.fresh_database())
    env = harness.pushgate_env(workdir / f"data-{target}", url, fakes["env"])
    port = harness.free_port()
    log = workdir / f"serve-{target}.log"
    serve = harness.start(["serve", "--port", str(port)], env | {"PUSHGATE_WORKER": "false"}, log)
    try:
        asyncio.run(harness.wait_ready(f"http://127.0.0.1:{port}", serve, log))
        key, ids = asyncio.run(_seed(port))
        note = {"alert": "accept bench"}
        if target == "topic":
            bodies = [{"target": {"topics": ["news"]}, "notification": note}]
        else:
            bodies = [{"target": {"registrations": [rid]}, "notification": note} for rid in ids]
        _measure(port, key, bodies, args.connections, 2.0)  # warm-up
        latencies, errors = _measure(port, key, bodies, args.connections, args.duration)
        queued = asyncio.run(_jobs(url))
    finally:
        harness.stop([serve])
        asyncio.run(harness.drop_database(url))
    latencies.sort()
    total = len(latencies)
    return {
        "target": target,
        "answer": "202 queued" if target == "topic" else "200 delivered inline to the fake APNs",
        "connections": args.connections,
        "seconds": args.duration,
        "requests": total,
        "errors": sum(errors.values()),
        "errors_by_status": errors,
        "requests_per_s": round(total / args.duration, 1),
        "p50_ms": round(latencies[total // 2] * 1000, 2) if total else None,
        "p99_ms": round(latencies[int(total * 0.99)] * 1000, 2) if total else None,
        "jobs_left_in_queue": queued,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60, help="seconds per target [60]")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--targets", default="topic,device", help="topic, device or both")
    args = parser.parse_args()
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    results = []
    with tempfile.TemporaryDirectory(prefix="pushgate-accept-") as tmp, \
            harness.fakes_process(Path(tmp) / "fakes", 0) as fakes:  # fmt: skip
        for target in args.targets.split(","):
            print(f"{target}: {args.connections} connections, {args.duration:.0f} s ...",
                  flush=True)  # fmt: skip
            result = run_target(target, args, Path(tmp), fakes)
            print(f"  {result['requests_per_s']:>8} sends/s  p50 {result['p50_ms']} ms  p99 "
                  f"{result['p99_ms']} ms  errors {result['errors_by_status'] or 0}",
                  flush=True)  # fmt: skip
            results.append(result)
    report = {
        "benchmark": "send accept (POST /v1/apps/{app}/notifications), reliability.md L2",
        "command": "uv run --frozen python bench/accept.py " + " ".join(sys.argv[1:]),
        "git_commit": harness.git_commit(),
        "machine": harness.machine(),
        "measured_at": started,
        "database": "PostgreSQL",
        "server": "pushgate serve, 1 process, PUSHGATE_WORKER=false",
        "results": results,
        "pass_zero_errors": all(r["errors"] == 0 for r in results),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
