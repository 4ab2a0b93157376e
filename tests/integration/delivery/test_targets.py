"""Every kind of target reaches exactly its registrations, never inactive ones."""

from __future__ import annotations

import httpx
import pytest

from pushgate.delivery.worker import Worker
from pushgate.providers.recording import Recorder
from tests.integration.delivery.conftest import register, send, wait_done

pytestmark = pytest.mark.anyio


def alerts(recorder: Recorder) -> dict[str, str | None]:
    return {token: push.content.alert for _, token, push in recorder.accepted}


async def test_registrations_target_reports_unknown_ids_as_not_found(
    client: httpx.AsyncClient, app_key: dict[str, str], recorder: Recorder
) -> None:
    first = await register(client, app_key, "tok-a")
    response = await send(client, app_key, {"registrations": [first, "f" * 32]})
    assert response.status_code == 200, response.text
    results = {r["registration_id"]: r for r in response.json()["results"]}
    assert results[first]["code"] == 0
    assert results[first]["status"] == "SENT"
    assert results["f" * 32]["code"] == 2
    assert results["f" * 32]["status"] == "ERROR"
    assert recorder.tokens() == ["tok-a"]


async def test_device_target_needs_the_matching_user(
    client: httpx.AsyncClient, app_key: dict[str, str], recorder: Recorder
) -> None:
    await register(client, app_key, "tok-a", device_id="dev-1", user="alice")
    await register(client, app_key, "tok-b", device_id="dev-1", user="bob")
    response = await send(client, app_key, {"device": "dev-1", "user": "alice"})
    assert response.status_code == 200, response.text
    assert recorder.tokens() == ["tok-a"]


async def test_users_by_name_and_by_current_or_past_global_id(
    client: httpx.AsyncClient, app_key: dict[str, str], recorder: Recorder
) -> None:
    await register(client, app_key, "tok-alice", user="alice")
    await register(client, app_key, "tok-bob", user="bob", user_uuid="uuid-old")
    # bob's global user id changes; the old one still reaches his device (SAP seed)
    await register(client, app_key, "tok-bob", user="bob", user_uuid="uuid-new")
    await register(client, app_key, "tok-carol", user="carol", user_uuid="uuid-carol")
    response = await send(client, app_key, {"users": ["alice"], "user_uuids": ["uuid-old"]})
    assert response.status_code == 200, response.text
    assert sorted(recorder.tokens()) == ["tok-alice", "tok-bob"]


async def test_bulk_gives_each_user_its_variant_merged_over_the_common_one(
    client: httpx.AsyncClient, app_key: dict[str, str], recorder: Recorder
) -> None:
    await register(client, app_key, "tok-u1", user="user1")
    await register(client, app_key, "tok-u2", user="user2", user_uuid="g-2", locale="de-DE")
    await register(client, app_key, "tok-u3", user="user3")
    response = await send(
        client,
        app_key,
        {
            "bulk": [
                {"user": "user1", "notification": {"alert": "user alert"}},
                {
                    "user_uuid": "g-2",
                    "notification": {"alert": "second"},
                    "localized": {"de": {"alert": "zweite"}},
                },
            ]
        },
        {"alert": "generic alert", "sound": "default"},
    )
    assert response.status_code == 200, response.text
    assert alerts(recorder) == {"tok-u1": "user alert", "tok-u2": "zweite"}
    sounds = {token: push.content.sound for _, token, push in recorder.accepted}
    assert sounds == {"tok-u1": "default", "tok-u2": "default"}


async def test_app_target_reaches_every_active_registration_of_the_app_only(
    client: httpx.AsyncClient, app_key: dict[str, str], recorder: Recorder, worker: Worker
) -> None:
    await register(client, app_key, "tok-1")
    gone = await register(client, app_key, "tok-2")
    await register(client, app_key, "tok-3", platform="android")
    patch = await client.patch(
        f"/v1/apps/news/registrations/{gone}", json={"active": False}, headers=app_key
    )
    assert patch.status_code == 200
    response = await send(client, app_key, {"app": True})
    assert response.status_code == 202, response.text
    status = await wait_done(client, app_key, response.json()["id"])
    assert status["counts"] == {
        "QUEUED": 0,
        "SENT": 2,
        "ERROR": 0,
        "RECEIVED": 0,
        "CONSUMED": 0,
        "CONFIRMED": 0,
    }
    assert sorted(recorder.tokens()) == ["tok-1", "tok-3"]


async def test_topics_any_of_a_list_one_notification_per_device_with_user_filter(
    client: httpx.AsyncClient, app_key: dict[str, str], recorder: Recorder, worker: Worker
) -> None:
    await register(client, app_key, "tok-both", user="u1", topics=["sport", "news"])
    await register(client, app_key, "tok-sport", user="u2", topics=["sport"])
    await register(client, app_key, "tok-other", user="u1", topics=["weather"])
    response = await send(client, app_key, {"topics": ["sport", "news"]})
    await wait_done(client, app_key, response.json()["id"])
    assert sorted(recorder.tokens()) == ["tok-both", "tok-sport"]
    recorder.accepted.clear()
    filtered = await send(client, app_key, {"topics": ["sport", "news"], "users": ["u1"]})
    await wait_done(client, app_key, filtered.json()["id"])
    assert recorder.tokens() == ["tok-both"]


async def test_push_group_and_platform_filter(
    client: httpx.AsyncClient, app_key: dict[str, str], recorder: Recorder, worker: Worker
) -> None:
    await register(client, app_key, "tok-ios", push_group="admins")
    await register(client, app_key, "tok-android", platform="android", push_group="admins")
    await register(client, app_key, "tok-user", push_group="users")
    response = await send(client, app_key, {"push_group": "admins", "platforms": ["G"]})
    await wait_done(client, app_key, response.json()["id"])
    assert recorder.tokens() == ["tok-android"]


async def test_capability_with_form_factor_per_user(
    client: httpx.AsyncClient, app_key: dict[str, str], recorder: Recorder, worker: Worker
) -> None:
    await register(
        client, app_key, "tok-phone", user="user1", form_factor="phone", capabilities=["c1"]
    )
    await register(
        client, app_key, "tok-tablet", user="user1", form_factor="tablet", capabilities=["c1"]
    )
    await register(
        client, app_key, "tok-nocap", user="user1", form_factor="phone", capabilities=["c2"]
    )
    response = await send(
        client,
        app_key,
        {"capability": "c1", "capability_users": [{"user": "user1", "form_factors": ["phone"]}]},
    )
    await wait_done(client, app_key, response.json()["id"])
    assert recorder.tokens() == ["tok-phone"]


async def test_another_apps_registrations_are_never_reached(
    client: httpx.AsyncClient, app_key: dict[str, str], recorder: Recorder, worker: Worker
) -> None:
    from tests.integration.api.helpers import make_app, make_key

    await make_app(client, "other")
    other_key = {"X-API-Key": await make_key(client, "other", "registrations_write")}
    other = await client.post(
        "/v1/apps/other/registrations",
        json={"platform": "ios", "token": "tok-foreign", "topics": ["sport"], "user": "u1"},
        headers=other_key,
    )
    assert other.status_code == 201
    await register(client, app_key, "tok-mine", topics=["sport"], user="u1")
    foreign_id = other.json()["id"]
    for target in ({"topics": ["sport"]}, {"app": True}, {"users": ["u1"]}):
        response = await send(client, app_key, target)
        await wait_done(client, app_key, response.json()["id"])
    by_id = await send(client, app_key, {"registrations": [foreign_id]})
    assert by_id.json()["results"][0]["code"] == 2
    assert set(recorder.tokens()) == {"tok-mine"}


async def test_exactly_one_kind_of_target(
    client: httpx.AsyncClient, app_key: dict[str, str]
) -> None:
    both = await send(client, app_key, {"app": True, "topics": ["x"]})
    assert both.status_code == 400
    assert both.json()["error"]["field"] == "target"
    none = await send(client, app_key, {})
    assert none.status_code == 400
    device_without_user = await send(client, app_key, {"device": "d1"})
    assert device_without_user.status_code == 400
    assert device_without_user.json()["error"]["field"] == "target.user"
