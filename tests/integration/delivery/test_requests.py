"""The send API's contract: localization, limits, idempotency, scheduling, receipts."""

from __future__ import annotations

import httpx
import pytest

from pushgate.delivery.worker import Worker
from pushgate.providers.recording import Recorder
from tests.conftest import FixedClock
from tests.integration.delivery.conftest import register, send, status_of, wait_done

pytestmark = pytest.mark.anyio


async def test_each_device_gets_its_best_locale_match(
    client: httpx.AsyncClient, app_key: dict[str, str], recorder: Recorder
) -> None:
    for token, locale in (
        ("t-bay", "de-DE-bay"),
        ("t-ch", "de_CH"),
        ("t-us", "en_US"),
        ("t-fr", "fr"),
        ("t-none", None),
    ):
        fields = {"user": "u"} | ({"locale": locale} if locale else {})
        await register(client, app_key, token, **fields)
    response = await send(
        client,
        app_key,
        {"users": ["u"]},
        {"alert": "Hello!", "badge": 3},
        localized={
            "de": {"alert": "Guten Tag!"},
            "de-DE": {"alert": "Servus!"},
            "EN-us": {"alert": "Howdie!"},
        },
    )
    assert response.status_code == 200, response.text
    got = {token: push.content.alert for _, token, push in recorder.accepted}
    assert got == {
        "t-bay": "Servus!",  # de-DE-bay -> de-DE
        "t-ch": "Guten Tag!",  # de-CH -> de
        "t-us": "Howdie!",  # en_US = en-US, any case
        "t-fr": "Hello!",
        "t-none": "Hello!",
    }
    assert {push.content.badge for _, _, push in recorder.accepted} == {3}  # merged


@pytest.mark.parametrize(
    ("notification", "field"),
    [
        ({"alert": "x" * 2049}, "notification.alert"),
        ({"alert": "x", "sound": "s" * 257}, "notification.sound"),
        ({"alert": "x", "data": {"k": "v" * 2000}}, "notification.data"),
        ({"alert": "x", "badge": -1}, "notification.badge"),
    ],
)
async def test_limits_are_400_naming_the_field_and_store_nothing(
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    notification: dict[str, object],
    field: str,
) -> None:
    response = await send(client, app_key, {"app": True}, notification)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field
    assert "x" * 100 not in response.text  # never echoes the value
    listed = await client.get("/v1/apps/news/notifications", headers=app_key)
    assert listed.json()["items"] == []


async def test_priority_identifier_and_locale_keys_are_checked(
    client: httpx.AsyncClient, app_key: dict[str, str]
) -> None:
    long = await send(client, app_key, {"app": True}, priority="h" * 129)
    assert (long.status_code, long.json()["error"]["field"]) == (400, "priority")
    odd = await send(client, app_key, {"app": True}, priority="urgent")
    assert (odd.status_code, odd.json()["error"]["field"]) == (400, "priority")
    bad_locale = await send(client, app_key, {"app": True}, localized={"12": {"alert": "x"}})
    assert bad_locale.status_code == 400
    assert bad_locale.json()["error"]["field"] == "localized.12"
    non_string = await send(client, app_key, {"app": True}, {"alert": "x", "data": {"k": 1}})
    assert non_string.status_code == 422


async def test_roles_per_target_kind(client: httpx.AsyncClient) -> None:
    from tests.integration.api.helpers import make_app, make_key

    await make_app(client, "news")
    single = {"X-API-Key": await make_key(client, "news", "push_single", alias="single")}
    multiple = {"X-API-Key": await make_key(client, "news", "push_multiple", alias="multi")}
    assert (await send(client, single, {"registrations": ["a" * 32]})).status_code == 200
    assert (await send(client, single, {"users": ["u"]})).status_code == 403
    assert (await send(client, multiple, {"users": ["u"]})).status_code == 200
    assert (await send(client, multiple, {"app": True})).status_code == 403
    assert (await send(client, {}, {"app": True})).status_code == 401


async def test_idempotency_key_returns_the_first_answer_and_sends_once(
    client: httpx.AsyncClient, app_key: dict[str, str], recorder: Recorder
) -> None:
    rid = await register(client, app_key, "tok-1")
    headers = {**app_key, "Idempotency-Key": "order-4711"}
    body = {"target": {"registrations": [rid]}, "notification": {"alert": "Paid"}}
    first = await client.post("/v1/apps/news/notifications", json=body, headers=headers)
    second = await client.post("/v1/apps/news/notifications", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert recorder.tokens() == ["tok-1"]
    other = {"target": {"registrations": [rid]}, "notification": {"alert": "Refund"}}
    reused = await client.post("/v1/apps/news/notifications", json=other, headers=headers)
    assert reused.status_code == 409
    assert reused.json()["error"]["field"] == "idempotency-key"


async def test_idempotency_key_expires_after_24_hours(
    client: httpx.AsyncClient, app_key: dict[str, str], recorder: Recorder, clock: FixedClock
) -> None:
    rid = await register(client, app_key, "tok-1")
    headers = {**app_key, "Idempotency-Key": "k"}
    body = {"target": {"registrations": [rid]}, "notification": {"alert": "x"}}
    first = await client.post("/v1/apps/news/notifications", json=body, headers=headers)
    clock.advance(24 * 3600 + 1)
    later = await client.post("/v1/apps/news/notifications", json=body, headers=headers)
    assert later.status_code == 200
    assert later.json()["id"] != first.json()["id"]
    assert recorder.tokens() == ["tok-1", "tok-1"]


async def test_scheduled_notification_waits_and_can_be_cancelled_until_it_starts(
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    recorder: Recorder,
    clock: FixedClock,
    worker: Worker,
) -> None:
    rid = await register(client, app_key, "tok-1")
    at = (clock.now.replace(microsecond=0)).isoformat().replace("+00:00", "Z")
    later = clock.now.replace(hour=clock.now.hour + 1).isoformat()
    kept = await send(client, app_key, {"registrations": [rid]}, send_at=later)
    dropped = await send(client, app_key, {"registrations": [rid]}, send_at=later)
    assert kept.status_code == dropped.status_code == 202
    assert kept.json()["state"] == "scheduled"
    cancel = await client.delete(
        f"/v1/apps/news/notifications/{dropped.json()['id']}", headers=app_key
    )
    assert cancel.status_code == 204
    assert (await status_of(client, app_key, dropped.json()["id"]))["state"] == "cancelled"
    assert recorder.tokens() == []
    assert at  # an instant in the past or now would not schedule at all
    clock.advance(3601)
    await wait_done(client, app_key, kept.json()["id"])
    assert recorder.tokens() == ["tok-1"]
    too_late = await client.delete(
        f"/v1/apps/news/notifications/{kept.json()['id']}", headers=app_key
    )
    assert too_late.status_code == 409


async def test_receipts_move_a_delivery_forwards_only(
    client: httpx.AsyncClient, app_key: dict[str, str]
) -> None:
    rid = await register(client, app_key, "tok-1")
    response = await send(client, app_key, {"registrations": [rid]})
    delivery = response.json()["results"][0]["delivery_id"]
    nid = response.json()["id"]
    url = f"/v1/deliveries/{delivery}/receipt"
    assert (await client.post(url, json={"status": "RECEIVED"}, headers=app_key)).status_code == 200
    consumed = await client.post(url, json={"status": "CONSUMED"}, headers=app_key)
    assert consumed.json()["status"] == "CONSUMED"
    back = await client.post(url, json={"status": "RECEIVED"}, headers=app_key)
    assert back.status_code == 409
    assert (await client.post(url, json={"status": "SENT"}, headers=app_key)).status_code == 400
    counts = (await status_of(client, app_key, nid))["counts"]
    assert counts["CONSUMED"] == 1
    assert counts["SENT"] == 0
    read = await client.get(f"/v1/deliveries/{delivery}", headers=app_key)
    assert read.json()["status"] == "CONSUMED"
    assert read.json()["attempts"] == 1


async def test_unknown_and_foreign_deliveries_are_the_same_404(
    client: httpx.AsyncClient, app_key: dict[str, str]
) -> None:
    from tests.integration.api.helpers import make_app, make_key

    rid = await register(client, app_key, "tok-1")
    delivery = (await send(client, app_key, {"registrations": [rid]})).json()["results"][0]
    await make_app(client, "other")
    other = {"X-API-Key": await make_key(client, "other", "push_single", "registrations_write")}
    foreign = await client.get(f"/v1/deliveries/{delivery['delivery_id']}", headers=other)
    unknown = await client.get(f"/v1/deliveries/{'0' * 64}", headers=other)
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json()
    receipt = await client.post(
        f"/v1/deliveries/{delivery['delivery_id']}/receipt",
        json={"status": "RECEIVED"},
        headers=other,
    )
    assert receipt.status_code == 404


async def test_bad_input_in_a_bulk_entry_or_device_target_names_its_own_field(
    client: httpx.AsyncClient, app_key: dict[str, str]
) -> None:
    long_alert = {"bulk": [{"user": "u1", "notification": {"alert": "x" * 2049}}]}
    response = await send(client, app_key, long_alert)
    assert (response.status_code, response.json()["error"]["field"]) == (
        400,
        "target.bulk[0].notification.alert",
    )
    no_device = await send(client, app_key, {"user": "u1", "device": ""})
    assert no_device.json()["error"]["field"] == "target.device"
