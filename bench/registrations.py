"""Registration upsert throughput: a real `pushgate serve` on loopback, a concurrent client.

Usage: uv run python bench/registrations.py [--seconds 20] [--connections 64]
       [--workers 1,2] [--only sqlite|postgres]

Reports requests/s and p50/p99 latency for SQLite and PostgreSQL and writes them to
bench/results/registrations.json. The client speaks raw HTTP/1.1 keep-alive over asyncio
streams from a separate process, so it costs little CPU next to the server on a small machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "registrations.json"
POSTGRES_ADMIN_URL = os.environ.get(
    "PUSHGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BENCH_DB = "pushgate_bench"
ADMIN_KEY = "pga_bench-" + secrets.token_hex(16)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, bytes]:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length)
    return status, body


def _post(port: int, path: str, body: dict[str, Any], key: str) -> bytes:
    data = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-API-Key: {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode() + data


async def _connection(
    port: int,
    key: str,
    prefix: str,
    deadline: float,
    latencies: list[float],
    errors: list[int],
    distinct: int,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    count = 0
    platforms = ("ios", "android", "fcm", "apns")
    try:
        while time.perf_counter() < deadline:
            count += 1
            body = {
                "platform": platforms[count % 4],
                # distinct > 0: cycle over that many tokens, so most upserts re-register.
                "token": f"{prefix}-{count % distinct if distinct else count:08d}",
                "user": f"user{count % 5000}",
                "locale": "de-DE",
            }
            raw = _post(port, "/v1/apps/bench/registrations", body, key)
            started = time.perf_counter()
            status, _ = await _request(reader, writer, raw)
            latencies.append(time.perf_counter() - started)
            if status not in (200, 201):
                errors.append(status)
    finally:
        writer.close()


def _client_process(
    port: int, key: str, connections: int, seconds: float, queue: Any, tag: str, distinct: int
) -> None:
    async def main() -> None:
        latencies: list[float] = []
        errors: list[int] = []
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(
                _connection(port, key, f"{tag}{i}", deadline, latencies, errors, distinct)
                for i in range(connections)
            )
        )
        queue.put((latencies, errors))

    asyncio.run(main())


async def _setup_app(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    status, _ = await _request(
        reader, writer, _post(port, "/v1/apps", {"name": "bench"}, ADMIN_KEY)
    )
    assert status == 201, status
    key_body = {"alias": "bench", "roles": ["registrations_write"]}
    status, body = await _request(
        reader, writer, _post(port, "/v1/apps/bench/keys", key_body, ADMIN_KEY)
    )
    assert status == 201, status
    writer.close()
    key: str = json.loads(body)["key"]
    return key


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"pushgate serve exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)  # waiting for another process to listen: nothing to await on
    raise RuntimeError("pushgate serve did not start listening")


async def _reset_postgres() -> str:
    conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    finally:
        await conn.close()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + BENCH_DB


def run_one(
    database: str, *, seconds: float, connections: int, workers: int, distinct: int
) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="pushgate-bench-"))
    port = _free_port()
    env = {
        **os.environ,
        "PUSHGATE_DATA_DIR": str(data_dir),
        "PUSHGATE_ADMIN_KEY": ADMIN_KEY,
        "PUSHGATE_LOG_LEVEL": "WARNING",
    }
    if database == "postgres":
        env["PUSHGATE_DATABASE_URL"] = asyncio.run(_reset_postgres())
    else:
        env.pop("PUSHGATE_DATABASE_URL", None)
    command = [
        sys.executable,
        "-m",
        "pushgate.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    log = (data_dir / "serve.log").open("wb")
    # Our own interpreter running our own CLI: no untrusted input.
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        _wait_ready(port, proc)
        key = asyncio.run(_setup_app(port))
        # Warm-up: compiled statements and prepared statements are cached after this.
        _measure(port, key, connections, 2.0, "warm", distinct)
        latencies, errors = _measure(port, key, connections, seconds, "run", distinct)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if proc.returncode not in (0, -signal.SIGINT, None):
            print((data_dir / "serve.log").read_text()[-4000:], file=sys.stderr)
        shutil.rmtree(data_dir, ignore_errors=True)
    latencies.sort()
    total = len(latencies)
    return {
        "database": database,
        "workers": workers,
        "mode": f"re-register {distinct} tokens per connection" if distinct else "new tokens",
        "connections": connections,
        "seconds": seconds,
        "requests": total,
        "errors": len(errors),
        "requests_per_s": round(total / seconds, 1),
        "p50_ms": round(latencies[total // 2] * 1000, 2) if total else None,
        "p99_ms": round(latencies[int(total * 0.99)] * 1000, 2) if total else None,
    }


def _measure(
    port: int, key: str, connections: int, seconds: float, tag: str, distinct: int
) -> tuple[list[float], list[int]]:
    queue: Any = multiprocessing.Queue()
    client = multiprocessing.Process(
        target=_client_process, args=(port, key, connections, seconds, queue, tag, distinct)
    )
    client.start()
    latencies, errors = queue.get(timeout=seconds + 60)
    client.join(timeout=30)
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--workers", default="1,2", help="comma-separated worker counts to measure [1,2]"
    )
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument(
        "--modes",
        default="new,reregister",
        help="new: every upsert a new token; reregister: each connection cycles over 50 tokens",
    )
    args = parser.parse_args()
    results = []
    runs = [
        (mode, workers, database)
        for mode in args.modes.split(",")
        for workers in (int(w) for w in args.workers.split(","))
        for database in ("sqlite", "postgres")
        if not args.only or database == args.only
    ]
    for mode, workers, database in runs:
        print(
            f"{database}, {mode}, {workers} worker(s), {args.connections} connections, "
            f"{args.seconds:.0f} s ...",
            flush=True,
        )
        result = run_one(
            database,
            seconds=args.seconds,
            connections=args.connections,
            workers=workers,
            distinct=50 if mode == "reregister" else 0,
        )
        print(
            f"  {result['requests_per_s']:>8} upserts/s  p50 {result['p50_ms']} ms  "
            f"p99 {result['p99_ms']} ms  errors {result['errors']}",
            flush=True,
        )
        results.append(result)
    report = {
        "benchmark": "registration upserts (POST /v1/apps/{app}/registrations)",
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
