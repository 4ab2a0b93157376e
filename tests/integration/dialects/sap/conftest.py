"""The delivery tests' runtime (recording providers, injected clock), the app "news" with a
service key per role set, and app users whose devices register through the runtime API."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.integration.api.helpers import ADMIN, make_app, make_key
from tests.integration.delivery.conftest import (
    clock,
    delivery_config,
    recorder,
    runtime,
    worker,
)
from tests.integration.dialects.sap.samples import REGISTRATION_PAYLOAD, SERVICE_PATH

# The delivery tests' fixtures, so a send reaches the recorder and time can be moved.
__all__ = ["clock", "delivery_config", "recorder", "runtime", "worker"]

APP = "news"
PASSWORD = "correct horse battery"
RUNTIME = "/mobileservices/push/v1/runtime/applications/news/os/{os}/devices/{device}"


@pytest.fixture
def queue_settings() -> dict[str, Any]:
    """The runtime's settings: the seed's service path is configured."""
    return {"sap_service_paths": [SERVICE_PATH]}


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@dataclass(frozen=True, slots=True)
class Keys:
    """Service keys of "news": one with every push role, and one per single role."""

    all: str
    single: str
    multiple: str
    push_all: str
    read: str


@pytest.fixture
async def keys(client: httpx.AsyncClient) -> Keys:
    await make_app(client, APP)
    every = ("push_single", "push_multiple", "push_all", "pushregistrations_read")
    return Keys(
        await make_key(client, APP, *every, alias="backend"),
        await make_key(client, APP, "push_single", alias="single"),
        await make_key(client, APP, "push_multiple", alias="multiple"),
        await make_key(client, APP, "push_all", alias="all"),
        await make_key(client, APP, "pushregistrations_read", alias="read"),
    )


async def make_user(client: httpx.AsyncClient, name: str, **fields: object) -> dict[str, str]:
    """An app user with a password; the Basic header the device signs in with."""
    body = {"name": name, "password": PASSWORD, **fields}
    response = await client.post(f"/v1/apps/{APP}/users", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return basic(name, PASSWORD)


async def register_device(
    client: httpx.AsyncClient,
    user: dict[str, str],
    device: str,
    token: str,
    *,
    os: str = "ios",
    **fields: object,
) -> dict[str, Any]:
    """The seed's registration payload with this token (and fields), through the runtime API."""
    payload = {**json.loads(REGISTRATION_PAYLOAD), "pushToken": token, **fields}
    response = await client.post(
        RUNTIME.format(os=os, device=device),
        json={k: v for k, v in payload.items() if v is not None},
        headers=user,
    )
    assert response.status_code in (200, 201), response.text
    registration: dict[str, Any] = response.json()
    return registration
