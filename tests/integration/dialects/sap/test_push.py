"""Every push sample of the seed, verbatim, against the app: the documented answer shape,
the right registrations reached, and the payload mapped onto the providers."""

from __future__ import annotations

import json

import httpx
import pytest

from pushgate.providers.recording import Recorder
from tests.conftest import wait_for
from tests.integration.dialects.sap.conftest import Keys, make_user, register_device
from tests.integration.dialects.sap.samples import (
    BULK_PUSH,
    PUSH_TO_APPLICATION,
    PUSH_TO_CAPABILITY,
    PUSH_TO_DEVICE,
    PUSH_TO_DEVICE_HTTP_BODY,
    PUSH_TO_DEVICE_HTTP_PATH,
    PUSH_TO_GROUP,
    PUSH_TO_TOPIC,
    PUSH_TO_TOPIC_CURL_EXE,
    PUSH_TO_USERS,
    Curl,
    curl_headers,
)

pytestmark = pytest.mark.anyio


async def curl(
    client: httpx.AsyncClient, sample: Curl, key: str, **placeholders: str
) -> httpx.Response:
    return await client.request(
        sample.method,
        sample.path(**placeholders),
        content=sample.body,
        headers=curl_headers(key, body=sample.body is not None),
    )


def results(response: httpx.Response) -> list[dict[str, object]]:
    body = response.json()
    assert set(body) == {"status", "pushResults"}, body
    assert body["status"] is None
    for result in body["pushResults"]:
        assert set(result) == {"target", "notificationId", "code", "message"}
    found: list[dict[str, object]] = body["pushResults"]
    return found


async def test_push_to_device_curl_sample_reaches_the_device_of_the_user(
    client: httpx.AsyncClient, keys: Keys, recorder: Recorder
) -> None:
    alice = await make_user(client, "user1")
    mine = await register_device(client, alice, "device-1", "tok-device-1")
    await register_device(client, alice, "device-2", "tok-device-2")
    response = await curl(client, PUSH_TO_DEVICE, keys.all, username="user1", deviceId="device-1")
    assert response.status_code == 200, response.text
    (result,) = results(response)
    assert result["target"] == mine["id"]
    assert (result["code"], result["message"]) == (0, "success")
    assert str(result["notificationId"]).endswith(mine["id"])
    assert recorder.tokens() == ["tok-device-1"]
    assert recorder.accepted[0][2].content.alert == "Hello World"


async def test_push_to_device_http_sample_maps_apns_and_gcm_blocks(
    client: httpx.AsyncClient, keys: Keys, recorder: Recorder
) -> None:
    user = await make_user(client, "user1")
    await register_device(client, user, "device-1", "tok-ios")
    path = PUSH_TO_DEVICE_HTTP_PATH.format(
        applicationId="any", username="user1", deviceId="device-1"
    )
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-API-Key": keys.all,
    }
    response = await client.post(path, content=PUSH_TO_DEVICE_HTTP_BODY, headers=headers)
    assert response.status_code == 200, response.text
    content = recorder.accepted[0][2].content
    assert (content.alert, content.sound) == ("Hello World", "default")
    assert content.apns == {"aps": {"category": "immediate-action"}, "order": "4711-2314"}
    # Android: the alert in the data (SAP's SDK reads it there), FCM's time to live.
    assert content.fcm == {"data": {"alert": "Hello World"}, "android": {"ttl": "123456s"}}


async def test_push_to_device_without_the_registration_is_404(
    client: httpx.AsyncClient, keys: Keys, recorder: Recorder
) -> None:
    await make_user(client, "user1")
    response = await curl(client, PUSH_TO_DEVICE, keys.all, username="user1", deviceId="nope")
    assert response.status_code == 404
    body = response.json()
    assert body["pushResults"] == []
    assert body["status"]["code"] == 2
    assert "device id" in body["status"]["notification"]
    assert recorder.tokens() == []


async def test_push_to_users_curl_sample_reaches_names_and_global_user_ids(
    client: httpx.AsyncClient, keys: Keys, recorder: Recorder
) -> None:
    user1 = await make_user(client, "user1")
    other = await make_user(client, "other", user_uuid="userUUIDs1")
    nobody = await make_user(client, "nobody")
    await register_device(client, user1, "d1", "tok-user1")
    await register_device(client, other, "d2", "tok-other")
    await register_device(client, nobody, "d3", "tok-nobody")
    response = await curl(client, PUSH_TO_USERS, keys.multiple)
    assert response.status_code == 200, response.text
    assert [r["code"] for r in results(response)] == [0, 0]
    assert sorted(recorder.tokens()) == ["tok-other", "tok-user1"]


async def test_bulk_push_curl_sample_gives_the_user_its_own_alert(
    client: httpx.AsyncClient, keys: Keys, recorder: Recorder
) -> None:
    user1 = await make_user(client, "user1")
    uuid = await make_user(client, "someone", user_uuid="global-user-id")
    await register_device(client, user1, "d1", "tok-user1")
    await register_device(client, uuid, "d2", "tok-uuid")
    response = await curl(client, BULK_PUSH, keys.multiple)
    assert response.status_code == 200, response.text
    assert len(results(response)) == 2
    alerts = {token: push.content.alert for _, token, push in recorder.accepted}
    assert alerts == {"tok-user1": "user alert", "tok-uuid": "user alert"}


async def test_bulk_push_without_a_global_notification_needs_each_users_fallback(
    client: httpx.AsyncClient, keys: Keys, recorder: Recorder
) -> None:
    user1 = await make_user(client, "user1")
    await register_device(client, user1, "d1", "tok-user1")
    path = BULK_PUSH.path()
    entry = {"user": "user1", "notification": {"notification": {"alert": "only you"}}}
    response = await client.post(
        path, json={"userNotifications": [entry]}, headers=curl_headers(keys.all)
    )
    assert response.status_code == 200, response.text
    assert recorder.accepted[0][2].content.alert == "only you"
    localized_only = {"user": "user1", "notification": {"notifications": {"de": {"alert": "x"}}}}
    response = await client.post(
        path, json={"userNotifications": [localized_only]}, headers=curl_headers(keys.all)
    )
    assert response.status_code == 400
    assert response.json()["status"]["parameters"] == [
        "userNotifications[0].notification.notification"
    ]


async def test_push_to_application_curl_sample_reaches_every_registration(
    client: httpx.AsyncClient, keys: Keys, recorder: Recorder, worker: object
) -> None:
    for name in ("a", "b"):
        user = await make_user(client, name)
        await register_device(client, user, "d", f"tok-{name}")
    response = await curl(client, PUSH_TO_APPLICATION, keys.push_all)
    assert response.status_code == 200, response.text
    found = results(response)
    assert len(found) == 2
    assert {r["code"] for r in found} <= {-1, 0}

    async def both() -> bool:
        return sorted(recorder.tokens()) == ["tok-a", "tok-b"]

    await wait_for(both, what="the broadcast")


async def test_push_to_topic_curl_sample_and_unknown_topics(
    client: httpx.AsyncClient, keys: Keys, recorder: Recorder, worker: object
) -> None:
    user1 = await make_user(client, "user1")
    reg = await register_device(client, user1, "d1", "tok-user1")
    other = await make_user(client, "other")
    await register_device(client, other, "d2", "tok-other")
    for token_user, device in ((user1, "d1"), (other, "d2")):
        subscribed = await client.put(
            f"/mobileservices/push/v1/runtime/applications/news/os/ios/devices/{device}"
            "/topics/topic1",
            headers=token_user,
        )
        assert subscribed.status_code == 200, subscribed.text
    response = await curl(client, PUSH_TO_TOPIC, keys.multiple)
    assert response.status_code == 200, response.text
    assert [r["target"] for r in results(response)] == [reg["id"]]  # the users filter
    # Unknown topics beside a known one are no error; only unknown ones reach nobody.
    body = json.loads(PUSH_TO_TOPIC.body or b"")
    body.update(topics=["topic1", "never-created"], users=[], userUUIDs=[])
    response = await client.post(PUSH_TO_TOPIC.path(), json=body, headers=curl_headers(keys.all))
    assert response.status_code == 200, response.text
    assert len(results(response)) == 2
    body["topics"] = ["never-created"]
    response = await client.post(PUSH_TO_TOPIC.path(), json=body, headers=curl_headers(keys.all))
    assert response.status_code == 404


async def test_curl_exe_topic_sample_is_400_naming_the_json_error(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    response = await curl(client, PUSH_TO_TOPIC_CURL_EXE, keys.multiple)
    assert response.status_code == 400
    status = response.json()["status"]
    assert status["code"] == 1
    assert status["parameters"] == ["body"]
    assert status["notification"] == (
        "the body is not valid JSON: Expecting property name enclosed in double quotes at "
        "line 1 column 47 (char 46)"
    )


async def test_push_to_group_curl_sample_with_the_literal_application_id(
    client: httpx.AsyncClient, keys: Keys, recorder: Recorder, worker: object
) -> None:
    user = await make_user(client, "user1")
    await register_device(client, user, "d1", "tok-admins", pushGroup="admins")
    await register_device(client, user, "d2", "tok-all")  # the payload's "all"
    response = await curl(client, PUSH_TO_GROUP, keys.multiple, group="admins")
    assert response.status_code == 200, response.text
    assert len(results(response)) == 1

    async def sent() -> bool:
        return recorder.tokens() == ["tok-admins"]

    await wait_for(sent, what="the group push")
    response = await curl(client, PUSH_TO_GROUP, keys.multiple, group="nobody-here")
    assert response.status_code == 404


async def test_push_to_capability_curl_sample_filters_by_user_and_form_factor(
    client: httpx.AsyncClient, keys: Keys, recorder: Recorder, worker: object
) -> None:
    user1 = await make_user(client, "user1")
    phone = await register_device(client, user1, "d1", "tok-phone")  # capability1, phone
    await register_device(client, user1, "d2", "tok-tablet", formFactor="tablet")
    without = [{"name": "capability1", "category": "push", "value": "false"}]
    await register_device(client, user1, "d3", "tok-without", capabilities=without)
    response = await curl(client, PUSH_TO_CAPABILITY, keys.multiple, capability="capability1")
    assert response.status_code == 200, response.text
    assert [r["target"] for r in results(response)] == [phone["id"]]
    response = await curl(client, PUSH_TO_CAPABILITY, keys.multiple, capability="unknown")
    assert response.status_code == 404
