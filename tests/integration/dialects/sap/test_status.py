"""Notification status by the notificationId of pushResults: QUEUED, then SENT, then what
the device reports (CONFIRMED); a dead token is code 6 with the provider's reason, and its
registration is deactivated."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pushgate.delivery.worker import Worker
from pushgate.providers.recording import Recorder
from tests.conftest import FixedClock, wait_for
from tests.integration.api.helpers import ADMIN
from tests.integration.dialects.sap.conftest import Keys, make_user, register_device
from tests.integration.dialects.sap.samples import (
    NOTIFICATION_STATUS,
    PUSH_TO_APPLICATION,
    PUSH_TO_DEVICE,
    PUSH_TO_USERS,
    curl_headers,
)

pytestmark = pytest.mark.anyio
STATUS_PATH = "/mobileservices/push/v1/runtime/applications/news/notifications/{id}/status"


async def status_of(client: httpx.AsyncClient, key: str, notification_id: str) -> dict[str, Any]:
    response = await client.get(
        NOTIFICATION_STATUS.path(notificationId=notification_id),
        headers=curl_headers(key, body=False),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_delivery_goes_queued_then_sent_then_confirmed_by_the_device(
    client: httpx.AsyncClient, keys: Keys, clock: FixedClock, worker: Worker
) -> None:
    user = await make_user(client, "user1")
    registration = await register_device(client, user, "d1", "429-tok")  # 429 once
    response = await client.post(
        PUSH_TO_DEVICE.path(username="user1", deviceId="d1"),
        content=PUSH_TO_DEVICE.body,
        headers=curl_headers(keys.all),
    )
    assert response.status_code == 202, response.text  # queued: the provider said "later"
    (result,) = response.json()["pushResults"]
    assert result["code"] == -1
    nid = result["notificationId"]
    queued = await status_of(client, keys.read, nid)
    assert queued == {
        "status": {"code": -1, "notification": None, "parameters": None},
        "statusDetails": {
            "notificationId": nid,
            "providerReference": None,
            "applicationId": "news",
            "notificationType": "ios",
            "status": "QUEUED",
            "statusInfo": "TooManyRequests",
            "caller": "push",
        },
    }
    # Too early to report: the device cannot have it yet.
    early = await client.put(STATUS_PATH.format(id=nid), json={"status": "RECEIVED"}, headers=user)
    assert early.status_code == 409
    clock.advance(2)  # past Retry-After

    async def sent() -> bool:
        details = (await status_of(client, keys.read, nid))["statusDetails"]
        return bool(details["status"] == "SENT")

    await wait_for(sent, what="the retry to be sent")
    details = (await status_of(client, keys.read, nid))["statusDetails"]
    assert (details["statusInfo"], details["notificationType"]) == (None, "ios")
    reported = await client.put(
        STATUS_PATH.format(id=nid), json={"status": "CONFIRMED"}, headers=user
    )
    assert reported.status_code == 200, reported.text
    assert reported.json()["statusDetails"]["status"] == "CONFIRMED"
    final = await status_of(client, keys.all, nid)
    assert (final["status"]["code"], final["statusDetails"]["status"]) == (0, "CONFIRMED")
    # Reporting it again is no error; going back is.
    again = await client.put(STATUS_PATH.format(id=nid), json={"status": "CONFIRMED"}, headers=user)
    assert again.status_code == 200
    back = await client.post(
        "/mobileservices/push/v1/runtime/applications/news/notifications/status",
        json={"notificationId": nid, "status": "RECEIVED"},
        headers=user,
    )
    assert back.status_code == 409
    assert registration["id"] in nid


async def test_a_queued_notification_not_attempted_yet_reads_queued(
    client: httpx.AsyncClient, keys: Keys, recorder: Recorder
) -> None:
    user = await make_user(client, "user1")
    await register_device(client, user, "d1", "tok-1")
    response = await client.post(
        PUSH_TO_APPLICATION.path(), content=PUSH_TO_APPLICATION.body, headers=curl_headers(keys.all)
    )
    assert response.status_code == 200
    (result,) = response.json()["pushResults"]  # no worker runs: nothing attempted yet
    assert (result["code"], result["message"]) == (-1, "queued: the provider has not answered yet")
    state = await status_of(client, keys.all, result["notificationId"])
    assert state["statusDetails"]["status"] == "QUEUED"
    assert recorder.tokens() == []


async def test_a_dead_token_is_code_6_with_the_reason_and_deactivates_the_registration(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    user = await make_user(client, "user1")
    dead = await register_device(client, user, "d1", "dead-token")
    response = await client.post(
        PUSH_TO_DEVICE.path(username="user1", deviceId="d1"),
        content=PUSH_TO_DEVICE.body,
        headers=curl_headers(keys.all),
    )
    assert response.status_code == 422  # every target refused by its provider
    (result,) = response.json()["pushResults"]
    assert result["code"] == 6
    assert result["message"] == "The device token was rejected by APNs: Unregistered"
    state = await status_of(client, keys.all, result["notificationId"])
    assert state["status"]["code"] == 6
    assert state["statusDetails"]["status"] == "ERROR"
    assert state["statusDetails"]["statusInfo"] == "Unregistered"
    native = await client.get(f"/v1/apps/news/registrations/{dead['id']}", headers=ADMIN)
    assert native.json()["active"] is False
    again = await client.post(
        PUSH_TO_DEVICE.path(username="user1", deviceId="d1"),
        content=PUSH_TO_DEVICE.body,
        headers=curl_headers(keys.all),
    )
    assert again.status_code == 404  # the registration is gone from SAP's view


async def test_one_refused_target_among_sent_ones_is_200(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    user1 = await make_user(client, "user1")
    await register_device(client, user1, "d1", "dead-1")
    await register_device(client, user1, "d2", "tok-2")
    response = await client.post(
        PUSH_TO_USERS.path(), content=PUSH_TO_USERS.body, headers=curl_headers(keys.all)
    )
    assert response.status_code == 200
    assert sorted(r["code"] for r in response.json()["pushResults"]) == [0, 6]


@pytest.mark.parametrize("notification_id", ["nope", "0" * 64, "f" * 64])
async def test_unknown_ids_are_404_in_the_status_shape(
    client: httpx.AsyncClient, keys: Keys, notification_id: str
) -> None:
    response = await client.get(
        NOTIFICATION_STATUS.path(notificationId=notification_id),
        headers=curl_headers(keys.all, body=False),
    )
    assert response.status_code == 404
    body = response.json()
    assert body["statusDetails"] is None
    assert body["status"]["code"] == 2


async def test_another_users_device_cannot_report_a_status(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    user1 = await make_user(client, "user1")
    intruder = await make_user(client, "intruder")
    await register_device(client, user1, "d1", "tok-1")
    response = await client.post(
        PUSH_TO_DEVICE.path(username="user1", deviceId="d1"),
        content=PUSH_TO_DEVICE.body,
        headers=curl_headers(keys.all),
    )
    nid = response.json()["pushResults"][0]["notificationId"]
    report = await client.put(
        STATUS_PATH.format(id=nid), json={"status": "RECEIVED"}, headers=intruder
    )
    assert report.status_code == 404
    bad = await client.put(STATUS_PATH.format(id=nid), json={"status": "SENT"}, headers=user1)
    assert bad.status_code == 400
    assert bad.json()["status"]["parameters"] == ["status"]
