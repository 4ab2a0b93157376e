"""MobileFirst webhooks: created with the seed's example, delivered as signed POSTs to a real
receiver for device and message events, changed, deleted; the SSRF guard on their URL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pushgate.app import build_webhook_sender
from pushgate.delivery.webhook_sender import SenderConfig, WebhookSender
from pushgate.delivery.worker import Worker
from pushgate.http.deps import Runtime
from tests.conftest import FixedClock
from tests.integration.delivery.conftest import wait_for
from tests.integration.dialects.mobilefirst.conftest import APP, MobileFirst
from tests.integration.webhook_receiver import receiving

pytestmark = pytest.mark.anyio
HOOKS = f"/apps/{APP}/webhooks"


@pytest.fixture
def queue_settings() -> dict[str, Any]:
    return {"endpoint_allow_hosts": ["127.0.0.1"]}


@pytest.fixture
async def sender(runtime: Runtime, clock: FixedClock) -> AsyncIterator[WebhookSender]:
    config = SenderConfig(poll_s=0.02, allow_hosts=frozenset({"127.0.0.1"}))
    running = build_webhook_sender(
        runtime.settings, runtime.db, runtime.vault, clock=clock, config=config
    )
    task = asyncio.create_task(running.run())
    yield running
    await running.stop()
    await task
    await running.aclose()


async def test_device_and_message_events_reach_the_webhook_signed(
    mfp: MobileFirst, worker: Worker, sender: WebhookSender
) -> None:
    async with receiving() as receiver:
        created = await mfp.call(
            "POST",
            HOOKS,
            {
                "eventTypes": "onDeviceRegister,onDeviceUpdate,onDeviceUnregister,onSubscribe,"
                "onUnsubscribe,message.delivered",
                "name": "SampleWebhook",
                "url": receiver.url,
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["eventTypes"] == (
            "onDeviceRegister,onDeviceUpdate,onDeviceUnregister,onSubscribe,onUnsubscribe,"
            "message.delivered"
        )
        receiver.secrets["SampleWebhook"] = created.json()["secret"]
        device = {"deviceId": "d-1", "platform": "G", "token": "fcm-1", "userId": "u"}
        assert (await mfp.call("POST", f"/apps/{APP}/devices", device)).status_code == 201
        assert (
            await mfp.call("PUT", f"/apps/{APP}/devices/d-1", {"userId": "v"})
        ).status_code == 200
        subscribed = await mfp.call(
            "POST", f"/apps/{APP}/subscriptions", {"deviceId": "d-1", "tagName": "news"}
        )
        sub_id = subscribed.json()["subscriptionId"]
        assert (await mfp.call("DELETE", f"/apps/{APP}/subscriptions/{sub_id}")).status_code == 204
        sent = await mfp.call(
            "POST",
            f"/apps/{APP}/messages",
            {"message": {"alert": "hi"}, "target": {"deviceIds": ["d-1"]}},
        )
        assert sent.status_code == 202
        assert (await mfp.call("DELETE", f"/apps/{APP}/devices/d-1")).status_code == 204

        async def all_six() -> bool:
            return len(receiver.events()) == 6

        await wait_for(all_six, what="six webhook events")
    assert [e["kind"] for e in receiver.events()] == [
        "device.registered",
        "device.updated",
        "device.subscribed",
        "device.unsubscribed",
        "message.delivered",
        "device.deleted",
    ]
    assert all(receiver.signed_correctly(r) for r in receiver.requests)
    assert receiver.events()[2]["data"]["topic"] == "news"
    assert receiver.events()[4]["data"]["notification_id"] == sent.json()["messageId"]


async def test_webhooks_are_changed_listed_and_deleted(mfp: MobileFirst) -> None:
    body = {"name": "hook", "url": "https://93.184.215.14/a", "eventTypes": ["onDeviceRegister"]}
    assert (await mfp.call("POST", HOOKS, body)).status_code == 201
    assert (await mfp.call("POST", HOOKS, body)).status_code == 409
    changed = await mfp.call("PUT", HOOKS, {"name": "hook", "eventTypes": "ALL"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["eventTypes"] == "ALL"
    assert "secret" not in changed.json()
    by_path = await mfp.call(
        "PUT", f"{HOOKS}/hook", {"url": "https://93.184.215.14/b", "rotateSecret": True}
    )
    assert by_path.json()["url"] == "https://93.184.215.14/b"
    assert by_path.json()["secret"].startswith("pgw_")
    listed = await mfp.call("GET", HOOKS)
    assert [w["name"] for w in listed.json()["webhooks"]] == ["hook"]
    assert (await mfp.call("PUT", f"{HOOKS}/nope", {"eventTypes": "ALL"})).status_code == 404
    assert (await mfp.call("DELETE", f"{HOOKS}/hook")).status_code == 204
    assert (await mfp.call("DELETE", f"{HOOKS}/hook")).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "h", "url": "http://10.0.0.8/x", "eventTypes": "ALL"}, "url"),
        ({"name": "h", "url": "http://169.254.169.254/", "eventTypes": "ALL"}, "url"),
        ({"name": "h", "url": "https://93.184.215.14/", "eventTypes": "onNothing"}, "eventTypes"),
        ({"name": "h", "url": "https://93.184.215.14/"}, "eventTypes"),
    ],
)
async def test_refused_webhooks_name_the_field(
    mfp: MobileFirst, body: dict[str, Any], field: str
) -> None:
    response = await mfp.call("POST", HOOKS, body)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
