"""The device runtime API: register with the seed's payload as an app user, update, read,
delete, topics; a new token replaces the device's old one; the user's global user id and
its history."""

from __future__ import annotations

import json

import httpx
import pytest

from pushgate.providers.recording import Recorder
from tests.integration.api.helpers import ADMIN
from tests.integration.dialects.sap.conftest import (
    RUNTIME,
    Keys,
    basic,
    make_user,
    register_device,
)
from tests.integration.dialects.sap.samples import (
    PUSH_TO_CAPABILITY,
    PUSH_TO_USERS,
    REGISTRATION_PAYLOAD,
    curl_headers,
)

pytestmark = pytest.mark.anyio
DEVICE = RUNTIME.format(os="ios", device="device-1")


async def native(client: httpx.AsyncClient, registration_id: str) -> dict[str, object]:
    response = await client.get(f"/v1/apps/news/registrations/{registration_id}", headers=ADMIN)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_the_seed_registration_payload_registers_the_signed_in_user(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    user = await make_user(client, "user1")
    response = await client.post(
        DEVICE, content=REGISTRATION_PAYLOAD, headers={**user, "content-type": "application/json"}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created == {
        "id": created["id"],
        "device": "device-1",
        "deviceModel": "iPhone",
        "formFactor": "phone",
        "pushGroup": "all",
        "pushProvider": "ios",
        "userLocale": "en",
        "username": "user1",
    }
    stored = await native(client, created["id"])
    assert stored["token"] == "*****"
    assert stored["time_zone"] == "MESZ"
    assert stored["capabilities"] == ["capability1", "capability2"]
    assert stored["platform"] == "apns"
    again = await client.put(DEVICE, json={"userLocale": "de-DE"}, headers=user)  # no token
    assert again.status_code == 200, again.text
    assert again.json()["userLocale"] == "de-DE"
    assert (await native(client, created["id"]))["device_model"] == "iPhone"  # kept


async def test_a_new_token_replaces_the_devices_old_registration(
    client: httpx.AsyncClient, keys: Keys, recorder: Recorder
) -> None:
    user = await make_user(client, "user1")
    first = await register_device(client, user, "device-1", "tok-old")
    second = await register_device(client, user, "device-1", "tok-new")
    assert second["id"] != first["id"]
    read = await client.get(DEVICE, headers=user)
    assert read.json()["id"] == second["id"]
    response = await client.post(
        PUSH_TO_USERS.path(), content=PUSH_TO_USERS.body, headers=curl_headers(keys.all)
    )
    assert response.status_code == 200
    assert recorder.tokens() == ["tok-new"]


async def test_delete_unregisters_and_a_second_delete_is_404(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    user = await make_user(client, "user1")
    await register_device(client, user, "device-1", "tok-1")
    assert (await client.delete(DEVICE, headers=user)).status_code == 204
    missing = await client.delete(DEVICE, headers=user)
    assert missing.status_code == 404
    assert missing.json()["status"]["parameters"] == ["deviceId"]
    assert (await client.get(DEVICE, headers=user)).status_code == 404


async def test_topics_subscribe_list_unsubscribe(client: httpx.AsyncClient, keys: Keys) -> None:
    user = await make_user(client, "user1")
    await register_device(client, user, "device-1", "tok-1")
    for topic in ("news", "sport", "news"):
        response = await client.put(f"{DEVICE}/topics/{topic}", headers=user)
        assert response.status_code == 200, response.text
    listed = await client.get(f"{DEVICE}/topics", headers=user)
    assert listed.json() == {"topics": ["news", "sport"]}
    assert (await client.delete(f"{DEVICE}/topics/news", headers=user)).status_code == 204
    assert (await client.delete(f"{DEVICE}/topics/news", headers=user)).status_code == 404
    assert (await client.get(f"{DEVICE}/topics", headers=user)).json() == {"topics": ["sport"]}


async def test_a_user_token_signs_in_and_another_apps_user_is_refused(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await make_user(client, "user1")
    issued = await client.post("/v1/apps/news/users/user1/tokens", json={}, headers=ADMIN)
    token = issued.json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    payload = {**json.loads(REGISTRATION_PAYLOAD), "pushToken": "tok-bearer"}
    response = await client.post(DEVICE, json=payload, headers=bearer)
    assert response.status_code == 201, response.text
    assert response.json()["username"] == "user1"
    other_app = DEVICE.replace("/applications/news/", "/applications/other/")
    assert (await client.post(other_app, json=payload, headers=bearer)).status_code == 403
    wrong = await client.post(DEVICE, json=payload, headers=basic("user1", "wrong"))
    assert wrong.status_code == 401
    assert set(wrong.json()) == {"status"}
    by_key = await client.post(DEVICE, json=payload, headers={"X-API-Key": keys.all})
    assert by_key.status_code == 401  # a service key is no app user


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timeZone": "Mars/Olympus"}, "timeZone"),
        ({"userLocale": "English (United States)"}, "userLocale"),
        ({"pushToken": "has space"}, "pushToken"),
        ({"pushToken": None}, "pushToken"),
        ({"capabilities": "capability1"}, "capabilities"),
    ],
)
async def test_bad_registration_payloads_are_400(
    client: httpx.AsyncClient, keys: Keys, change: dict[str, object], field: str
) -> None:
    user = await make_user(client, "user1")
    payload = {**json.loads(REGISTRATION_PAYLOAD), **change}
    payload = {k: v for k, v in payload.items() if v is not None}
    response = await client.post(DEVICE, json=payload, headers=user)
    assert response.status_code == 400, response.text
    assert response.json()["status"]["parameters"] == [field]


async def test_unknown_os_is_400(client: httpx.AsyncClient, keys: Keys) -> None:
    user = await make_user(client, "user1")
    for os in ("baidu", "symbian"):
        response = await client.post(
            RUNTIME.format(os=os, device="d"), content=REGISTRATION_PAYLOAD, headers=user
        )
        assert response.status_code == 400
        assert response.json()["status"]["parameters"] == ["os"]


async def test_web_push_token_is_the_serialized_subscription(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    user = await make_user(client, "user1")
    subscription = {
        "endpoint": "https://push.example.com/send/abc",
        "keys": {"p256dh": "BPublicKey", "auth": "secret"},
    }
    created = await register_device(
        client, user, "browser", json.dumps(subscription), os="w3cpushapi"
    )
    assert created["pushProvider"] == "w3cpushapi"
    stored = await native(client, created["id"])
    assert stored["token"] == "https://push.example.com/send/abc"
    assert stored["keys"] == {"p256dh": "BPublicKey", "auth": "secret"}


async def test_an_old_global_user_id_still_reaches_the_device(
    client: httpx.AsyncClient, keys: Keys, recorder: Recorder
) -> None:
    user = await make_user(client, "user1", user_uuid="uuid-old")
    await register_device(client, user, "device-1", "tok-1")
    changed = await client.patch(
        "/v1/apps/news/users/user1", json={"user_uuid": "uuid-new"}, headers=ADMIN
    )
    assert changed.status_code == 200, changed.text
    await register_device(client, user, "device-1", "tok-1")  # the app comes to the foreground
    for uuid in ("uuid-old", "uuid-new"):
        body = {"userUUIDs": [uuid], "notification": {"notification": {"alert": uuid}}}
        response = await client.post(
            PUSH_TO_USERS.path(), json=body, headers=curl_headers(keys.all)
        )
        assert response.status_code == 200, (uuid, response.text)
    assert [push.content.alert for _, _, push in recorder.accepted] == ["uuid-old", "uuid-new"]


async def test_capabilities_with_value_false_are_left_out(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    user = await make_user(client, "user1")
    capabilities = [{"name": "capability1", "value": False}, {"name": "capability3"}]
    created = await register_device(client, user, "d1", "tok-1", capabilities=capabilities)
    assert (await native(client, created["id"]))["capabilities"] == ["capability3"]
    response = await client.post(
        PUSH_TO_CAPABILITY.path(capability="capability1"),
        content=PUSH_TO_CAPABILITY.body,
        headers=curl_headers(keys.all),
    )
    assert response.status_code == 404
