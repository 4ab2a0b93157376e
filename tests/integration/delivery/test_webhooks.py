"""Webhooks end to end in one process: events recorded with their change, delivered by the
sender as signed POSTs to a real HTTP receiver, in order, retried with backoff."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.app import build_webhook_sender
from pushgate.delivery.webhook_sender import SenderConfig, WebhookSender
from pushgate.delivery.worker import Worker
from pushgate.http.deps import Runtime
from pushgate.store.uow import unit_of_work
from tests.conftest import FixedClock
from tests.integration.api.helpers import ADMIN
from tests.integration.delivery.conftest import register, send, wait_done, wait_for
from tests.integration.webhook_receiver import Receiver, receiving

pytestmark = pytest.mark.anyio


@pytest.fixture
def queue_settings() -> dict[str, Any]:
    # The receiver listens on loopback: the operator's allow-list admits it.
    return {"endpoint_allow_hosts": ["127.0.0.1"]}


@pytest.fixture
async def sender(runtime: Runtime, clock: FixedClock) -> AsyncIterator[WebhookSender]:
    config = SenderConfig(poll_s=0.02, timeout_s=5.0, allow_hosts=frozenset({"127.0.0.1"}))
    running = build_webhook_sender(
        runtime.settings, runtime.db, runtime.vault, clock=clock, config=config
    )
    task = asyncio.create_task(running.run())
    yield running
    await running.stop()
    await task
    await running.aclose()


async def hook(
    client: httpx.AsyncClient, receiver: Receiver, events: list[str], name: str = "crm"
) -> dict[str, Any]:
    response = await client.post(
        "/v1/apps/news/webhooks",
        json={"name": name, "url": receiver.url, "events": events},
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    receiver.secrets[name] = created["secret"]
    return created


async def deliveries(client: httpx.AsyncClient, name: str = "crm") -> list[dict[str, Any]]:
    response = await client.get(f"/v1/apps/news/webhooks/{name}/deliveries", headers=ADMIN)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_message_events_arrive_signed_and_in_order(
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    worker: Worker,
    sender: WebhookSender,
) -> None:
    async with receiving() as receiver:
        await hook(client, receiver, ["message.accepted", "message.delivered", "message.failed"])
        await register(client, app_key, "tok-1", user="alice")
        first = await send(client, app_key, {"users": ["alice"]})
        second = await send(client, app_key, {"users": ["nobody"]})
        for sent in (first, second):
            await wait_done(client, app_key, sent.json()["id"])

        async def four() -> bool:
            return len(receiver.events()) == 4

        await wait_for(four, what="four webhook deliveries")
    assert all(receiver.signed_correctly(r) for r in receiver.requests)
    events = receiver.events()
    # One line per webhook: the events come in the order they were recorded.
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    by_notification = {(e["subject"], e["kind"]) for e in events}
    assert by_notification == {
        (first.json()["id"], "message.accepted"),
        (first.json()["id"], "message.delivered"),
        (second.json()["id"], "message.accepted"),
        (second.json()["id"], "message.failed"),
    }
    delivered = next(e for e in events if e["kind"] == "message.delivered")
    assert delivered["app"] == "news"
    assert delivered["data"] == {
        "notification_id": first.json()["id"],
        "target": "users",
        "targeted": 1,
        "reached": 1,
        "errors": 0,
    }
    request = receiver.requests[0]
    assert request.method == "POST"
    assert request.header("content-type") == "application/json"
    assert request.header("x-pushgate-event-id") == str(events[0]["id"])
    assert request.header("x-pushgate-event") == events[0]["kind"]

    async def recorded() -> bool:  # the receiver answered; the sender records it next
        return all(d["status"] == "delivered" for d in await deliveries(client))

    await wait_for(recorded, what="the deliveries recorded")
    assert [d["attempts"] for d in await deliveries(client)] == [1, 1, 1, 1]


async def test_a_failed_attempt_is_retried_after_the_backoff(
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    clock: FixedClock,
    worker: Worker,
    sender: WebhookSender,
) -> None:
    async with receiving(fail_first=1) as receiver:
        await hook(client, receiver, ["message.accepted"])
        await register(client, app_key, "tok-1", user="alice")
        await send(client, app_key, {"users": ["alice"]})

        async def failed_once() -> bool:
            found = await deliveries(client)
            return bool(found) and found[0]["attempts"] == 1

        await wait_for(failed_once, what="the first, failed attempt")
        (pending,) = await deliveries(client)
        assert pending["status"] == "pending"
        assert pending["last_status"] == 500
        assert pending["last_error"] == "HTTP 500"
        webhook = (await client.get("/v1/apps/news/webhooks/crm", headers=ADMIN)).json()
        assert webhook["pending"] == 1
        assert webhook["next_attempt_at"] is not None
        assert len(receiver.requests) == 1  # nothing before the backoff's end
        clock.advance(1)  # the first retry comes 1 s after the first failure

        async def delivered() -> bool:
            return bool((await deliveries(client))[0]["status"] == "delivered")

        await wait_for(delivered, what="the retry")
    (done,) = await deliveries(client)
    assert done["attempts"] == 2
    assert done["last_status"] == 204
    first, retry = receiver.requests
    assert first.body == retry.body  # the same event, the same id
    assert all(receiver.signed_correctly(r) for r in receiver.requests)


async def test_device_events_only_while_a_webhook_wants_them(
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    worker: Worker,
    sender: WebhookSender,
) -> None:
    quiet = await register(client, app_key, "tok-before")  # no webhook yet: no event
    async with receiving() as receiver:
        await hook(
            client,
            receiver,
            ["device.registered", "device.deleted", "device.token_invalidated"],
        )
        fresh = await register(client, app_key, "tok-fresh", user="bob", device_id="d-1")
        dead = await register(client, app_key, "dead-token", user="bob")
        deleted = await client.delete(f"/v1/apps/news/registrations/{quiet}", headers=app_key)
        assert deleted.status_code == 204
        sent = await send(client, app_key, {"users": ["bob"]})
        await wait_done(client, app_key, sent.json()["id"])

        async def four() -> bool:
            return len(receiver.events()) == 4

        await wait_for(four, what="the device events")
    events = receiver.events()
    assert [(e["kind"], e["subject"]) for e in events] == [
        ("device.registered", fresh),
        ("device.registered", dead),
        ("device.deleted", quiet),
        ("device.token_invalidated", dead),
    ]
    assert events[0]["data"] == {
        "registration_id": fresh,
        "device_id": "d-1",
        "platform": "apns",
        "user": "bob",
        "active": True,
    }
    assert "token" not in events[0]["data"]
    assert events[3]["data"]["active"] is False
    assert events[3]["data"]["reason"]
    log = await client.get("/v1/apps/news/events?kind=device.registered", headers=ADMIN)
    assert [e["subject"] for e in log.json()["items"]] == [fresh, dead]


async def test_a_line_held_by_a_dead_sender_is_taken_over_after_its_lease(
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    runtime: Runtime,
    clock: FixedClock,
) -> None:
    """The state is in the database: a sender that died holding a webhook's lease (a crash,
    a restart) delays its line until the lease ends; then any sender delivers it."""
    config = SenderConfig(allow_hosts=frozenset({"127.0.0.1"}), lease_s=30)
    fresh = build_webhook_sender(
        runtime.settings, runtime.db, runtime.vault, clock=clock, config=config
    )
    async with receiving() as receiver:
        await hook(client, receiver, ["device.registered"])
        await register(client, app_key, "tok-1")
        async with unit_of_work(runtime.db) as uow:
            (webhook_id,) = await uow.webhooks.due(clock(), 10)
            until = clock() + timedelta(seconds=30)
            assert await uow.webhooks.claim(webhook_id, "dead-process", clock(), until)
        assert await fresh.run_once() == 0  # still leased by the dead one
        clock.advance(31)
        assert await fresh.run_once() == 1
        await fresh.aclose()
    assert receiver.kinds() == ["device.registered"]
    (delivery,) = await deliveries(client)
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 1)


async def test_a_suspect_credential_reaches_the_webhooks(
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    worker: Worker,
    sender: WebhookSender,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    credential = {
        "key_id": "ABC123DEFG",
        "team_id": "TEAM123456",
        "key": key.decode(),
        "topic": "t",
    }
    put = await client.put("/v1/apps/news/credentials/apns", json=credential, headers=ADMIN)
    assert put.status_code == 200, put.text
    async with receiving() as receiver:
        await hook(client, receiver, ["credential.suspect", "device.token_invalidated"])
        for i in range(25):
            await register(client, app_key, f"bad-{i}", user="u")
        await send(client, app_key, {"users": ["u"]})

        async def suspect() -> bool:
            return receiver.kinds() == ["credential.suspect"]

        await wait_for(suspect, what="the credential.suspect event")
    (event,) = receiver.events()
    assert event["subject"] == "apns"
    assert "sandbox/production" in event["data"]["reason"]
    assert receiver.signed_correctly(receiver.requests[0])
