"""`pushgate serve` killed, stopped and run with several workers: reliability.md F2, F3, F14.

* F2: SIGKILL `serve` while clients register devices and send to them: every send answered
  2xx is stored and, once another process takes over, delivered (the fakes' ledger), none
  lost; duplicates are counted; what got no answer leaves nothing stuck.
* F3: SIGTERM with deliveries in flight at a slow provider: exit code 0 within the configured
  grace (+1 s), no job lease left held, and everything delivered by the next process without
  waiting for a lease to run out.
* F14: `serve --workers 4` on one SQLite file under concurrent registrations and sends: no
  5xx, no "database is locked" in any answer or log line.

The providers are `pushgate fakes` in a process of their own, so their ledger (GET
/received) outlives the server under test. One unique FCM token per registration and per
send: a token's count in the ledger is how often that send was delivered. The process
taking over after a kill or stop is a worker in this test process (recover_in_process).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushgate.app import build_runtime, create_app
from pushgate.config import Settings
from pushgate.delivery.worker import Worker
from pushgate.store.uow import unit_of_work
from tests.conftest import ADMIN_KEY, MASTER_KEY, make_settings, wait_for
from tests.e2e.server import LiveServer, free_port, live_server

pytestmark = pytest.mark.slow

APP = "faults"
ADMIN = {"X-API-Key": ADMIN_KEY}


def wait_until(condition: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    """Poll another process's progress until `condition` holds; fail after the deadline."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)  # another process's state: polled, nothing to await


@dataclass
class Fakes:
    """A `pushgate fakes` process: its control API and the settings pointing a server at it."""

    control: str
    settings: dict[str, Any]  # Settings fields that point a server at the fakes

    @property
    def env(self) -> dict[str, str]:
        return {
            "PUSHGATE_" + name.upper(): value if isinstance(value, str) else json.dumps(value)
            for name, value in self.settings.items()
        }

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.control + path, data=data, method=method)  # noqa: S310 - loopback
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            raw = response.read()
            return json.loads(raw) if raw else None

    def received(self) -> Counter[str]:
        """How often each FCM token was accepted (the ledger)."""
        return Counter(item["token"] for item in self._call("GET", "/received?provider=fcm"))

    def fcm_delay(self, seconds: float) -> None:
        self._call("PUT", "/behaviour/fcm", {"delay_s": seconds})


@pytest.fixture(scope="module")
def fakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fakes]:
    directory = tmp_path_factory.mktemp("fakes")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHGATE_")}
    command = [sys.executable, "-m", "pushgate.cli", "fakes", "--json", "--port", str(port),
               "--dir", str(directory)]  # fmt: skip
    with (directory / "fakes.log").open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
            command, env=env, stdout=subprocess.PIPE, stderr=log
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # --json: one line once they listen
        assert line, f"pushgate fakes exited: {(directory / 'fakes.log').read_text()[-2000:]}"
        endpoints = json.loads(line)["endpoints"]
        names = ("apns", "apns_sandbox", "fcm", "fcm_token", "wns")
        yield Fakes(
            endpoints["control"],
            {
                "provider_ca_file": endpoints["ca_file"],
                "provider_endpoints": {n: endpoints[n] for n in names},
                "endpoint_allow_private": True,
                "fake_credentials": str(directory / "fake-credentials.json"),
            },
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def server_env(fakes: Fakes, **settings: str) -> dict[str, str]:
    return {
        "PUSHGATE_ADMIN_KEY": ADMIN_KEY,
        "PUSHGATE_MASTER_KEY": MASTER_KEY,
        "PUSHGATE_LOG_LEVEL": "WARNING",  # no access line per request: the CPU is the clients'
        **fakes.env,
        **{"PUSHGATE_" + name.upper(): value for name, value in settings.items()},
    }


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


class Client:
    """One API client: a keep-alive HTTP/1.1 connection, as the admin."""

    def __init__(self, base_url: str) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self._connection = http.client.HTTPConnection(host, int(port), timeout=30)

    def call(self, method: str, path: str, body: Any = None) -> Answer | None:
        """The answer, or None when none came (connection refused, reset or closed)."""
        headers = {"X-API-Key": ADMIN_KEY, "Content-Type": "application/json"}
        try:
            self._connection.request(
                method, path, json.dumps(body) if body is not None else None, headers
            )
            response = self._connection.getresponse()
            return Answer(response.status, response.read().decode())
        except (OSError, http.client.HTTPException):
            self._connection.close()
            return None

    def close(self) -> None:
        self._connection.close()


def make_pushgate_app(server: LiveServer) -> None:
    status, body = server.request("POST", "/v1/apps", {"name": APP}, ADMIN)
    assert status == 201, body


def open_db(data_dir: Path) -> sqlite3.Connection:
    """The server's SQLite file, for reading its queue and counts as another process would."""
    conn = sqlite3.connect(data_dir / "pushgate.db", timeout=10)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def scalar(data_dir: Path, sql: str) -> Any:
    with closing(open_db(data_dir)) as conn:
        return conn.execute(sql).fetchone()[0]


def unfinished(data_dir: Path) -> int:
    count: int = scalar(data_dir, "SELECT count(*) FROM notifications WHERE state != 'done'")
    return count


@dataclass(frozen=True, slots=True)
class Recovery:
    seconds: float  # until every notification was done
    notifications: dict[str, Any]  # id -> its GET answer (None: not found)


def recover_in_process(
    tmp_path: Path, fakes: Fakes, ids: Iterable[str], *, timeout_s: float, **settings: Any
) -> Recovery:
    """Another process taking the work over: a worker in this test process on the server's
    database, delivering to the same fakes until every notification is done; then `ids`
    read through the API, served in-process from the same runtime.

    This process has pushgate imported already: a takeover here costs no interpreter start
    (a `pushgate serve` start is ~5 s of CPU, and the suite's CPU budget is tight).
    """
    config = make_settings(tmp_path, **fakes.settings, **settings)
    return asyncio.run(_recover(config, list(ids), timeout_s))


async def _recover(settings: Settings, ids: list[str], timeout_s: float) -> Recovery:
    started = time.monotonic()
    runtime, _ = await build_runtime(settings)
    worker = Worker(runtime.engine)
    task = asyncio.create_task(worker.run())
    found: dict[str, Any] = {}
    try:

        async def all_done() -> bool:
            async with unit_of_work(runtime.db, readonly=True) as uow:
                left = await uow.conn.exec_driver_sql(
                    "SELECT count(*) FROM notifications WHERE state != 'done'"
                )
                return bool(left.scalar_one() == 0)

        await wait_for(all_done, timeout_s=timeout_s, what="every notification to finish")
        seconds = time.monotonic() - started
        transport = httpx.ASGITransport(app=create_app(settings, runtime))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://pushgate.test"
        ) as client:
            for nid in ids:
                answer = await client.get(f"/v1/apps/{APP}/notifications/{nid}", headers=ADMIN)
                found[nid] = answer.json() if answer.status_code == 200 else None
    finally:
        await worker.stop()
        await task
        await runtime.engine.aclose()
        await runtime.limits.aclose()
        await runtime.db.dispose()
    return Recovery(seconds, found)


# F2 ------------------------------------------------------------------------------------------

F2_CLIENTS = 6
F2_KILL_AFTER = 60  # sends answered 2xx before the kill
F2_LEASE_S = 2  # a killed server's leases run out after this; the restart then takes over


@dataclass
class Sends:
    """What the clients of one run were told, shared by their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: dict[str, str] = field(default_factory=dict)  # notification id -> token (2xx)
    registered: dict[str, str] = field(default_factory=dict)  # token -> registration id (2xx)
    refused: list[str] = field(default_factory=list)  # non-2xx answers before the kill
    unanswered: int = 0  # requests without an answer (the kill)
    attempted_tokens: set[str] = field(default_factory=set)


def f2_client(base_url: str, number: int, sends: Sends, killed: threading.Event) -> None:
    """Register a fresh device and send to it, over and over, until the server is gone.

    Even sends name the registration (delivered inline, 200 once the provider answered, or
    202 past the inline deadline); odd ones name its own topic (queued for the worker, 202).
    """
    client = Client(base_url)
    refused: Answer | None = None
    for i in range(10_000):  # bounded; the kill ends it long before
        token = f"f2-{number}-{i}-{secrets.token_hex(6)}"
        with sends.lock:
            sends.attempted_tokens.add(token)
        device = {"platform": "android", "token": token, "topics": [f"t-{token}"]}
        registered = client.call("POST", f"/v1/apps/{APP}/registrations", device)
        if registered is None or registered.status != 201:
            refused = registered
            break
        rid = registered.json()["id"]
        with sends.lock:
            sends.registered[token] = rid
        target = {"registrations": [rid]} if i % 2 == 0 else {"topics": [f"t-{token}"]}
        sent = client.call(
            "POST",
            f"/v1/apps/{APP}/notifications",
            {"target": target, "notification": {"alert": "hi"}},
        )
        if sent is None or sent.status not in (200, 202):
            refused = sent
            break
        with sends.lock:
            sends.accepted[sent.json()["id"]] = token
    client.close()
    with sends.lock:
        if refused is not None:
            sends.refused.append(repr(refused))
        elif killed.is_set():
            sends.unanswered += 1
        else:
            sends.refused.append("no answer before the kill")


def test_f2_sigkill_of_serve_while_accepting_loses_no_2xx(fakes: Fakes, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = server_env(fakes, lease_s=str(F2_LEASE_S))
    fakes.fcm_delay(0.05)  # a provider's round trip: deliveries are in flight at the kill
    sends, killed = Sends(), threading.Event()
    with live_server(data_dir, env) as server:
        make_pushgate_app(server)
        threads = [
            threading.Thread(target=f2_client, args=(server.base_url, n, sends, killed))
            for n in range(F2_CLIENTS)
        ]
        for thread in threads:
            thread.start()

        def enough_accepted() -> bool:
            with sends.lock:
                return len(sends.accepted) >= F2_KILL_AFTER or bool(sends.refused)

        wait_until(enough_accepted, timeout_s=60, what=f"{F2_KILL_AFTER} accepted sends")
        killed.set()
        server.process.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        server.process.wait()
        for thread in threads:
            thread.join(timeout=30)
        at_kill = sum(fakes.received().values())
    assert not sends.refused, sends.refused
    recovery = recover_in_process(tmp_path, fakes, sends.accepted, timeout_s=60, lease_s=F2_LEASE_S)
    recovered_s = time.monotonic() - killed_at
    ledger = fakes.received()
    with closing(open_db(data_dir)) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        jobs_left = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
        registrations = {row[0] for row in conn.execute("SELECT token FROM registrations")}
        queued = conn.execute("SELECT count(*) FROM deliveries WHERE status = 0").fetchone()[0]
    accepted_tokens = set(sends.accepted.values())
    lost = sorted(t for t in accepted_tokens if ledger[t] == 0)
    duplicated = sum(ledger[t] - 1 for t in accepted_tokens if ledger[t] > 1)
    stored = recovery.notifications
    unstored = sorted(nid for nid, body in stored.items() if body is None)
    not_sent = sorted(
        nid for nid, body in stored.items() if body is not None and body["counts"]["SENT"] != 1
    )
    strangers = sorted(t for t in ledger if t.startswith("f2-") and t not in sends.attempted_tokens)
    print(  # noqa: T201 - the fault test's figures (reliability.md F2)
        f"\nF2 SIGKILL serve (SQLite, {F2_CLIENTS} clients): accepted {len(sends.accepted)}, "
        f"registered {len(sends.registered)}, unanswered {sends.unanswered}, delivered "
        f"{len(accepted_tokens) - len(lost)}, lost {len(lost)}, duplicated {duplicated}, "
        f"ledger at the kill {at_kill}; time to recover {recovered_s:.1f} s from the kill to "
        f"all delivered (lease {F2_LEASE_S} s, worker taking over {recovery.seconds:.1f} s)"
    )
    assert len(sends.accepted) >= F2_KILL_AFTER
    assert unstored == []  # no 2xx unstored
    assert not_sent == []  # each one's delivery ended SENT
    assert lost == []  # every 2xx reached the provider
    assert set(sends.registered) <= registrations  # every 201 registration kept
    # Nothing without an answer caused trouble: all finished, nothing left queued or leased,
    # the file is sound and the provider saw no token nobody registered.
    assert (jobs_left, queued, integrity, strangers) == (0, 0, "ok", [])


# F3 ------------------------------------------------------------------------------------------

F3_GRACE_S = 2.0
F3_LEASE_S = 30  # long: a lease left held would keep its work waiting this long
F3_TOPIC_DEVICES = 20
F3_SINGLE_SENDS = 8


def test_f3_sigterm_exits_within_grace_and_releases_leases(fakes: Fakes, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    config = {
        "shutdown_grace_s": F3_GRACE_S,
        "lease_s": F3_LEASE_S,
        "send_timeout_s": 60,  # the provider's slowness is not a failed attempt here
    }
    env = server_env(fakes, inline_deadline_s="0.5", **{k: str(v) for k, v in config.items()})
    fakes.fcm_delay(30)  # slower than the grace: deliveries are still in flight when it ends
    tokens = [f"f3-{i}-{secrets.token_hex(6)}" for i in range(F3_TOPIC_DEVICES + F3_SINGLE_SENDS)]
    with live_server(data_dir, env) as server:
        make_pushgate_app(server)
        client = Client(server.base_url)
        ids = []
        for i, token in enumerate(tokens):
            topics = ["f3"] if i < F3_TOPIC_DEVICES else []
            device = {"platform": "android", "token": token, "topics": topics}
            answer = client.call("POST", f"/v1/apps/{APP}/registrations", device)
            assert answer is not None
            assert answer.status == 201, answer
            ids.append(answer.json()["id"])
        targets = [{"topics": ["f3"]}] + [
            {"registrations": [rid]} for rid in ids[-F3_SINGLE_SENDS:]
        ]
        for target in targets:  # one broadcast (the worker's) and single sends (inline)
            answer = client.call(
                "POST",
                f"/v1/apps/{APP}/notifications",
                {"target": target, "notification": {"alert": "hi"}},
            )
            assert answer is not None
            assert answer.status == 202, answer
        client.close()
        leased_sql = "SELECT count(*) FROM jobs WHERE lease_owner IS NOT NULL"
        wait_until(
            lambda: scalar(data_dir, leased_sql) >= 1 + F3_SINGLE_SENDS,
            timeout_s=30,
            what="the broadcast's batch and the single sends to be in flight",
        )
        in_flight = scalar(data_dir, leased_sql)
        stopping = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        try:
            code = server.process.wait(timeout=F3_GRACE_S + 30)
        except subprocess.TimeoutExpired:
            code = None
        stopped_s = time.monotonic() - stopping
        log = server.log.read_text()
    still_leased = scalar(data_dir, leased_sql)
    jobs_kept = scalar(data_dir, "SELECT count(*) FROM jobs")
    fakes.fcm_delay(0)
    # Well under the lease: only work given back is taken over this soon.
    recovery = recover_in_process(tmp_path, fakes, [], timeout_s=F3_LEASE_S / 2, **config)
    ledger = fakes.received()
    sent = scalar(data_dir, "SELECT sum(sent) FROM notifications")
    lost = [t for t in tokens if ledger[t] == 0]
    print(  # noqa: T201 - the fault test's figures (reliability.md F3)
        f"\nF3 SIGTERM serve (SQLite, grace {F3_GRACE_S} s): jobs in flight {in_flight}, exit "
        f"code {code} after {stopped_s:.1f} s, leases held after exit {still_leased}, jobs kept "
        f"{jobs_kept}, delivered {len(tokens) - len(lost)} of {len(tokens)} "
        f"by a worker taking over in {recovery.seconds:.1f} s (lease {F3_LEASE_S} s)"
    )
    assert code == 0, log[-3000:]
    assert stopped_s <= F3_GRACE_S + 1.0, log[-3000:]
    assert still_leased == 0  # given back, not left to run out
    assert jobs_kept >= 1 + F3_SINGLE_SENDS  # ... and kept, to be done after the restart
    assert sent == len(tokens)
    assert lost == []


# F14 -----------------------------------------------------------------------------------------

F14_WORKERS = 4
F14_CLIENTS = 8
F14_LOAD_S = 3.0


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # 5xx or no answer: what came back
    seconds: list[float] = field(default_factory=list)  # each request's time to its answer

    def add(self, answer: Answer | None, seconds: float) -> None:
        with self.lock:
            self.statuses[answer.status if answer else 0] += 1
            self.seconds.append(seconds)
            if answer is None or answer.status >= 500:
                self.failures.append(repr(answer))


def f14_client(base_url: str, number: int, until: float, tally: Tally) -> None:
    """Register a device, send to it, read it back: the mix of a busy app."""
    client = Client(base_url)

    def call(method: str, path: str, body: Any = None) -> Answer | None:
        started = time.monotonic()
        answer = client.call(method, path, body)
        tally.add(answer, time.monotonic() - started)
        return answer

    for i in range(100_000):  # bounded; the clock ends it long before
        if time.monotonic() >= until:
            break
        token = f"f14-{number}-{i}-{secrets.token_hex(6)}"
        device = {"platform": "android", "token": token, "topics": [f"f14-{number % 2}"]}
        registered = call("POST", f"/v1/apps/{APP}/registrations", device)
        if registered is None or registered.status != 201:
            continue
        rid = registered.json()["id"]
        body = {"target": {"registrations": [rid]}, "notification": {"alert": "hi"}}
        call("POST", f"/v1/apps/{APP}/notifications", body)
        call("GET", f"/v1/apps/{APP}/registrations/{rid}")
    client.close()


def test_f14_four_workers_on_one_sqlite_file_never_lock(fakes: Fakes, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    fakes.fcm_delay(0)
    env = server_env(fakes, log_level="INFO")  # uvicorn's startup lines, and every warning
    with live_server(data_dir, env, "--workers", str(F14_WORKERS)) as server:

        def all_workers_serving() -> bool:
            return server.log.read_text().count("Application startup complete.") >= F14_WORKERS

        # One answered /readyz; the load starts once every worker process serves.
        wait_until(all_workers_serving, timeout_s=90, what=f"{F14_WORKERS} workers to start")
        make_pushgate_app(server)
        tally = Tally()
        started = time.monotonic()
        until = started + F14_LOAD_S
        threads = [
            threading.Thread(target=f14_client, args=(server.base_url, n, until, tally))
            for n in range(F14_CLIENTS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=F14_LOAD_S + 60)
        elapsed = time.monotonic() - started
        log = server.log.read_text()
    requests = sum(tally.statuses.values())
    errors = sum(n for status, n in tally.statuses.items() if status == 0 or status >= 500)
    locked = log.count("database is locked")
    locked += sum("database is locked" in failure for failure in tally.failures)
    seconds = sorted(tally.seconds) or [0.0]
    print(  # noqa: T201 - the load test's figures (reliability.md F14)
        f"\nF14 serve --workers {F14_WORKERS} on SQLite, {F14_CLIENTS} clients: {requests} "
        f"requests in {elapsed:.1f} s ({requests / elapsed:.0f}/s), statuses "
        f"{dict(sorted(tally.statuses.items()))}, 5xx or unanswered {errors}, "
        f"'database is locked' {locked}; answered in p50 {seconds[len(seconds) // 2]:.3f} s, "
        f"max {seconds[-1]:.3f} s"
    )
    assert tally.statuses[201] >= F14_CLIENTS  # every client got through at least once
    assert errors == 0, tally.failures[:5]
    assert locked == 0
    assert set(tally.statuses) <= {200, 201, 202}, tally.statuses
