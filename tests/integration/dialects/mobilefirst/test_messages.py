"""Messages: targets (tags, devices, users, platforms, everyone), notificationType 1/2/3,
the settings blocks, bulk, reading and deleting a message; on the recording providers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pushgate.delivery.worker import Worker
from pushgate.providers.recording import Recorder
from tests.integration.api.helpers import ADMIN
from tests.integration.delivery.conftest import wait_for
from tests.integration.dialects.mobilefirst.conftest import APP, MobileFirst

pytestmark = pytest.mark.anyio
MESSAGES = f"/apps/{APP}/messages"


async def devices(mfp: MobileFirst) -> None:
    """Four devices: two subscribed to Gold (one with a phone), one to Silver, one to none."""
    for device_id, platform, user, phone in (
        ("ios-1", "A", "alice", "+15550000001"),
        ("android-1", "G", "bob", None),
        ("windows-1", "W", "carol", "+15550000003"),
        ("ios-2", "A", "dave", "+15550000004"),
    ):
        body: dict[str, Any] = {"deviceId": device_id, "platform": platform,
                                "token": f"tok-{device_id}", "userId": user}  # fmt: skip
        if phone:
            body["phoneNumber"] = phone
        assert (await mfp.call("POST", f"/apps/{APP}/devices", body)).status_code == 201
    for device_id, tag in (("ios-1", "Gold"), ("android-1", "Gold"), ("windows-1", "Silver")):
        subscribed = await mfp.call(
            "POST", f"/apps/{APP}/subscriptions", {"deviceId": device_id, "tagName": tag}
        )
        assert subscribed.status_code == 201


async def send(mfp: MobileFirst, body: dict[str, Any]) -> str:
    response = await mfp.call("POST", MESSAGES, body)
    assert response.status_code == 202, response.text
    message_id: str = response.json()["messageId"]
    return message_id


async def done(mfp: MobileFirst, message_id: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def finished() -> bool:
        response = await mfp.call("GET", f"{MESSAGES}/{message_id}")
        found.update(response.json())
        return bool(found.get("state") == "done")

    await wait_for(finished, what=f"message {message_id}")
    return found


async def reached(mfp: MobileFirst, recorder: Recorder, body: dict[str, Any]) -> list[str]:
    before = len(recorder.accepted)
    await done(mfp, await send(mfp, body))
    return sorted(recorder.tokens()[before:])


async def test_tag_names_reach_exactly_the_subscribed_devices(
    mfp: MobileFirst, recorder: Recorder, worker: Worker
) -> None:
    await devices(mfp)
    gold = {"message": {"alert": "Gold offer"}, "target": {"tagNames": ["Gold"]}}
    assert await reached(mfp, recorder, gold) == ["tok-android-1", "tok-ios-1"]
    sms = {**gold, "notificationType": 2}
    assert await reached(mfp, recorder, sms) == ["+15550000001"]  # only ios-1 has a phone
    both = {**gold, "notificationType": 3}
    assert await reached(mfp, recorder, both) == ["+15550000001", "tok-android-1", "tok-ios-1"]
    only_ios = {**gold, "target": {"tagNames": ["Gold"], "platforms": ["A"]}}
    assert await reached(mfp, recorder, only_ios) == ["tok-ios-1"]
    two_tags = {"message": {"alert": "x"}, "target": {"tagNames": ["Gold", "Silver"]}}
    assert await reached(mfp, recorder, two_tags) == [
        "tok-android-1",
        "tok-ios-1",
        "tok-windows-1",
    ]
    gold_bob = {"message": {"alert": "x"}, "target": {"tagNames": ["Gold"], "userIds": ["bob"]}}
    assert await reached(mfp, recorder, gold_bob) == ["tok-android-1"]
    (push,) = [p for _, token, p in recorder.accepted if token == "+15550000001"][:1]
    assert push.content.alert == "Gold offer"


async def test_device_user_platform_and_broadcast_targets(
    mfp: MobileFirst, recorder: Recorder, worker: Worker
) -> None:
    await devices(mfp)
    alert = {"alert": "hi"}
    by_device = {"message": alert, "target": {"deviceIds": ["ios-2", "windows-1"]}}
    assert await reached(mfp, recorder, by_device) == ["tok-ios-2", "tok-windows-1"]
    by_user = {"message": alert, "target": {"userIds": ["alice", "carol"]}}
    assert await reached(mfp, recorder, by_user) == ["tok-ios-1", "tok-windows-1"]
    by_platform = {"message": alert, "target": {"platforms": ["A,G"]}}
    assert await reached(mfp, recorder, by_platform) == ["tok-android-1", "tok-ios-1", "tok-ios-2"]
    everyone = {"message": alert}
    assert len(await reached(mfp, recorder, everyone)) == 4
    everyone_sms = {"message": alert, "notificationType": 2}
    assert await reached(mfp, recorder, everyone_sms) == [
        "+15550000001",
        "+15550000003",
        "+15550000004",
    ]


async def test_settings_blocks_become_provider_overrides(
    mfp: MobileFirst, recorder: Recorder, worker: Worker
) -> None:
    await devices(mfp)
    body = {
        "message": {"alert": "Test message", "url": "https://example.com/offer"},
        "notificationType": 1,
        "settings": {
            "apns": {"badge": 1, "category": 1, "iosActionKey": "Ok",
                     "payload": {"custom": "data"}, "sound": "song.mp3", "type": "DEFAULT",
                     "title": "Title", "subtitle": "Sub Title",
                     "attachmentUrl": "http://test.com/test.png"},
            "gcm": {"bridge": False, "category": "email", "collapseKey": "testkey",
                    "delayWhileIdle": False, "payload": {"custom": "data"}, "priority": "low",
                    "redact": "Test Redact Message", "sound": "song.mp3", "sync": False,
                    "timeToLive": 10, "visibility": "public"},
            "wns": {"badge": {"value": "10"}, "cachePolicy": False, "expirationTime": 20,
                    "raw": {"payload": {"custom": "data"}},
                    "toast": {"launch": {"custom": "data"}, "visual": {"binding": {
                        "template": "ToastText04",
                        "text": [{"content": "Text1"}, {"content": "Text2"}]}}}},
        },
        "target": {"deviceIds": ["ios-1", "android-1", "windows-1"]},
    }  # fmt: skip
    await done(mfp, await send(mfp, body))
    pushes = {token: push for _, token, push in recorder.accepted}
    apns = pushes["tok-ios-1"].content.apns
    assert apns is not None
    assert apns["aps"]["badge"] == 1
    assert apns["aps"]["alert"]["title"] == "Title"
    assert apns["aps"]["alert"]["body"] == "Test message"
    assert apns["aps"]["alert"]["action-loc-key"] == "Ok"
    assert apns["aps"]["category"] == "1"
    assert apns["payload"] == '{"custom":"data"}'
    assert apns["attachment-url"] == "http://test.com/test.png"
    fcm = pushes["tok-android-1"].content.fcm
    assert fcm is not None
    assert fcm["android"]["collapse_key"] == "testkey"
    assert fcm["android"]["ttl"] == "10s"
    assert fcm["data"] == {"alert": "Test message", "payload": '{"custom":"data"}'}
    wns = pushes["tok-windows-1"].content.wns
    assert wns is not None
    assert wns["type"] == "wns/toast"
    assert '<text id="1">Text1</text>' in wns["xml"]
    assert pushes["tok-ios-1"].content.data == {"url": "https://example.com/offer"}


async def test_reading_deleting_and_bulk(
    mfp: MobileFirst, recorder: Recorder, worker: Worker
) -> None:
    await devices(mfp)
    message_id = await send(mfp, {"message": {"alert": "TestMessage"}, "notificationType": 3})
    found = await done(mfp, message_id)
    assert found["alert"] == "TestMessage"
    assert found["messageId"] == message_id
    assert found["notificationType"] == 3
    deleted = await mfp.call("DELETE", f"{MESSAGES}/{message_id}")
    assert deleted.status_code == 204
    assert (await mfp.call("GET", f"{MESSAGES}/{message_id}")).status_code == 404
    assert (await mfp.call("DELETE", f"{MESSAGES}/{message_id}")).status_code == 404
    bulk = await mfp.call(
        "POST",
        MESSAGES + "/bulk",
        [
            {"message": {"alert": "one"}, "target": {"deviceIds": ["ios-1"]}},
            {"message": {"alert": "two"}, "target": {"tagNames": ["Silver"]}},
        ],
    )
    assert bulk.status_code == 202, bulk.text
    ids = [m["messageId"] for m in bulk.json()["messages"]]
    for message in ids:
        await done(mfp, message)
    texts = sorted(p.content.alert or "" for _, _, p in recorder.accepted[-2:])
    assert texts == ["one", "two"]
    wrapped = await mfp.call(
        "POST", MESSAGES + "/bulk", {"ArrayOfMessageBody": [{"message": {"alert": "three"}}]}
    )
    assert wrapped.status_code == 202


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"message": {"alert": "x"}, "target": {"tagNames": ["Nope"]}}, 404, "target.tagNames"),
        ({"message": {"alert": "x"}, "target": {"deviceIds": ["nope"]}}, 404, "target.deviceIds"),
        ({"message": {}}, 400, "message.alert"),
        ({"message": {"alert": "x"}, "notificationType": 4}, 400, "notificationType"),
        ({"message": {"alert": "x" * 2049}}, 400, "message.alert"),
        ({"message": {"alert": "x"}, "target": {"platforms": ["Z"]}}, 400, "target.platforms"),
        (
            {"message": {"alert": "x"}, "target": {"deviceIds": ["a"], "userIds": ["b"]}},
            400,
            "target.deviceIds",
        ),
        ({"message": {"alert": "x"}, "settings": {"apns": {"badge": -1}}}, 400,
         "settings.apns.badge"),
    ],
)  # fmt: skip
async def test_refused_messages_name_the_field(
    mfp: MobileFirst, body: dict[str, Any], status: int, field: str
) -> None:
    response = await mfp.call("POST", MESSAGES, body)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field


async def test_a_disabled_application_takes_no_messages(
    mfp: MobileFirst, client: httpx.AsyncClient
) -> None:
    disabled = await mfp.call("PUT", f"/apps/{APP}", {"enabled": "false"})
    assert disabled.json()["enabled"] == "false"
    refused = await mfp.call("POST", MESSAGES, {"message": {"alert": "x"}})
    assert refused.status_code == 400
    assert "disabled" in refused.json()["message"]
    native = await client.get(f"/v1/apps/{APP}/notifications", headers=ADMIN)
    assert native.json()["items"] == []
