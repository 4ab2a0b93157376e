"""Registration import throughput: `pushgate registrations import` of a CSV file into a real
`pushgate serve`, on SQLite and on PostgreSQL.

Usage: uv run python bench/import.py [--rows 1000000] [--only sqlite|postgres]
       [--parallel 2] [--workers 1]

The file is generated once (bench/.data/, not committed): iOS and Android devices with a
user, a locale, a time zone and one or two of five topics, as an operator would move them
from another push service. The CLI runs as the operator runs it (a separate process, over
HTTP, through the bulk endpoint), on the same machine as the server. The figures are the
CLI's own (rows, seconds, rows/s), its wall time including start-up, and the registrations
and subscriptions counted in the database afterwards. Writes bench/results/import.json.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "import.json"
DATA = ROOT / "bench" / ".data"
POSTGRES_ADMIN_URL = os.environ.get(
    "PUSHGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BENCH_DB = "pushgate_bench_import"
ADMIN_KEY = "pga_bench-" + secrets.token_hex(16)
TOPICS = ("news", "sport", "weather", "politics", "culture")
LOCALES = ("de-DE", "en-US", "fr-FR", "es", "it-IT", "en-GB")
ZONES = ("Europe/Berlin", "America/New_York", "Europe/Paris", "Europe/Madrid", "Europe/Rome")


def generate(rows: int) -> Path:
    """The CSV of `rows` devices (reused when it exists)."""
    DATA.mkdir(exist_ok=True)
    path = DATA / f"devices-{rows}.csv"
    if path.exists():
        return path
    partial = path.with_suffix(".part")
    with partial.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["platform", "token", "user", "locale", "time_zone", "topics"])
        for i in range(rows):
            digest = hashlib.sha256(i.to_bytes(8, "big")).hexdigest()
            if i % 2:
                platform_name, token = "ios", digest  # 64 hex characters, as APNs gives
            else:  # FCM registration tokens: ~160 characters
                platform_name, token = "android", f"{digest[:11]}:APA91b{digest * 2}"[:163]
            topics = TOPICS[i % 5] + (";" + TOPICS[(i // 5) % 5] if i % 3 == 0 else "")
            writer.writerow(
                [platform_name, token, f"user{i % 250_000}", LOCALES[i % 6], ZONES[i % 5], topics]
            )
    partial.rename(path)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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


async def _postgres_counts(url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        registrations = await conn.fetchval("SELECT count(*) FROM registrations")
        subscriptions = await conn.fetchval("SELECT count(*) FROM subscriptions")
    finally:
        await conn.close()
    return int(registrations), int(subscriptions)


def _sqlite_counts(path: Path) -> tuple[int, int]:
    with sqlite3.connect(path) as conn:
        registrations = conn.execute("SELECT count(*) FROM registrations").fetchone()[0]
        subscriptions = conn.execute("SELECT count(*) FROM subscriptions").fetchone()[0]
    return int(registrations), int(subscriptions)


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHGATE_")}
    env.update(PUSHGATE_URL=url, PUSHGATE_KEY=ADMIN_KEY)
    return subprocess.run(  # noqa: S603 - our own interpreter and CLI
        [sys.executable, "-m", "pushgate.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def run_one(database: str, source: Path, *, parallel: int, workers: int) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="pushgate-bench-import-"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHGATE_")}
    env.update(
        PUSHGATE_DATA_DIR=str(data_dir), PUSHGATE_ADMIN_KEY=ADMIN_KEY, PUSHGATE_LOG_LEVEL="WARNING"
    )
    database_url = asyncio.run(_reset_postgres()) if database == "postgres" else None
    if database_url:
        env["PUSHGATE_DATABASE_URL"] = database_url
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
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(port, proc)
        assert _cli(url, "apps", "create", "bench").returncode == 0
        checkpoint = source.with_name(source.name + ".checkpoint.json")
        checkpoint.unlink(missing_ok=True)
        started = time.monotonic()
        result = _cli(
            url,
            "registrations",
            "import",
            "bench",
            str(source),
            "--json",
            "--parallel",
            str(parallel),
        )
        wall = time.monotonic() - started
        if result.returncode != 0:
            raise RuntimeError(f"import failed ({result.returncode}): {result.stderr[-2000:]}")
        summary = json.loads(result.stdout)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    if database_url:
        stored, subscribed = asyncio.run(_postgres_counts(database_url))
    else:
        stored, subscribed = _sqlite_counts(data_dir / "pushgate.db")
    shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "database": database,
        "server_workers": workers,
        "parallel_requests": parallel,
        "rows": summary["rows"],
        "created": summary["created"],
        "rejected": summary["rejected"],
        "seconds": summary["seconds"],
        "rows_per_s": summary["rows_per_s"],
        "cli_wall_seconds": round(wall, 2),
        "registrations_stored": stored,
        "subscriptions_stored": subscribed,
        "under_5_minutes": wall < 300,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    print(f"generating {args.rows:,} rows ...", flush=True)
    source = generate(args.rows)
    results = []
    for database in ("sqlite", "postgres"):
        if args.only and database != args.only:
            continue
        print(f"{database}: importing {source.name} ...", flush=True)
        result = run_one(database, source, parallel=args.parallel, workers=args.workers)
        print(
            f"  {result['rows']:,} rows in {result['seconds']:,.1f} s "
            f"({result['rows_per_s']:,.0f} rows/s; {result['cli_wall_seconds']} s with start-up)"
            f"; stored {result['registrations_stored']:,} registrations, "
            f"{result['subscriptions_stored']:,} subscriptions",
            flush=True,
        )
        results.append(result)
    report = {
        "benchmark": "pushgate registrations import (CSV -> POST .../registrations/import)",
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
            "load_average_at_end": round(os.getloadavg()[0], 2),
        },
        "file": {"rows": args.rows, "megabytes": round(source.stat().st_size / 1e6, 1)},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
