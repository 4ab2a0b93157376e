"""reliability.md F9: SQLite disk full.

Two ways to fill the store. A 4 MB tmpfs holding the database and a ballast file (root only:
skipped where mount is refused) is a real full disk: every write, even a DELETE, fails, as
the WAL cannot grow. `PRAGMA max_page_count` (no privilege) caps the file instead, filled
by a ballast table written through a connection of the test's own; there only writes that
need a new page fail. Either way writes answer 503 `storage_full` with Retry-After, natively
and in each dialect's shape, nothing is half-written (every table's row count is unchanged),
reads and health answer 200, and once the ballast is gone writes succeed again in the same
process. A delivery whose result cannot be recorded for want of space is sent again after
its lease, never lost.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushgate.app import build_runtime
from pushgate.config import async_database_url
from pushgate.delivery.engine import DeliveryConfig
from pushgate.delivery.worker import Worker
from pushgate.http.deps import Runtime
from pushgate.providers.base import SENT, Batch, Provider, ProviderOptions, SendResult
from pushgate.providers.kinds import ProviderKind, ProviderRegistry
from pushgate.providers.recording import render_json
from pushgate.store.engine import Database
from pushgate.store.tables import metadata
from tests.conftest import FixedClock, make_settings, wait_for
from tests.integration.api.helpers import ADMIN, key_header, make_app, make_key
from tests.integration.dialects.mobilefirst.conftest import APP as MFP_APP
from tests.integration.dialects.mobilefirst.conftest import EVERY_SCOPE, make_client, token_for
from tests.integration.dialects.mobilefirst.conftest import V1 as MFP_V1
from tests.integration.dialects.pushapi.samples import PATH as PUSHAPI_PATH
from tests.integration.dialects.pushapi.samples import filled, read_xml
from tests.integration.dialects.servicenow.samples import (
    INSTALL_BODY,
    INSTALL_PATH,
    curl_headers,
    make_servicenow_app,
)

pytestmark = pytest.mark.anyio

TMPFS_BYTES = 4 * 1024 * 1024
LEASE_S = 5.0
FULL = "storage_full"
REG = "/v1/apps/news/registrations"
BURST = 16
FILL_BURSTS = 400
ROLES = ("registrations_write", "pushregistrations_read", "push_all")
SEND = "/v1/apps/news/notifications"
MFP_SCOPE = f"push.application.{MFP_APP}"


# --- the two ways to fill a store --------------------------------------------------------


class Store:
    """A SQLite database that a test can fill (`fill`) and free (`free`) under the app."""

    path: Path
    db: Database

    async def fill(self, slack: int) -> None:
        """Leave about `slack` bytes of room. In a thread: the app's transactions go on
        meanwhile (blocking the loop while one holds the write lock would deadlock)."""
        await asyncio.to_thread(self._fill, slack)

    async def free(self) -> None:
        await asyncio.to_thread(self._free)

    def _fill(self, slack: int) -> None:
        raise NotImplementedError

    def _free(self) -> None:
        raise NotImplementedError


class TmpfsStore(Store):
    """The database on a tmpfs of 4 MB; the ballast is a file beside it."""

    def __init__(self, mount: Path, template: Path) -> None:
        self.path = mount / "pushgate.db"
        shutil.copyfile(template, self.path)
        self.ballast = mount / "ballast"
        self.mount = mount
        self.db = Database(async_database_url(f"sqlite:///{self.path}"))

    def _fill(self, slack: int) -> None:
        stat = os.statvfs(self.mount)
        room = stat.f_bavail * stat.f_frsize
        with self.ballast.open("ab") as ballast:
            ballast.write(b"\0" * max(0, room - slack))
        if slack == 0:
            self._use_up_wal_tail()

    def _use_up_wal_tail(self) -> None:
        """A transaction that failed for want of space leaves its frames past the WAL's last
        commit, where a smaller one still fits; one-frame commits (a page rewritten as it
        was) use that room up, so that no write at all fits any more."""
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=5000")
            with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
                _one_frame_commits(conn, 10_000)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        finally:
            conn.close()

    def _free(self) -> None:
        self.ballast.unlink()


class CappedStore(Store):
    """The database capped by max_page_count; the ballast is a table the test writes through
    a connection of its own, which has no cap."""

    HEADROOM_PAGES = 400  # room for the test's setup writes

    def __init__(self, directory: Path, template: Path) -> None:
        self.path = directory / "pushgate.db"
        shutil.copyfile(template, self.path)
        # used from the fill's and free's threads, one at a time
        self.own = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.own.execute("PRAGMA busy_timeout=5000")
        self.own.execute("CREATE TABLE ballast (b BLOB)")
        self.page_size = int(self.own.execute("PRAGMA page_size").fetchone()[0])
        self.cap = self._pages() + self.HEADROOM_PAGES
        url = async_database_url(f"sqlite:///{self.path}")
        self.db = Database(url, sqlite_max_pages=self.cap)

    def _pages(self) -> int:
        return int(self.own.execute("PRAGMA page_count").fetchone()[0])

    def _fill(self, slack: int) -> None:
        room = (self.cap - self._pages()) * self.page_size - slack
        if room > 0:  # one blob: overflow pages, all but a few bytes of each used
            self.own.execute("INSERT INTO ballast VALUES (zeroblob(?))", (room,))

    def _free(self) -> None:
        self.own.execute("DELETE FROM ballast")  # its pages go to the free list

    def close(self) -> None:
        self.own.close()


def _one_frame_commits(conn: sqlite3.Connection, count: int) -> None:
    for _ in range(count):
        # IMMEDIATE: wait for the app's writers (a deferred one would fail at once)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE alembic_version SET version_num = version_num")
        conn.execute("COMMIT")


def _mount_tmpfs(where: Path) -> None:
    where.mkdir()
    try:
        subprocess.run(  # noqa: S603 - fixed arguments
            ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(where)],  # noqa: S607
            check=True,
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {exc}")


def _unmount(where: Path) -> None:
    for args in (["umount", str(where)], ["umount", "-l", str(where)]):
        done = subprocess.run(args, check=False, capture_output=True, timeout=10)  # noqa: S603
        if done.returncode == 0:
            return


@pytest.fixture
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> AsyncIterator[Store]:
    if request.param == "tmpfs":
        mount = tmp_path / "disk"
        _mount_tmpfs(mount)
        try:
            tmpfs = TmpfsStore(mount, sqlite_template)
            yield tmpfs
            await tmpfs.db.dispose()
        finally:
            _unmount(mount)
        return
    capped = CappedStore(tmp_path, sqlite_template)
    try:
        yield capped
    finally:
        await capped.db.dispose()
        capped.close()


# --- a provider that holds its answer until the test lets it go ---------------------------


@dataclass
class Gate:
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    sends: int = 0


class GatedProvider:
    def __init__(self, gate: Gate) -> None:
        self._gate = gate

    async def send(self, batch: Batch) -> list[SendResult]:
        self._gate.sends += len(batch.deliveries)
        self._gate.entered.set()
        await self._gate.opened.wait()
        return [SENT] * len(batch.deliveries)

    async def aclose(self) -> None:
        return None


def gated_registry(gate: Gate) -> ProviderRegistry:
    def kind(name: str) -> ProviderKind:
        def build(_credential: object, _options: ProviderOptions) -> Provider:
            return GatedProvider(gate)

        return ProviderKind(name, False, render_json, lambda _p: 4096, build)

    kinds = {name: kind(name) for name in ("apns", "fcm", "webpush", "wns", "sms")}
    return ProviderRegistry(kinds, ProviderOptions())


@pytest.fixture
def gate() -> Gate:
    opened = Gate()
    opened.opened.set()  # answers at once unless a test closes it
    return opened


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
async def runtime(
    store: Store, tmp_path: Path, gate: Gate, clock: FixedClock
) -> AsyncIterator[Runtime]:
    config = DeliveryConfig(poll_s=0.05, lease_s=LEASE_S, send_timeout_s=5.0)
    built, _ = await build_runtime(
        make_settings(tmp_path),
        db=store.db,
        registry=gated_registry(gate),
        delivery=config,
        clock=clock,
    )
    yield built
    await built.engine.aclose()
    await built.limits.aclose()


# --- helpers ------------------------------------------------------------------------------


def row_counts(path: Path) -> dict[str, int]:
    """Every table's row count, read through a read-only connection of the test's own."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {
            table.name: int(conn.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0])  # noqa: S608
            for table in metadata.sorted_tables
        }
    finally:
        conn.close()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def assert_storage_full(response: httpx.Response, what: str) -> None:
    """The native answer: 503, Retry-After, code storage_full, a message saying so."""
    assert response.status_code == 503, (what, response.status_code, response.text)
    assert response.headers["retry-after"] == "30", what
    error = response.json()["error"]
    assert error["code"] == FULL, (what, error)
    assert error["message"].startswith("storage full"), (what, error)


async def register(
    client: httpx.AsyncClient, headers: dict[str, str], token: str, **fields: object
) -> httpx.Response:
    body = {"platform": "fcm", "token": token, **fields}
    return await client.post(REG, json=body, headers=headers)


async def fill_with_registrations(
    client: httpx.AsyncClient, store: Store, headers: dict[str, str]
) -> tuple[int, httpx.Response]:
    """Register devices in concurrent bursts (committed in groups) until some are refused,
    then one by one (a smaller write may still fit) until one is: how many were stored, and
    the last refusal. Exactly the answered 201s are stored: a group that met the full disk
    left none of its rows."""
    answered: dict[str, httpx.Response] = {}
    for burst in range(FILL_BURSTS):
        tokens = [f"fill-{burst:04d}-{n:02d}-" + "t" * 180 for n in range(BURST)]
        responses = await asyncio.gather(*(register(client, headers, t) for t in tokens))
        answered.update(zip(tokens, responses, strict=True))
        refused = [r for r in responses if r.status_code != 201]
        if refused:
            break
    else:
        pytest.fail(f"{FILL_BURSTS * BURST} registrations and the store is still not full")
    for n in range(BURST * 10):
        token = f"fill-{FILL_BURSTS:04d}-{n:03d}-" + "t" * 180
        answered[token] = response = await register(client, headers, token)
        if response.status_code != 201:
            refused.append(response)
            break
    else:
        pytest.fail("one by one, registrations were never refused")
    for response in refused:
        assert_storage_full(response, "registration (one-statement path, group commit)")
    conn = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
    try:
        found = conn.execute("SELECT token FROM registrations WHERE token LIKE 'fill-%'")
        stored = {str(token) for (token,) in found}
    finally:
        conn.close()
    assert stored == {t for t, r in answered.items() if r.status_code == 201}
    return len(stored), refused[-1]


def big_send() -> dict[str, Any]:
    """A notification whose stored request needs overflow pages (~24 KB)."""
    localized = {lang: {"alert": lang * 1000} for lang in ("de", "fr", "es", "it", "nl", "pt")}
    return {"target": {"app": True}, "notification": {"alert": "hi"}, "localized": localized}


async def assert_reads_and_health(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for path in ("/healthz", "/readyz"):
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text)
    response = await client.get(REG + "?limit=5", headers=headers)  # the writer's own key
    assert response.status_code == 200, response.text
    for path in (SEND, "/v1/apps/news/topics", "/v1/apps"):
        response = await client.get(path, headers=ADMIN)
        assert response.status_code == 200, (path, response.text)


# --- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("store", ["tmpfs"], indirect=True)
async def test_full_disk_refuses_every_write_whole_and_recovers_without_restart(
    client: httpx.AsyncClient, store: Store
) -> None:
    await make_app(client, "news")
    headers = key_header(await make_key(client, "news", *ROLES))
    await make_servicenow_app(client)
    assert (await register(client, headers, "first", topics=["sport"])).status_code == 201
    assert (await client.post(SEND, json=big_send(), headers=headers)).status_code == 202
    await store.fill(slack=160 * 1024)
    written, refused = await fill_with_registrations(client, store, headers)
    assert_storage_full(refused, "registration")
    await store.fill(slack=0)  # what a smaller write than a burst's group could still use
    before = row_counts(store.path)
    some_id = (await client.get(REG + "?limit=1", headers=headers)).json()["items"][0]["id"]
    answers = {
        "registration": await register(client, headers, "late"),
        "registration with topics": await register(client, headers, "late2", topics=["a", "b"]),
        "send": await client.post(SEND, json=big_send(), headers=headers),
        "small send": await client.post(
            SEND, json={"target": {"app": True}, "notification": {"alert": "x"}}, headers=headers
        ),
        "app creation": await client.post("/v1/apps", json={"name": "other"}, headers=ADMIN),
        "delete": await client.delete(f"{REG}/{some_id}", headers=headers),
    }
    for what, response in answers.items():
        assert_storage_full(response, what)
    servicenow = await client.post(INSTALL_PATH, content=INSTALL_BODY, headers=curl_headers())
    assert servicenow.status_code == 500, servicenow.text  # its document knows only 500
    assert servicenow.headers["retry-after"] == "30"
    assert servicenow.json()["error"]["detail"].startswith("storage full"), servicenow.text
    await assert_reads_and_health(client, headers)
    after = row_counts(store.path)
    assert after == before, "a refused write left rows behind"
    print(  # noqa: T201 - the test's figures
        f"\nF9 tmpfs: {written} registrations stored before full; refused:",
        {what: (r.status_code, r.json()["error"]["code"]) for what, r in answers.items()},
        f"servicenow {servicenow.status_code}; rows unchanged: {sum(after.values())}",
    )

    await store.free()
    resumed = {
        "registration": await register(client, headers, "late"),
        "registration with topics": await register(client, headers, "late2", topics=["a", "b"]),
        "send": await client.post(SEND, json=big_send(), headers=headers),
        "app creation": await client.post("/v1/apps", json={"name": "other"}, headers=ADMIN),
        "delete": await client.delete(f"{REG}/{some_id}", headers=headers),
        "servicenow": await client.post(INSTALL_PATH, content=INSTALL_BODY, headers=curl_headers()),
    }
    statuses = {what: r.status_code for what, r in resumed.items()}
    print(f"F9 tmpfs: after freeing the ballast: {statuses}")  # noqa: T201
    assert statuses == {
        "registration": 201,
        "registration with topics": 201,
        "send": 202,
        "app creation": 201,
        "delete": 204,
        "servicenow": 200,
    }
    assert integrity(store.path) == "ok"


@pytest.mark.parametrize("store", ["capped"], indirect=True)
async def test_page_cap_refuses_writes_needing_room_and_recovers_when_ballast_goes(
    client: httpx.AsyncClient, store: Store
) -> None:
    await make_app(client, "news")
    headers = key_header(await make_key(client, "news", *ROLES))
    assert (await register(client, headers, "first", topics=["sport"])).status_code == 201
    await store.fill(slack=64 * 1024)
    written, refused = await fill_with_registrations(client, store, headers)
    assert_storage_full(refused, "registration")
    await store.fill(slack=0)  # what a smaller write than a burst's group could still use
    before = row_counts(store.path)
    answers = {
        "registration": await register(client, headers, "fill-late-" + "t" * 180),
        "registration with topics": await register(
            client, headers, "fill-late2-" + "t" * 180, topics=["a", "b"]
        ),
        "send": await client.post(SEND, json=big_send(), headers=headers),
    }
    for what, response in answers.items():
        assert_storage_full(response, what)
    await assert_reads_and_health(client, headers)
    assert row_counts(store.path) == before, "a refused write left rows behind"
    refusals = {what: (r.status_code, r.json()["error"]["code"]) for what, r in answers.items()}
    print(f"\nF9 page cap: {written} registrations stored before full; refused: {refusals}")  # noqa: T201

    await store.free()
    statuses = [
        (await register(client, headers, "fill-late-" + "t" * 180)).status_code,
        (await register(client, headers, "late2", topics=["a", "b"])).status_code,
        (await client.post(SEND, json=big_send(), headers=headers)).status_code,
    ]
    print(f"F9 page cap: after deleting the ballast: {statuses}")  # noqa: T201
    assert statuses == [201, 201, 202]
    after = row_counts(store.path)
    assert after["registrations"] == before["registrations"] + 2
    assert after["notifications"] == before["notifications"] + 1
    assert integrity(store.path) == "ok"


async def _user_token(client: httpx.AsyncClient, name: str) -> str:
    created = await client.post("/v1/apps/news/users", json={"name": name}, headers=ADMIN)
    assert created.status_code == 201, created.text
    issued = await client.post(f"/v1/apps/news/users/{name}/tokens", json={}, headers=ADMIN)
    assert issued.status_code == 201, issued.text
    token: str = issued.json()["token"]
    return token


async def _mobilefirst_token(client: httpx.AsyncClient) -> str:
    await make_app(client, MFP_APP)
    client_id, secret = await make_client(client, MFP_APP, EVERY_SCOPE)
    return await token_for(client, client_id, secret, " ".join([*EVERY_SCOPE, MFP_SCOPE]))


@pytest.mark.parametrize("store", ["tmpfs"], indirect=True)
async def test_dialects_answer_a_full_store_in_their_own_shape(
    client: httpx.AsyncClient, store: Store
) -> None:
    app = await make_app(client, "news")
    key = await make_key(client, "news", "push_single", alias="integration")
    alice = await _user_token(client, "alice")
    assert (await register(client, ADMIN, "alice-phone", user="alice")).status_code == 201
    await make_servicenow_app(client)
    mfp = await _mobilefirst_token(client)
    await store.fill(slack=0)
    answers: dict[str, httpx.Response] = {}

    push = filled(CompanyId=app["company_id"], IntegrationKey=key, UserId="alice", Title="t")
    answers["pushapi"] = pushapi = await client.post(PUSHAPI_PATH, json=push)
    assert pushapi.status_code == 503, pushapi.text
    root, body = read_xml(pushapi.content)  # XML unless JSON is asked for
    status = body["ResponseStatus"]
    assert (root, status["ErrorCode"]) == ("ErrorResponse", "StorageFull"), body
    assert status["Message"].startswith("storage full"), body

    answers["servicenow"] = servicenow = await client.post(
        INSTALL_PATH, content=INSTALL_BODY, headers=curl_headers()
    )
    assert servicenow.status_code == 500, servicenow.text  # its document knows only 500
    assert set(servicenow.json()) == {"error", "status"}, servicenow.text
    assert servicenow.json()["error"]["message"] == "Internal Server Error"
    assert servicenow.json()["error"]["detail"].startswith("storage full"), servicenow.text

    device = {"provider": "gcm", "token": "alice-tablet"}
    answers["discord"] = discord = await client.post(
        "/users/@me/devices", json=device, headers={"Authorization": alice}
    )
    assert discord.status_code == 503, discord.text
    assert discord.json() == {"code": 0, "message": "503: Service Unavailable (storage full)"}

    mfp_device = {"deviceId": "d-1", "platform": "A", "token": "mfp-token"}
    answers["mobilefirst"] = mobilefirst = await client.post(
        f"{MFP_V1}/apps/{MFP_APP}/devices",
        json=mfp_device,
        headers={"Authorization": f"Bearer {mfp}"},
    )
    assert mobilefirst.status_code == 500, mobilefirst.text  # its document knows only 500
    assert mobilefirst.json()["code"] == 500
    assert mobilefirst.json()["detail"].startswith("storage full"), mobilefirst.text

    for dialect, response in answers.items():
        assert response.headers["retry-after"] == "30", dialect
    print("\nF9 dialects:", {d: r.status_code for d, r in answers.items()})  # noqa: T201


@pytest.mark.parametrize("store", ["tmpfs"], indirect=True)
async def test_a_result_that_cannot_be_recorded_is_sent_again_after_its_lease(
    client: httpx.AsyncClient, store: Store, runtime: Runtime, gate: Gate, clock: FixedClock
) -> None:
    await make_app(client, "news")
    headers = key_header(await make_key(client, "news", *ROLES))
    assert (await register(client, headers, "device-1")).status_code == 201
    worker = Worker(runtime.engine)
    running = asyncio.create_task(worker.run())
    try:
        gate.opened.clear()
        accepted = await client.post(
            SEND, json={"target": {"app": True}, "notification": {"alert": "x"}}, headers=headers
        )
        assert accepted.status_code == 202, accepted.text
        notification = accepted.json()["id"]
        await asyncio.wait_for(gate.entered.wait(), 10)
        await store.fill(slack=0)  # the disk fills while the provider holds its answer
        gate.opened.set()

        async def result_dropped() -> bool:
            return not worker.in_flight

        await wait_for(result_dropped, what="the batch to fail its record")
        state = (await client.get(f"{SEND}/{notification}", headers=headers)).json()
        assert state["state"] != "done", state
        assert state["counts"]["SENT"] == 0, state
        assert row_counts(store.path)["jobs"] >= 1, "the job was lost"

        await store.free()
        clock.advance(LEASE_S + 1)  # the batch's lease ends: another claim takes it

        async def delivered() -> bool:
            found = await client.get(f"{SEND}/{notification}", headers=headers)
            return bool(found.json()["state"] == "done")

        await wait_for(delivered, what="the notification to be delivered after space came back")
    finally:
        await worker.stop(grace_s=5)
        await running
    final = (await client.get(f"{SEND}/{notification}", headers=headers)).json()
    print(  # noqa: T201 - the test's figures
        f"\nF9 worker: provider sends {gate.sends} (1 unrecorded, then resent); {final['counts']}"
    )
    assert final["counts"]["SENT"] == 1
    assert final["counts"]["ERROR"] == 0
    assert gate.sends == 2  # the unrecorded send is repeated once: at-least-once
    assert integrity(store.path) == "ok"
