"""reliability.md S5: canary secrets through a DEBUG run show up nowhere.

Secrets of every kind are planted in one in-process run with logging at DEBUG (captured):
provider credentials of all five providers (an APNs .p8 key and an APNs certificate's
password-protected key, an FCM service account's private key, a VAPID private key, a WNS
client secret, an SMS gateway's auth token and bearer token), API keys, an OAuth client's
secret and the access tokens issued, an app user's password and token, the app's user-token
secret and webhook signing secrets; and wrong ones sent in refused requests. Notifications
are delivered through the real adapters to the fake providers (so the keys sign and
authenticate over the wire) and events reach a webhook receiver. Then each canary, and the
base64 lines of each key's PEM, must have zero hits in: the log, /metrics, /openapi.json and
the API documents, the error answers, the webhook requests, every GET route of every front
door and every console page, and the SQLite file with its WAL (secrets are sealed or hashed).

Key rotation: pushgate has no command that rotates the master key (PUSHGATE_MASTER_KEY seals
every stored secret, services/vault.py; a new key cannot open them): not tested, reported.
The rotations it has are tested: a webhook's signing secret (later requests verify with the
new secret only) and an API key (a new key works, the revoked one is 401).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from cryptography.fernet import Fernet
from pydantic import SecretStr

from pushgate.app import build_runtime, build_webhook_sender
from pushgate.delivery.engine import DeliveryConfig
from pushgate.delivery.webhook_sender import SenderConfig
from pushgate.delivery.worker import Worker
from pushgate.domain.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from pushgate.fakes.deployment import FakeDeployment
from pushgate.fakes.http_server import FakeRequest
from pushgate.http.deps import Runtime
from pushgate.store.engine import Database
from pushgate.telemetry import ACCESS, configure_logging
from tests.conftest import make_settings, shared_app, wait_for
from tests.e2e.server import free_port
from tests.integration.api.canaries import (
    Canaries,
    Planted,
    ok,
    plant,
    read_everything,
    refused_requests,
)
from tests.integration.webhook_receiver import Receiver, receiving

pytestmark = pytest.mark.anyio


@contextmanager
def debug_log(capsys: pytest.CaptureFixture[str], fakes_thread: int) -> Iterator[list[str]]:
    """pushgate's logging at DEBUG, JSON lines on the captured stderr; restored afterwards.

    What the fake providers log is left out: they stand in for Apple's and Google's servers
    (their HTTP/2 stack logs the request headers it decodes, bearer tokens included) and run
    on a thread of their own. Entered inside the test (not a fixture), so the handlers pytest
    attached for this phase are the ones put back, and pytest removes them itself.
    """
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, structlog.get_config())
    access = (ACCESS.enabled, ACCESS._json_lines)
    quieted = {
        name: logging.getLogger(name).level for name in ("aiosqlite", "alembic.runtime.plugins")
    }
    captured: list[str] = []
    configure_logging("DEBUG", "json")
    root.handlers[0].addFilter(lambda record: record.thread != fakes_thread)
    try:
        yield captured
    finally:
        captured.append(capsys.readouterr().err)
        root.handlers, level, config = saved
        root.setLevel(level)
        structlog.configure(**config)
        ACCESS.configure(enabled=access[0], json_lines=access[1])
        for name, quiet in quieted.items():
            logging.getLogger(name).setLevel(quiet)


MASTER_KEY = Fernet.generate_key().decode()


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the database file's bytes are read below


@dataclass
class FakesThread:
    fakes: FakeDeployment
    thread: int


@pytest.fixture
def fakes_thread(tmp_path: Path) -> Iterator[FakesThread]:
    """Every fake provider, on an event loop of its own in another thread (see debug_log)."""
    ready = threading.Event()
    running: dict[str, Any] = {}

    async def serve() -> None:
        running["loop"], running["stop"] = asyncio.get_running_loop(), asyncio.Event()
        try:
            async with FakeDeployment(tmp_path / "fakes", control_port=free_port()) as fakes:
                running["fakes"] = fakes
                ready.set()
                await running["stop"].wait()
        finally:
            ready.set()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), name="fakes", daemon=True)
    thread.start()
    assert ready.wait(timeout=60), "the fakes did not start in 60 s"
    assert "fakes" in running, "the fakes did not start"
    assert thread.ident is not None
    yield FakesThread(running["fakes"], thread.ident)
    running["loop"].call_soon_threadsafe(running["stop"].set)
    thread.join(timeout=30)
    assert not thread.is_alive(), "the fakes did not stop"


@pytest.fixture
def fakes(fakes_thread: FakesThread) -> FakeDeployment:
    return fakes_thread.fakes


@pytest.fixture
async def canary_runtime(
    database: Database, tmp_path: Path, fakes: FakeDeployment
) -> AsyncIterator[Runtime]:
    endpoints = fakes.endpoints()
    settings = make_settings(
        tmp_path,
        master_key=SecretStr(MASTER_KEY),
        provider_ca_file=endpoints.ca_file,
        provider_endpoints=endpoints.provider_endpoints(),
        endpoint_allow_private=True,  # the fakes and the webhook receiver are on loopback
    )
    config = DeliveryConfig(poll_s=0.25, lease_s=5.0, send_timeout_s=5.0, inline_deadline_s=10.0)
    built, _ = await build_runtime(settings, db=database, delivery=config)
    yield built
    await built.engine.aclose()
    await built.limits.aclose()


@asynccontextmanager
async def delivering(runtime: Runtime) -> AsyncIterator[None]:
    """The delivery worker and the webhook sender of the runtime, running."""
    worker = Worker(runtime.engine)
    config = SenderConfig(poll_s=0.05, timeout_s=5.0, allow_private=True)
    hooks = build_webhook_sender(runtime.settings, runtime.db, runtime.vault, config=config)
    tasks = [asyncio.create_task(worker.run()), asyncio.create_task(hooks.run())]
    try:
        yield
    finally:
        await worker.stop(grace_s=5)
        await hooks.stop()
        await asyncio.gather(*tasks)
        await hooks.aclose()


def signed_by(secret: str, request: FakeRequest) -> bool:
    timestamp = int(request.header(TIMESTAMP_HEADER) or "0")
    return verify(secret, timestamp, request.body, request.header(SIGNATURE_HEADER) or "")


async def settled(client: httpx.AsyncClient, receiver: Receiver) -> None:
    """Every webhook delivery recorded so far was answered by the receiver."""

    async def all_delivered() -> bool:
        items = (await ok(client, "GET", "/v1/apps/shop/webhooks/crm/deliveries"))["items"]
        return bool(items) and all(d["status"] == "delivered" for d in items)

    await wait_for(all_delivered, what="the webhook deliveries")


async def rotate_webhook_secret(
    client: httpx.AsyncClient, receiver: Receiver, c: Canaries
) -> tuple[int, int]:
    """The secret rotated, then an event: (requests signed by the new secret, by the old)."""
    await settled(client, receiver)
    old, before = receiver.secrets["crm"], len(receiver.requests)
    rotated = await ok(client, "PATCH", "/v1/apps/shop/webhooks/crm", json={"rotate_secret": True})
    new = c.add("rotated webhook secret", rotated["secret"])
    assert new != old
    device = {"platform": "android", "token": "fcm-after-rotation", "user": "alice"}
    created = await ok(client, "POST", "/v1/apps/shop/registrations", json=device)

    async def arrived() -> bool:
        return any(created["id"].encode() in r.body for r in receiver.requests[before:])

    await wait_for(arrived, what="the event after the rotation")
    later = receiver.requests[before:]
    return sum(signed_by(new, r) for r in later), sum(signed_by(old, r) for r in later)


async def rotate_api_key(client: httpx.AsyncClient, old: str, c: Canaries) -> tuple[int, int]:
    """A new key created and the old one revoked: (the new key's status, the old key's)."""
    body = {"alias": "ops2", "roles": ["app_admin"]}
    new = c.add(
        "rotated app key", (await ok(client, "POST", "/v1/apps/shop/keys", json=body))["key"]
    )
    await ok(client, "DELETE", "/v1/apps/shop/keys/ops")
    by_new = await client.get("/v1/apps/shop", headers={"X-API-Key": new})
    by_old = await client.get("/v1/apps/shop", headers={"X-API-Key": old})
    return by_new.status_code, by_old.status_code


async def refusals(client: httpx.AsyncClient, c: Canaries, planted: Planted) -> dict[str, str]:
    """Where -> the answer of each bad request carrying a canary; each must be a 4xx."""
    answers: dict[str, str] = {}
    for method, path, options in refused_requests(c, planted):
        response = await client.request(method, path, **options)
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
        where = f"{method} {path} refused {response.status_code}"
        answers[where] = response.text + str(response.headers)
    return answers


async def test_no_canary_reaches_a_log_answer_document_webhook_or_the_database_file(
    canary_runtime: Runtime,
    fakes_thread: FakesThread,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fakes = fakes_thread.fakes
    app = shared_app(canary_runtime)
    transport = httpx.ASGITransport(app=app)
    places: dict[str, str] = {}
    with debug_log(capsys, fakes_thread.thread) as log:
        async with (
            receiving() as receiver,
            delivering(canary_runtime),
            httpx.AsyncClient(transport=transport, base_url="http://pushgate.test") as client,
        ):
            planted = await plant(client, fakes, receiver)
            c = planted.canaries
            c.add("master key", MASTER_KEY)

            async def done() -> bool:
                found = await ok(
                    client, "GET", f"/v1/apps/shop/notifications/{planted.notification_id}"
                )
                return bool(found["state"] == "done")

            await wait_for(done, what="the notification to every provider")
            state = await ok(
                client, "GET", f"/v1/apps/shop/notifications/{planted.notification_id}"
            )
            issued = [*fakes.wns.issued_tokens(), *fakes.fcm.tokens._tokens]
            c.items.update({f"provider access token {i}": t for i, t in enumerate(issued)})
            by_new, by_old = await rotate_webhook_secret(client, receiver, c)
            places.update(await refusals(client, c, planted))
            places.update(await read_everything(client, app, planted))
            new_key_status, old_key_status = await rotate_api_key(client, planted.app_key, c)
            await settled(client, receiver)
        for number, request in enumerate(receiver.requests):
            places[f"webhook request {number}"] = request.body.decode() + str(request.headers)
    text = "".join(log)
    database = b"".join(
        path.read_bytes()
        for path in (tmp_path / "pushgate.db", tmp_path / "pushgate.db-wal")
        if path.exists()
    )
    leaks = {where: c.found_in(seen) for where, seen in places.items() if c.found_in(seen)}
    in_log = c.found_in(text) + c.private_in(text)
    in_database = c.found_in(database)
    figures = [
        f"canaries {len(c.items)} secrets, {len(c.private)} private (logs only)",
        f"places read {len(places)} (webhook requests {len(receiver.requests)})",
        f"log {len(text.splitlines())} lines, database {len(database)} bytes",
        f"notification counts {state['counts']}",
        f"webhook requests after the rotation signed by the new secret {by_new}, old {by_old}",
        f"rotated key {new_key_status}, revoked key {old_key_status}",
        f"hits: answers {len(leaks)}, log {len(in_log)}, database {len(in_database)}",
    ]
    print("; ".join(figures))  # noqa: T201 - the test's figures
    assert state["counts"].get("SENT") == 5, state  # every provider's credential was used
    # The searches can find what is there: the log holds the run's ids, the database file the
    # device tokens (stored as they are, by design), and the log is pushgate's at DEBUG.
    assert planted.notification_id in text, text[-2000:]
    assert c.private["APNs device token"].encode() in database
    assert '"level": "debug"' in text, text[-2000:]
    assert "pushgate.access" in text, text[-2000:]
    read = {k for k in places if k.endswith(": 200")}
    for route in ("/metrics", "/openapi.json", "/v1/apps/certs/credentials/apns",
                  "/imfpush/v1/apps/shop/settings", "/users/@me/devices/sync-token"):  # fmt: skip
        assert f"GET {route}: 200" in read, sorted(places)
    assert any(k.startswith("console GET /console/apps/shop:") for k in places)
    assert not leaks, leaks
    assert not in_log, [
        line[:300] for line in text.splitlines() if c.found_in(line) or c.private_in(line)
    ]
    assert not in_database, in_database
    assert by_new >= 1, (by_new, by_old)
    assert by_old == 0, (by_new, by_old)
    assert (new_key_status, old_key_status) == (200, 401)
