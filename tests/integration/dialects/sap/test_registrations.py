"""Registration queries: by id (unwrapped), by username and by push group (under `value`),
and all of them a page at a time, in the document's field names."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.dialects.sap.conftest import Keys, make_user, register_device
from tests.integration.dialects.sap.samples import (
    REGISTRATION,
    REGISTRATIONS_BY_GROUP,
    REGISTRATIONS_BY_USER,
    curl_headers,
)

pytestmark = pytest.mark.anyio
FIELDS = {
    "id",
    "device",
    "deviceModel",
    "formFactor",
    "pushGroup",
    "pushProvider",
    "userLocale",
    "username",
}


async def get(client: httpx.AsyncClient, path: str, key: str) -> httpx.Response:
    return await client.get(path, headers=curl_headers(key, body=False))


async def test_by_id_by_username_and_by_push_group(client: httpx.AsyncClient, keys: Keys) -> None:
    john = await make_user(client, "john.doe@acme.com")
    joana = await make_user(client, "joana.doe@acme.com")
    tablet = await register_device(
        client,
        john,
        "7027c327e3e51945",
        "fcm-john",
        os="android",
        formFactor="tablet",
        deviceModel="Android",
    )
    admin = await register_device(
        client,
        joana,
        "7027c327e3e51946",
        "fcm-joana",
        os="android",
        pushGroup="admin",
        userLocale="fr",
        deviceModel="Android",
    )
    response = await get(client, REGISTRATION.path(registrationId=tablet["id"]), keys.read)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": tablet["id"],
        "device": "7027c327e3e51945",
        "deviceModel": "Android",
        "formFactor": "tablet",
        "pushGroup": "all",
        "pushProvider": "android",
        "userLocale": "en",
        "username": "john.doe@acme.com",
    }
    by_user = await get(
        client, REGISTRATIONS_BY_USER.path(username="joana.doe@acme.com"), keys.read
    )
    assert by_user.status_code == 200
    assert by_user.json() == {"value": [admin]}
    by_group = await get(client, REGISTRATIONS_BY_GROUP.path(group="admin"), keys.read)
    assert [r["id"] for r in by_group.json()["value"]] == [admin["id"]]
    assert set(by_group.json()["value"][0]) == FIELDS
    nobody = await get(client, REGISTRATIONS_BY_GROUP.path(group="nobody"), keys.read)
    assert nobody.json() == {"value": []}


async def test_all_registrations_page_by_page(client: httpx.AsyncClient, keys: Keys) -> None:
    user = await make_user(client, "user1")
    ids = [(await register_device(client, user, f"d{i}", f"tok-{i}"))["id"] for i in range(5)]
    path = "/mobileservices/push/v2/backend/registrations?$top=2"
    seen: list[str] = []
    pages = 0
    while path:
        response = await get(client, path, keys.read)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [r["id"] for r in body["value"]]
        path = body.get("@odata.nextLink", "").removeprefix("http://pushgate.test")
        pages += 1
    assert seen == ids
    assert pages == 3
    bad = await get(client, "/mobileservices/push/v2/backend/registrations?$top=0", keys.read)
    assert bad.status_code == 400
    assert bad.json()["status"]["parameters"] == ["$top"]


async def test_unknown_and_inactive_registrations_are_404(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    response = await get(client, REGISTRATION.path(registrationId="unknown"), keys.read)
    assert response.status_code == 404
    assert response.json() == {
        "status": {
            "code": 2,
            "notification": "no registration with this id",
            "parameters": ["registrationId"],
        }
    }
