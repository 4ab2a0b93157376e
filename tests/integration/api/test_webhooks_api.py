"""The native webhook resource: create (secret shown once), read, change, rotate, delete; the
SSRF guard on the URL; the kinds; and the events a change records for the webhooks."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from pushgate.app import build_runtime, create_app
from pushgate.store.engine import Database
from tests.conftest import make_settings
from tests.integration.api.helpers import ADMIN, make_app, make_key

pytestmark = pytest.mark.anyio
HOOK = "https://93.184.215.14/hooks"  # a public address literal: the guard needs no DNS


async def create(client: httpx.AsyncClient, **fields: object) -> httpx.Response:
    body = {"name": "crm", "url": HOOK, "events": ["message.delivered"], **fields}
    return await client.post("/v1/apps/news/webhooks", json=body, headers=ADMIN)


async def test_a_webhook_is_created_read_changed_and_deleted(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    created = await create(client, events=["message.delivered", "device.registered"])
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("pgw_")
    assert body["events"] == ["message.delivered", "device.registered"]
    assert body["pending"] == 0
    assert body["next_attempt_at"] is None
    read = await client.get("/v1/apps/news/webhooks/crm", headers=ADMIN)
    assert read.status_code == 200
    assert "secret" not in read.json()
    assert body["secret"] not in read.text
    listed = await client.get("/v1/apps/news/webhooks", headers=ADMIN)
    assert [w["name"] for w in listed.json()["items"]] == ["crm"]

    changed = await client.patch(
        "/v1/apps/news/webhooks/crm", json={"events": ["*"], "url": HOOK + "/v2"}, headers=ADMIN
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["events"] == ["*"]
    assert changed.json()["url"] == HOOK + "/v2"
    assert changed.json()["secret"] is None  # not rotated: nothing to show
    rotated = await client.patch(
        "/v1/apps/news/webhooks/crm", json={"rotate_secret": True}, headers=ADMIN
    )
    assert rotated.json()["secret"].startswith("pgw_")
    assert rotated.json()["secret"] != body["secret"]

    deleted = await client.delete("/v1/apps/news/webhooks/crm", headers=ADMIN)
    assert deleted.status_code == 204
    gone = await client.get("/v1/apps/news/webhooks/crm", headers=ADMIN)
    assert gone.status_code == 404
    assert gone.json()["error"]["field"] == "name"


async def test_names_are_unique_per_app_and_kinds_must_exist(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    assert (await create(client)).status_code == 201
    again = await create(client)
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "name"
    unknown = await create(client, name="other", events=["message.exploded"])
    assert unknown.status_code == 400
    assert unknown.json()["error"]["field"] == "events"
    bad_name = await create(client, name="../etc")
    assert bad_name.status_code == 400
    assert bad_name.json()["error"]["field"] == "name"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",  # loopback
        "https://10.1.2.3/hook",  # private
        "http://169.254.169.254/latest/meta-data",  # cloud metadata
        "https://[::1]/hook",
        "ftp://93.184.215.14/hook",  # not http(s)
        "https://user:pw@93.184.215.14/hook",  # credentials in the URL
        "hooks.example.com/x",  # no scheme
    ],
)
async def test_the_ssrf_guard_refuses_urls_a_worker_must_not_call(
    client: httpx.AsyncClient, url: str
) -> None:
    await make_app(client, "news")
    refused = await create(client, url=url)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["field"] == "url"
    changed = await client.patch("/v1/apps/news/webhooks/crm", json={"url": url}, headers=ADMIN)
    assert changed.status_code in (400, 404)


async def test_the_allow_list_admits_a_loopback_receiver(
    database: Database, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, endpoint_allow_hosts=["127.0.0.1"])
    runtime, _ = await build_runtime(settings, db=database)
    transport = httpx.ASGITransport(app=create_app(settings, runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://pushgate.test") as client:
        await make_app(client, "news")
        admitted = await create(client, url="http://127.0.0.1:9/hook")
        assert admitted.status_code == 201, admitted.text
        still_refused = await create(client, name="other", url="http://10.0.0.1/hook")
        assert still_refused.status_code == 400


async def test_webhooks_need_the_app_admin_role(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    sender = {"X-API-Key": await make_key(client, "news", "push_all", "registrations_write")}
    refused = await client.get("/v1/apps/news/webhooks", headers=sender)
    assert refused.status_code == 403
    admin = {"X-API-Key": await make_key(client, "news", "app_admin", alias="admin")}
    assert (await client.get("/v1/apps/news/webhooks", headers=admin)).status_code == 200


async def test_deliveries_are_listed_with_their_event(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    assert (await create(client, events=["device.registered", "device.deleted"])).status_code
    key = {"X-API-Key": await make_key(client, "news", "registrations_write")}
    registered = await client.post(
        "/v1/apps/news/registrations", json={"platform": "fcm", "token": "t-1"}, headers=key
    )
    assert registered.status_code == 201
    registration = registered.json()["id"]
    deleted = await client.delete(f"/v1/apps/news/registrations/{registration}", headers=key)
    assert deleted.status_code == 204
    listed = await client.get("/v1/apps/news/webhooks/crm/deliveries", headers=ADMIN)
    items = listed.json()["items"]
    assert [(d["event"], d["status"], d["attempts"]) for d in items] == [
        ("device.deleted", "pending", 0),  # newest first; no sender runs here
        ("device.registered", "pending", 0),
    ]
    only = await client.get("/v1/apps/news/webhooks/crm/deliveries?status=delivered", headers=ADMIN)
    assert only.json()["items"] == []
    assert (await client.get("/v1/apps/news/webhooks/crm", headers=ADMIN)).json()["pending"] == 2
    events = await client.get("/v1/apps/news/events", headers=ADMIN)
    kinds = [e["kind"] for e in events.json()["items"]]
    assert kinds == ["device.registered", "device.deleted"]


@pytest.mark.parametrize("url", ["http://[::1", "https://[nonsense]/x", "http://host:99999/"])
async def test_a_malformed_url_is_400_not_500(client: httpx.AsyncClient, url: str) -> None:
    await make_app(client, "news")
    refused = await create(client, url=url)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["field"] == "url"
