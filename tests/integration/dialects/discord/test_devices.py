"""Register and unregister devices as the signed-in user, with the seed's field names."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest

from tests.integration.api.helpers import ADMIN
from tests.integration.dialects.discord.conftest import Users

pytestmark = pytest.mark.anyio

DEVICES = "/users/@me/devices"


def auth(token: str) -> dict[str, str]:
    """Discord clients send the bare token."""
    return {"Authorization": token}


async def registrations(client: httpx.AsyncClient, **query: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/apps/news/registrations", params=query, headers=ADMIN)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def summary(items: list[dict[str, Any]]) -> list[tuple[str, str, bool, str | None]]:
    return sorted((r["platform"], r["token"], r["sandbox"], r["user"]) for r in items)


@pytest.mark.parametrize(
    ("provider", "platform", "sandbox"),
    [
        ("gcm", "fcm", False),
        ("apns", "apns", False),
        ("apns_internal", "apns", True),
        ("apns_voip", "apns_voip", False),
        ("apns_internal_voip", "apns_voip", True),
    ],
)
async def test_each_provider_maps_to_its_platform_and_environment(
    client: httpx.AsyncClient, users: Users, provider: str, platform: str, sandbox: bool
) -> None:
    response = await client.post(
        DEVICES, json={"provider": provider, "token": "a1b2c3d4"}, headers=auth(users.alice)
    )
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert summary(await registrations(client)) == [(platform, "a1b2c3d4", sandbox, "alice")]


async def test_the_voip_token_is_a_second_registration_of_the_device(
    client: httpx.AsyncClient, users: Users
) -> None:
    body = {
        "provider": "apns_internal",
        "token": "a1b2c3d4",
        "voip_provider": "apns_internal_voip",
        "voip_token": "e5f6a7b8",
    }
    response = await client.post(DEVICES, json=body, headers=auth(users.alice))
    assert response.status_code == 204, response.text
    assert summary(await registrations(client)) == [
        ("apns", "a1b2c3d4", True, "alice"),
        ("apns_voip", "e5f6a7b8", True, "alice"),
    ]


async def test_bearer_tokens_and_app_signed_jwts_sign_in_too(
    client: httpx.AsyncClient, users: Users
) -> None:
    bearer = {"Authorization": f"Bearer {users.bob}"}
    assert (
        await client.post(DEVICES, json={"provider": "gcm", "token": "fcm-1"}, headers=bearer)
    ).status_code == 204
    rotated = await client.post("/v1/apps/news/user-token-secret", json={}, headers=ADMIN)
    secret = rotated.json()["secret"]
    signed = jwt.encode(
        {"app": "news", "sub": "carol", "exp": int(time.time()) + 300}, secret, algorithm="HS256"
    )
    assert (
        await client.post(DEVICES, json={"provider": "gcm", "token": "fcm-2"}, headers=auth(signed))
    ).status_code == 204
    found = summary(await registrations(client))
    assert found == [("fcm", "fcm-1", False, "bob"), ("fcm", "fcm-2", False, "carol")]


async def test_registering_again_moves_the_token_and_names_its_environment(
    client: httpx.AsyncClient, users: Users
) -> None:
    sandbox = {"provider": "apns_internal", "token": "a1b2c3d4"}
    assert (await client.post(DEVICES, json=sandbox, headers=auth(users.alice))).status_code == 204
    production = {"provider": "apns", "token": "a1b2c3d4", "unknown": "ignored, as Discord"}
    assert (await client.post(DEVICES, json=production, headers=auth(users.bob))).status_code == 204
    assert summary(await registrations(client)) == [("apns", "a1b2c3d4", False, "bob")]


async def test_unregister_removes_only_the_users_own_registration(
    client: httpx.AsyncClient, users: Users
) -> None:
    device = {"provider": "gcm", "token": "fcm-1"}
    assert (await client.post(DEVICES, json=device, headers=auth(users.alice))).status_code == 204
    # Another user's token, and a token never registered: 204 as Discord, nothing changes.
    for headers, body in (
        (auth(users.bob), device),
        (auth(users.alice), {"provider": "gcm", "token": "never-registered"}),
        (auth(users.alice), {"provider": "apns", "token": "fcm-1"}),  # another platform
    ):
        response = await client.request("DELETE", DEVICES, json=body, headers=headers)
        assert response.status_code == 204, response.text
        assert len(await registrations(client)) == 1
    response = await client.request("DELETE", DEVICES, json=device, headers=auth(users.alice))
    assert (response.status_code, response.content) == (204, b"")
    assert await registrations(client) == []


@pytest.mark.parametrize("base", ["/api", "/api/v9", "/api/v10"])
async def test_the_paths_answer_under_discords_api_base_too(
    client: httpx.AsyncClient, users: Users, base: str
) -> None:
    device = {"provider": "gcm", "token": "fcm-1"}
    headers = auth(users.alice)
    assert (await client.post(base + DEVICES, json=device, headers=headers)).status_code == 204
    assert len(await registrations(client)) == 1
    got = await client.get(base + DEVICES + "/sync-token", headers=headers)
    assert got.status_code == 200
    synced = await client.put(
        base + DEVICES + "/sync", json={**device, "push_sync_tokens": []}, headers=headers
    )
    assert synced.json() == {"invalid_push_sync_tokens": []}
    deleted = await client.request("DELETE", base + DEVICES, json=device, headers=headers)
    assert deleted.status_code == 204
    assert await registrations(client) == []


async def test_an_unknown_api_version_is_discords_50041(
    client: httpx.AsyncClient, users: Users
) -> None:
    for version in ("v2", "v11", "vx"):
        response = await client.post(
            f"/api/{version}{DEVICES}",
            json={"provider": "gcm", "token": "fcm-1"},
            headers=auth(users.alice),
        )
        assert response.status_code == 400
        assert response.json() == {"code": 50041, "message": "Invalid API version"}
    assert await registrations(client) == []


async def test_unregistering_records_device_deleted_for_webhooks(
    client: httpx.AsyncClient, users: Users
) -> None:
    hook = {"name": "audit", "url": "https://93.184.215.14/hook", "events": ["device.deleted"]}
    created = await client.post("/v1/apps/news/webhooks", json=hook, headers=ADMIN)
    assert created.status_code == 201, created.text
    device = {"provider": "gcm", "token": "fcm-gone"}
    assert (await client.post(DEVICES, json=device, headers=auth(users.alice))).status_code == 204
    assert (
        await client.request("DELETE", DEVICES, json=device, headers=auth(users.alice))
    ).status_code == 204
    events = await client.get("/v1/apps/news/events?kind=device.deleted", headers=ADMIN)
    assert [e["kind"] for e in events.json()["items"]] == ["device.deleted"]
