"""A MobileFirst setup: an app, a confidential client with every scope, its bearer token;
the delivery engine on the recording providers (tests/integration/delivery/conftest.py)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.integration.api.helpers import ADMIN, make_app
from tests.integration.delivery.conftest import (  # noqa: F401 - fixtures used here
    clock,
    delivery_config,
    queue_settings,
    recorder,
    runtime,
    worker,
)

APP = "myapp"
V1 = "/imfpush/v1"
TOKEN_PATH = "/mfp/api/az/v1/token"
EVERY_SCOPE = ["devices.write", "messages.write", "apps.write", "settings.write", "webhooks.write"]


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def make_client(
    http: httpx.AsyncClient, app: str, scopes: list[str], client_id: str | None = None
) -> tuple[str, str]:
    body: dict[str, Any] = {"scopes": scopes}
    if client_id:
        body["client_id"] = client_id
    response = await http.post(f"/v1/apps/{app}/clients", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    created = response.json()
    return created["client_id"], created["client_secret"]


async def token_for(http: httpx.AsyncClient, client_id: str, secret: str, scope: str) -> str:
    response = await http.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials", "scope": scope},
        headers=basic(client_id, secret),
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@dataclass
class MobileFirst:
    """A client of the dialect holding a token with `scope` for APP."""

    http: httpx.AsyncClient
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def call(
        self, method: str, path: str, body: Any = None, **headers: str
    ) -> httpx.Response:
        sent = {**self.auth, **headers}
        if body is not None:
            sent.setdefault("Content-Type", "application/json")
            return await self.http.request(method, V1 + path, json=body, headers=sent)
        return await self.http.request(method, V1 + path, headers=sent)


@pytest.fixture
async def mfp(client: httpx.AsyncClient) -> MobileFirst:
    await make_app(client, APP)
    client_id, secret = await make_client(client, APP, EVERY_SCOPE)
    scope = " ".join([*EVERY_SCOPE, f"push.application.{APP}"])
    return MobileFirst(client, await token_for(client, client_id, secret, scope))
