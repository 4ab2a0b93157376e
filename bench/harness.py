"""The processes around pushgate for bench/load.py and bench/accept.py.

The fake providers of `pushgate fakes` in a child process (`python bench/harness.py
--serve-fakes DIR N`: every Nth request they would accept is refused, fakes/behaviour.py
`fault_every`, and GET /load/ledger on their control API counts what they accepted per
(token, load_id)), a fresh PostgreSQL database, `pushgate serve` and `pushgate worker`
subprocesses, and the figures beside the results (RSS and CPU from /proc, git commit,
machine).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get(
    "PUSHGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
ADMIN_KEY = "pga_bench-" + secrets.token_hex(16)
APP = "load"
START_TIMEOUT_S = 60.0
QUEUED, SENT, ERROR = 0, 1, 2  # DeliveryStatus as stored


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def fakes_process(workdir: Path, fault_every: int) -> Iterator[dict[str, Any]]:
    """The fakes in a child process (this module with --serve-fakes): its ready line."""
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, __file__, "--serve-fakes", str(workdir), str(fault_every)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise RuntimeError(f"the fakes exited with {child.wait(10)}")
        yield {"pid": child.pid, **json.loads(line)}
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=20)


def _load_id(payload: Any) -> str | None:
    """The `load_id` data key wherever a provider's payload carries it."""
    if isinstance(payload, dict):
        if isinstance(payload.get("load_id"), str):
            return str(payload["load_id"])
        for value in payload.values():
            found = _load_id(value)
            if found is not None:
                return found
    return None


async def serve_fakes(directory: Path, fault_every: int) -> None:
    """The child's side: every fake, 5 % faults, and GET /load/ledger on the control API."""
    from pushgate import cli_fakes  # the bench child only: fakes stay out of pushgate
    from pushgate.fakes.deployment import FakeDeployment
    from pushgate.fakes.http_server import FakeRequest, FakeResponse

    ledger: Counter[tuple[str, str]] = Counter()  # (token, load_id) -> times accepted
    async with FakeDeployment(directory, control_port=0) as fakes:
        faulty = {"apns": fakes.apns.behaviours, "fcm": fakes.fcm.behaviours,
                  "webpush": fakes.webpush.behaviours}  # fmt: skip
        for behaviours in faulty.values():
            behaviours.fault_every = fault_every

        def fold() -> None:  # the inbox keeps whole messages: fold them into counts
            for item in fakes.inbox.received:
                ledger[(item.token, _load_id(item.payload) or "")] += 1
            fakes.inbox.received.clear()

        async def folding() -> None:
            while True:
                await asyncio.sleep(0.5)
                fold()

        async def ledger_route(_request: FakeRequest) -> FakeResponse:
            fold()
            return FakeResponse.json(200, {
                "accepted": [[t, i, n] for (t, i), n in ledger.items()],
                "requests": {name: b.requests for name, b in faulty.items()},
                "faults": {name: {k.value: n for k, n in b.faults.items()}
                           for name, b in faulty.items()},
            })  # fmt: skip

        fakes.control.routes["/load/ledger"] = ledger_route
        env = cli_fakes.environment_for(fakes, directory)
        print(json.dumps({"env": env, "control": fakes.endpoints().control}), flush=True)
        task = asyncio.create_task(folding())
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        task.cancel()


async def fresh_database() -> str:
    name = "pushgate_load_" + secrets.token_hex(4)
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


async def drop_database(url: str) -> None:
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()


def pushgate_env(data_dir: Path, database_url: str, fakes_env: dict[str, str]) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("PUSHGATE_")},
        "PUSHGATE_DATA_DIR": str(data_dir),
        "PUSHGATE_DATABASE_URL": database_url,
        "PUSHGATE_ADMIN_KEY": ADMIN_KEY,
        "PUSHGATE_MASTER_KEY": Fernet.generate_key().decode(),
        "PUSHGATE_LOG_LEVEL": "WARNING",
        **fakes_env,
    }


def start(role: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(  # noqa: S603 - our own interpreter running our own CLI
            [sys.executable, "-m", "pushgate.cli", *role], env=env, stdout=sink,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def log_text(log: Path) -> str:
    """A child's log so far (small files, read while polling)."""
    return log.read_text(errors="replace")


async def wait_until(
    what: str, check: Callable[[], Awaitable[bool]], timeout_s: float = START_TIMEOUT_S
) -> None:
    """Poll `check()` (async, True when done) until the deadline."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout_s:.0f} s")
        await asyncio.sleep(0.1)


async def wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as client:

        async def ready() -> bool:
            if process.poll() is not None:
                tail = log_text(log)[-3000:]
                raise RuntimeError(f"pushgate serve exited with {process.returncode}:\n{tail}")
            with contextlib.suppress(httpx.TransportError):
                return (await client.get("/readyz")).status_code == 200
            return False

        await wait_until("pushgate serve ready", ready)


async def wait_log(log: Path, text: str, process: subprocess.Popen[bytes]) -> None:
    async def seen() -> bool:
        if process.poll() is not None:
            tail = log_text(log)[-3000:]
            raise RuntimeError(f"{log.name}: exited with {process.returncode}:\n{tail}")
        return text in log_text(log)

    await wait_until(f"{log.name} says {text!r}", seen)


async def create_app(client: httpx.AsyncClient, roles: list[str]) -> str:
    """The app and a key with `roles`; the key."""
    admin = {"X-API-Key": ADMIN_KEY}
    answer = await client.post("/v1/apps", json={"name": APP}, headers=admin)
    answer.raise_for_status()
    body = {"alias": "load", "roles": roles}
    answer = await client.post(f"/v1/apps/{APP}/keys", json=body, headers=admin)
    answer.raise_for_status()
    key: str = answer.json()["key"]
    return key


class RawHttp:
    """A minimal HTTP/1.1 keep-alive JSON client for the load itself: a connection carries
    one request at a time, each request is one write.

    Not httpx: its shared pool serialised concurrent requests here (74 registrations/s
    through one AsyncClient against the server that took 423/s from this kind of client) and
    it costs ~2 ms of CPU a request, which 2 cores running the server cannot spare.
    """

    # uvicorn closes a keep-alive connection after 5 s without a request: older idle ones are
    # not reused, and a reused one that the server closed meanwhile is replaced once.
    IDLE_S = 4.0

    def __init__(self, port: int, headers: dict[str, str], timeout_s: float = 30.0) -> None:
        self._port = port
        self._head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._timeout_s = timeout_s

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, parsed JSON body or None); OSError, TimeoutError... as they come."""
        data = b"" if body is None else json.dumps(body).encode()
        raw = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self._port}\r\n{self._head}"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        ).encode() + data
        async with asyncio.timeout(self._timeout_s):
            reader, writer, reused = await self._connection()
            try:
                status, payload, keep = await _exchange(reader, writer, raw)
            except asyncio.IncompleteReadError as exc:
                if not reused or exc.partial:
                    raise
                # Closed by the server while idle, before it read this request: a new one.
                reader, writer = await asyncio.open_connection("127.0.0.1", self._port)
                status, payload, keep = await _exchange(reader, writer, raw)
        if keep:
            self._idle.append((reader, writer, time.monotonic()))
        else:
            writer.close()
        return status, json.loads(payload) if payload else None

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        while self._idle:
            reader, writer, since = self._idle.pop()
            if time.monotonic() - since < self.IDLE_S:
                return reader, writer, True
            writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", self._port)
        return reader, writer, False

    def close(self) -> None:
        for _, writer, _ in self._idle:
            writer.close()
        self._idle.clear()


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, bytes, bool]:
    """One request and its answer: (status, body, keep-alive); the connection closed on error."""
    try:
        return await _answer(reader, writer, raw)
    except BaseException:
        writer.close()
        raise


async def _answer(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, bytes, bool]:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    length, keep = 0, True
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
    return int(head[9:12]), await reader.readexactly(length), keep


def children(pid: int) -> list[int]:
    """A process's child processes (Linux /proc), but multiprocessing's resource tracker."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    return sorted(c for c in found if b"resource_tracker" not in _cmdline(c))


def _cmdline(pid: int) -> bytes:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    return b""


def proc_figures(pid: int) -> tuple[float, float]:
    """(RSS in MB, CPU seconds) of a process, from /proc."""
    rss = 0.0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return rss, (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return rss, 0.0


def git_commit() -> str | None:
    """HEAD's commit, read from .git without running git."""
    git = ROOT / ".git"
    with contextlib.suppress(OSError):
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (git / ref).exists():
            return (git / ref).read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    return None


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 2)


async def queue_state(db: asyncpg.Connection) -> dict[str, int]:
    return {
        "jobs": await db.fetchval("SELECT count(*) FROM jobs"),
        "retries_waiting": await db.fetchval(f"SELECT count(*) FROM deliveries WHERE status = {QUEUED}"),  # noqa: S608, E501
        "notifications_open": await db.fetchval(
            "SELECT count(*) FROM notifications WHERE state NOT IN ('done', 'cancelled')"
        ),
    }  # fmt: skip


def memory_trend(samples: list[dict[str, Any]], warmup_s: float) -> dict[str, Any]:
    kept = [s for s in samples if s["t_s"] >= warmup_s] or samples
    trend: dict[str, Any] = {}
    for name in kept[0]["rss_mb"] if kept else ():
        values = [s["rss_mb"][name] for s in kept]
        times = [s["t_s"] / 60 for s in kept]
        third = max(1, len(values) // 3)
        first, last = sum(values[:third]) / third, sum(values[-third:]) / third
        mean_t, mean_v = sum(times) / len(times), sum(values) / len(values)
        spread = sum((t - mean_t) ** 2 for t in times)
        slope = sum((t - mean_t) * (v - mean_v) for t, v in zip(times, values, strict=True))
        trend[name] = {
            "first_third_mean_mb": round(first, 1),
            "last_third_mean_mb": round(last, 1),
            "slope_mb_per_min": round(slope / spread, 2) if spread else 0.0,
            "max_mb": max(values),
            "no_growth": last <= first * 1.10 + 20,
        }
    return trend


async def drain(db: asyncpg.Connection, timeout_s: float) -> tuple[float, bool, dict[str, int]]:
    began = time.monotonic()
    while True:
        state = await queue_state(db)
        if not any(state.values()):
            return round(time.monotonic() - began, 1), True, state
        if time.monotonic() - began > timeout_s:
            return round(time.monotonic() - began, 1), False, state
        await asyncio.sleep(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description="the fakes' child process")
    parser.add_argument("--serve-fakes", nargs=2, metavar=("DIR", "N"), required=True)
    args = parser.parse_args()
    asyncio.run(serve_fakes(Path(args.serve_fakes[0]), int(args.serve_fakes[1])))


if __name__ == "__main__":
    main()
