"""Small builders for API tests: create an app and a key in one call."""

from __future__ import annotations

import httpx

from tests.conftest import ADMIN_KEY

ADMIN = {"X-API-Key": ADMIN_KEY}


async def make_app(client: httpx.AsyncClient, name: str) -> dict[str, object]:
    response = await client.post("/v1/apps", json={"name": name}, headers=ADMIN)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def make_key(client: httpx.AsyncClient, app: str, *roles: str, alias: str = "k") -> str:
    response = await client.post(
        f"/v1/apps/{app}/keys", json={"alias": alias, "roles": list(roles)}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def key_header(key: str) -> dict[str, str]:
    return {"X-API-Key": key}
