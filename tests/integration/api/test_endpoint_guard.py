"""Web Push endpoints are addresses the worker calls: private ones are refused (SSRF)."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.api.helpers import ADMIN, make_app, make_key

pytestmark = pytest.mark.anyio
KEYS = {"p256dh": "BNc", "auth": "tB"}


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://push.example.net/sub/1",  # not https
        "https://127.0.0.1/wp/1",
        "https://10.1.2.3/wp/1",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/wp/1",
        "https://user:pw@push.example.net/sub/1",
    ],
)
async def test_private_or_plain_http_endpoints_are_refused_at_registration(
    client: httpx.AsyncClient, endpoint: str
) -> None:
    await make_app(client, "news")
    key = {"X-API-Key": await make_key(client, "news", "registrations_write")}
    body = {"platform": "webpush", "token": endpoint, "keys": KEYS}
    response = await client.post("/v1/apps/news/registrations", json=body, headers=key)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == "token"
    listed = await client.get("/v1/apps/news/registrations", headers=ADMIN)
    assert listed.json()["items"] == []  # nothing stored


async def test_a_public_looking_endpoint_is_accepted(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    key = {"X-API-Key": await make_key(client, "news", "registrations_write")}
    body = {"platform": "w3c", "token": "https://push.example.net/sub/1", "keys": KEYS}
    response = await client.post("/v1/apps/news/registrations", json=body, headers=key)
    assert response.status_code == 201, response.text


async def test_an_opaque_wns_token_is_registered_and_judged_at_send(
    client: httpx.AsyncClient,
) -> None:
    """Vendor APIs register opaque tokens (MobileFirst's "W"); WNS's guard runs at send."""
    await make_app(client, "news")
    key = {"X-API-Key": await make_key(client, "news", "registrations_write")}
    body = {"platform": "W", "token": "https://192.168.1.10/w/channel"}
    response = await client.post("/v1/apps/news/registrations", json=body, headers=key)
    assert response.status_code == 201, response.text
