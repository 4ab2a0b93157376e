"""The delivery tests' runtime (recording providers, injected clock), and an app whose users
have devices: the company a POST Push API client sends as."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.integration.api.helpers import ADMIN, make_app, make_key
from tests.integration.delivery.conftest import (
    clock,
    delivery_config,
    queue_settings,
    recorder,
    register,
    runtime,
)
from tests.integration.dialects.pushapi.samples import PATH, filled

# The delivery tests' fixtures, so a send reaches the recorder and time can be moved.
__all__ = ["clock", "delivery_config", "queue_settings", "recorder", "runtime"]

ALICE_TOKENS = ("a1b2c3d4", "fcm-alice")
BOB_TOKEN = "b0b0b0b0"


@dataclass(frozen=True, slots=True)
class Company:
    """The app "news" as the dialect names it, and an API key with the push_single role."""

    company_id: int
    key: str

    def body(self, **fields: object) -> dict[str, Any]:
        """The seed's sample body with these credentials and `fields` filled in."""
        return filled(**{"CompanyId": self.company_id, "IntegrationKey": self.key, **fields})


async def make_user(client: httpx.AsyncClient, app: str, name: str, **fields: object) -> None:
    created = await client.post(
        f"/v1/apps/{app}/users", json={"name": name, **fields}, headers=ADMIN
    )
    assert created.status_code == 201, created.text


@pytest.fixture
async def company(client: httpx.AsyncClient) -> Company:
    """alice has an iPhone and an Android phone, bob an iPhone; carol has no device."""
    app = await make_app(client, "news")
    key = await make_key(client, "news", "push_single", alias="integration")
    await make_user(client, "news", "alice", email="alice@example.com", external_id="ext-alice")
    await make_user(client, "news", "bob", email="bob@example.com", external_id="ext-bob")
    await make_user(client, "news", "carol", email="carol@example.com")
    await register(client, ADMIN, ALICE_TOKENS[0], platform="ios", user="alice")
    await register(client, ADMIN, ALICE_TOKENS[1], platform="android", user="alice")
    await register(client, ADMIN, BOB_TOKEN, platform="ios", user="bob")
    company_id = app["company_id"]
    assert isinstance(company_id, int)
    return Company(company_id, key)


async def push_json(
    client: httpx.AsyncClient, body: object, *, answer: str | None = "json"
) -> httpx.Response:
    """POST a JSON body; `answer` is the format parameter (None: not given)."""
    return await client.post(
        PATH,
        params={"format": answer} if answer is not None else {},
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )


async def stored_notifications(client: httpx.AsyncClient) -> list[Any]:
    listed = await client.get("/v1/apps/news/notifications", headers=ADMIN)
    assert listed.status_code == 200, listed.text
    items: list[Any] = listed.json()["items"]
    return items


def refusal(response: httpx.Response, status: int) -> dict[str, Any]:
    """The JSON error's ResponseStatus, after checking the status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    found: dict[str, Any] = response.json()["ResponseStatus"]
    return found


def field_of(status: dict[str, Any]) -> str | None:
    errors = status["Errors"]
    return str(errors[0]["FieldName"]) if errors else None
