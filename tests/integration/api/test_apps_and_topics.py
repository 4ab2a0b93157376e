"""Apps and topics through the API."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.api.helpers import ADMIN, key_header, make_app, make_key

pytestmark = pytest.mark.anyio


async def test_app_lifecycle(client: httpx.AsyncClient) -> None:
    created = await make_app(client, "com.example.news")
    assert isinstance(created["company_id"], int)
    other = await make_app(client, "shop")
    assert other["company_id"] != created["company_id"]
    duplicate = await client.post("/v1/apps", json={"name": "shop"}, headers=ADMIN)
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["field"] == "name"
    bad = await client.post("/v1/apps", json={"name": "../etc"}, headers=ADMIN)
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "name"
    patched = await client.patch("/v1/apps/shop", json={"description": "the shop"}, headers=ADMIN)
    assert patched.json()["description"] == "the shop"
    renamed = await client.patch("/v1/apps/shop", json={"name": "store"}, headers=ADMIN)
    assert renamed.json()["name"] == "store"
    assert (await client.get("/v1/apps/shop", headers=ADMIN)).status_code == 404
    page = (await client.get("/v1/apps", params={"limit": 1}, headers=ADMIN)).json()
    assert [a["name"] for a in page["items"]] == ["com.example.news"]
    rest = await client.get("/v1/apps", params={"cursor": page["next_cursor"]}, headers=ADMIN)
    assert [a["name"] for a in rest.json()["items"]] == ["store"]


async def test_deleting_an_app_deletes_what_it_owns(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    key = await make_key(client, "news", "app_admin")
    reg = await client.post(
        "/v1/apps/news/registrations",
        json={"platform": "fcm", "token": "t", "topics": ["x"]},
        headers=key_header(key),
    )
    assert reg.status_code == 201
    assert (await client.delete("/v1/apps/news", headers=ADMIN)).status_code == 204
    assert (await client.get("/v1/apps/news", headers=ADMIN)).status_code == 404
    # Its keys died with it.
    assert (await client.get("/v1/apps", headers=key_header(key))).status_code == 401
    await make_app(client, "news")
    listed = await client.get("/v1/apps/news/registrations", headers=ADMIN)
    assert listed.json()["items"] == []


async def test_topic_lifecycle(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    key = key_header(
        await make_key(client, "news", "registrations_write", "pushregistrations_read")
    )
    created = await client.post(
        "/v1/apps/news/topics", json={"name": "sport", "description": "Sport news"}, headers=key
    )
    assert created.status_code == 201
    assert created.json()["subscribers"] == 0
    assert (
        await client.post("/v1/apps/news/topics", json={"name": "sport"}, headers=key)
    ).status_code == 409
    await client.post(
        "/v1/apps/news/registrations",
        json={"platform": "fcm", "token": "t", "topics": ["sport"]},
        headers=key,
    )
    got = await client.get("/v1/apps/news/topics/sport", headers=key)
    assert (got.json()["description"], got.json()["subscribers"]) == ("Sport news", 1)
    patched = await client.patch(
        "/v1/apps/news/topics/sport", json={"description": "All"}, headers=key
    )
    assert patched.json()["description"] == "All"
    assert (await client.delete("/v1/apps/news/topics/sport", headers=key)).status_code == 204
    assert (await client.get("/v1/apps/news/topics/sport", headers=key)).status_code == 404
    regs = await client.get("/v1/apps/news/registrations", headers=key)
    assert [r["topics"] for r in regs.json()["items"]] == [[]]  # the registration stays
