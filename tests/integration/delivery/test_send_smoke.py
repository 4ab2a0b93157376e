from __future__ import annotations

import httpx
import pytest

from pushgate.providers.recording import Recorder
from tests.integration.delivery.conftest import register

pytestmark = pytest.mark.anyio


async def test_send_to_one_registration_inline(
    client: httpx.AsyncClient, app_key: dict[str, str], recorder: Recorder
) -> None:
    rid = await register(client, app_key, "tok-1")
    response = await client.post(
        "/v1/apps/news/notifications",
        json={"target": {"registrations": [rid]}, "notification": {"alert": "Hello"}},
        headers=app_key,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["results"][0]["status"] == "SENT"
    assert recorder.tokens() == ["tok-1"]
