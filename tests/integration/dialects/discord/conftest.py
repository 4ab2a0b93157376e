"""The delivery tests' runtime (recording providers, injected clock) and signed-in users."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from tests.integration.api.helpers import ADMIN, make_app
from tests.integration.delivery.conftest import (
    clock,
    delivery_config,
    queue_settings,
    recorder,
    runtime,
)

# The delivery tests' fixtures, so a send reaches the recorder and time can be moved.
__all__ = ["clock", "delivery_config", "queue_settings", "recorder", "runtime"]


@dataclass(frozen=True, slots=True)
class Users:
    """Bare user tokens of the app "news" (Authorization: TOKEN, as Discord clients send)."""

    alice: str
    bob: str
    carol: str


async def make_user(client: httpx.AsyncClient, app: str, name: str) -> str:
    """Create the user and issue it a token (no expiry)."""
    created = await client.post(f"/v1/apps/{app}/users", json={"name": name}, headers=ADMIN)
    assert created.status_code == 201, created.text
    issued = await client.post(f"/v1/apps/{app}/users/{name}/tokens", json={}, headers=ADMIN)
    assert issued.status_code == 201, issued.text
    token: str = issued.json()["token"]
    return token


@pytest.fixture
async def users(client: httpx.AsyncClient) -> Users:
    await make_app(client, "news")
    return Users(*[await make_user(client, "news", name) for name in ("alice", "bob", "carol")])
