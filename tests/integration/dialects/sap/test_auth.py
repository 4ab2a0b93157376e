"""Service keys: X-API-Key (the path's applicationId ignored), Basic alias:key; 401 for
wrong or missing credentials, 403 for a role the target kind needs; the service paths; the
quota (429); the payload limits (400)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.integration.api.helpers import ADMIN, make_app, make_key
from tests.integration.dialects.sap.conftest import Keys, make_user, register_device
from tests.integration.dialects.sap.samples import (
    BULK_PUSH,
    PUSH_TO_APPLICATION,
    PUSH_TO_CAPABILITY,
    PUSH_TO_DEVICE,
    PUSH_TO_GROUP,
    PUSH_TO_TOPIC,
    PUSH_TO_USERS,
    REGISTRATIONS_BY_USER,
    SERVICE_PATH,
    Curl,
)

pytestmark = pytest.mark.anyio
JSON = {"content-type": "application/json"}
PLACES = {"username": "user1", "deviceId": "d1", "group": "all", "capability": "capability1"}


def alias_key(alias: str, key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{alias}:{key}".encode()).decode()}


async def post(client: httpx.AsyncClient, sample: Curl, headers: dict[str, str]) -> httpx.Response:
    return await client.post(
        sample.path(**PLACES), content=sample.body, headers={**JSON, **headers}
    )


@pytest.fixture
async def device(client: httpx.AsyncClient, keys: Keys) -> dict[str, Any]:
    """user1's device d1 in the push group "all", with capability1, subscribed to topic1."""
    user = await make_user(client, "user1")
    registration = await register_device(client, user, "d1", "tok-d1")
    path = "/mobileservices/push/v1/runtime/applications/news/os/ios/devices/d1/topics/topic1"
    assert (await client.put(path, headers=user)).status_code == 200
    return registration


async def test_x_api_key_ignores_the_path_application_and_basic_takes_alias_and_key(
    client: httpx.AsyncClient, keys: Keys, device: dict[str, Any]
) -> None:
    for headers in ({"X-API-Key": keys.all}, alias_key("backend", keys.all)):
        response = await post(client, PUSH_TO_DEVICE, headers)
        assert response.status_code == 200, response.text
    # The key of another app reaches only its own app, whatever the path says.
    await make_app(client, "other")
    other = await make_key(client, "other", "push_single", alias="backend")
    path = PUSH_TO_DEVICE.path(**PLACES).replace("/applications/any/", "/applications/news/")
    response = await client.post(
        path, content=PUSH_TO_DEVICE.body, headers={**JSON, "X-API-Key": other}
    )
    assert response.status_code == 404  # no such device in "other"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": "pgk_unknown"},
        {"Authorization": "Basic " + base64.b64encode(b"backend:wrong").decode()},
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Bearer something"},
    ],
)
async def test_missing_or_wrong_credentials_are_401(
    client: httpx.AsyncClient, keys: Keys, headers: dict[str, str]
) -> None:
    response = await post(client, PUSH_TO_USERS, headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="pushgate"'
    body = response.json()
    assert body["pushResults"] == []
    assert body["status"]["code"] == 3


async def test_basic_with_a_right_key_but_wrong_alias_is_401(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    response = await post(client, PUSH_TO_USERS, alias_key("single", keys.all))
    assert response.status_code == 401


ROLES = [
    (PUSH_TO_DEVICE, "single"),
    (PUSH_TO_USERS, "multiple"),
    (BULK_PUSH, "multiple"),
    (PUSH_TO_TOPIC, "multiple"),
    (PUSH_TO_GROUP, "multiple"),
    (PUSH_TO_CAPABILITY, "multiple"),
    (PUSH_TO_APPLICATION, "push_all"),
]


@pytest.mark.parametrize(("sample", "role"), ROLES)
async def test_each_target_kind_needs_its_role(
    client: httpx.AsyncClient, keys: Keys, device: dict[str, Any], sample: Curl, role: str
) -> None:
    for name in ("single", "multiple", "push_all", "read"):
        response = await post(client, sample, {"X-API-Key": getattr(keys, name)})
        if name == role:
            assert response.status_code in (200, 404), response.text  # the role suffices
        else:
            assert response.status_code == 403, (name, response.text)
            assert response.json()["status"]["notification"].startswith("this key lacks")


async def test_registration_reads_need_pushregistrations_read(
    client: httpx.AsyncClient, keys: Keys, device: dict[str, Any]
) -> None:
    path = REGISTRATIONS_BY_USER.path(username="user1")
    assert (await client.get(path, headers={"X-API-Key": keys.read})).status_code == 200
    response = await client.get(path, headers={"X-API-Key": keys.multiple})
    assert response.status_code == 403
    assert set(response.json()) == {"status"}


async def test_the_admin_key_uses_the_app_the_path_names(
    client: httpx.AsyncClient, keys: Keys, device: dict[str, Any]
) -> None:
    path = PUSH_TO_DEVICE.path(**PLACES)
    response = await client.post(path, content=PUSH_TO_DEVICE.body, headers={**JSON, **ADMIN})
    assert response.status_code == 404  # no app "any"
    response = await client.post(
        path.replace("/any/", "/news/"), content=PUSH_TO_DEVICE.body, headers={**JSON, **ADMIN}
    )
    assert response.status_code == 200, response.text
    response = await post(client, PUSH_TO_CAPABILITY, ADMIN)  # no application in this path
    assert response.status_code == 403


async def test_served_at_the_root_and_under_configured_service_paths_only(
    client: httpx.AsyncClient, keys: Keys, device: dict[str, Any]
) -> None:
    headers = {**JSON, "X-API-Key": keys.all}
    for prefix, status in (("", 200), (SERVICE_PATH, 200), ("/not-configured", 404)):
        response = await client.post(
            PUSH_TO_DEVICE.path(push_url=prefix, **PLACES),
            content=PUSH_TO_DEVICE.body,
            headers=headers,
        )
        assert response.status_code == status, (prefix, response.text)
    response = await client.get("/mobileservices/push/v9/nothing", headers=headers)
    assert response.status_code == 404
    assert response.json()["status"]["notification"].startswith("the path is invalid")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"alert": "x" * 2049}, "alert"),
        ({"alert": "x", "sound": "s" * 257}, "sound"),
        ({"alert": "x", "data": '{"k": "' + "v" * 2000 + '"}'}, "data"),
        ({"alert": "x", "data": "[1, 2]"}, "data"),
        ({"alert": "x", "data": "{not json"}, "data"),
        ({"alert": "x", "priority": "p" * 129}, "priority"),
        ({"alert": "x", "priority": "urgent"}, "priority"),
        ({"alert": "x", "badge": -1}, "badge"),
        ({"alert": 5}, "alert"),
        ({"alert": "x", "apns": {"customValues": '{"aps": {}}'}}, "apns.customValues"),
        ({"alert": "x", "gcm": {"timeToLive": -5}}, "gcm.timeToLive"),
    ],
)
async def test_payload_limits_and_types_are_400_naming_the_field(
    client: httpx.AsyncClient, keys: Keys, device: dict[str, Any], body: object, field: str
) -> None:
    response = await client.post(
        PUSH_TO_DEVICE.path(**PLACES), json=body, headers={"X-API-Key": keys.all}
    )
    assert response.status_code == 400, response.text
    assert response.json()["status"]["parameters"] == [field]


async def test_data_is_a_serialized_map_of_strings(
    client: httpx.AsyncClient, keys: Keys, device: dict[str, Any], recorder: Any
) -> None:
    body = {"alert": "x", "data": '{"order": "4711", "count": 3}'}
    response = await client.post(
        PUSH_TO_DEVICE.path(**PLACES), json=body, headers={"X-API-Key": keys.all}
    )
    assert response.status_code == 200, response.text
    content = recorder.accepted[0][2].content
    assert content.data == {"order": "4711"}
    assert content.apns == {"count": 3}  # iOS gets it as a custom key; Android ignores it


@pytest.mark.parametrize(
    "queue_settings", [{"sap_daily_quota": 2, "sap_service_paths": [SERVICE_PATH]}]
)
async def test_over_the_daily_quota_is_429(
    client: httpx.AsyncClient, keys: Keys, device: dict[str, Any]
) -> None:
    headers = {"X-API-Key": keys.all}
    for _ in range(2):
        response = await post(client, PUSH_TO_DEVICE, headers)
        assert response.status_code == 200, response.text
    response = await post(client, PUSH_TO_DEVICE, headers)
    assert response.status_code == 429
    assert response.json()["status"]["code"] == 14
