"""The registration API on SQLite and PostgreSQL: upsert, filters, paging, topics, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.integration.api.helpers import ADMIN, key_header, make_app, make_key

pytestmark = pytest.mark.anyio


async def _writer(client: httpx.AsyncClient) -> dict[str, str]:
    await make_app(client, "news")
    key = await make_key(client, "news", "registrations_write", "pushregistrations_read")
    return key_header(key)


async def test_upsert_same_platform_and_token_updates_without_duplicating(
    client: httpx.AsyncClient,
) -> None:
    headers = await _writer(client)
    first = await client.post(
        "/v1/apps/news/registrations",
        json={"platform": "ios", "token": "tok-1", "user": "alice", "locale": "de-DE"},
        headers=headers,
    )
    assert first.status_code == 201, first.text
    # "apns" is the canonical name of the "ios" alias: the same registration.
    second = await client.post(
        "/v1/apps/news/registrations",
        json={"platform": "apns", "token": "tok-1", "user": "bob"},
        headers=headers,
    )
    assert second.status_code == 200, second.text
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["user"] == "bob"
    assert second.json()["locale"] == "de-DE"  # not named in the second write: kept
    listed = await client.get("/v1/apps/news/registrations", headers=headers)
    assert [r["id"] for r in listed.json()["items"]] == [first.json()["id"]]


async def test_aliases_resolve_to_canonical_platforms_and_sandbox(
    client: httpx.AsyncClient,
) -> None:
    headers = await _writer(client)
    cases = {
        "A": ("apns", False),
        "Apple": ("apns", False),
        "apns_internal": ("apns", True),
        "apns_internal_voip": ("apns_voip", True),
        "G": ("fcm", False),
        "gcm": ("fcm", False),
        "android": ("fcm", False),
        "W": ("wns", False),
        "sms": ("sms", False),
    }
    for index, (alias, (platform, sandbox)) in enumerate(cases.items()):
        response = await client.post(
            "/v1/apps/news/registrations",
            json={"platform": alias, "token": f"t{index}"},
            headers=headers,
        )
        assert response.status_code == 201, (alias, response.text)
        assert (response.json()["platform"], response.json()["sandbox"]) == (platform, sandbox)


async def test_filters_by_user_topic_platform_capability_and_old_user_uuid(
    client: httpx.AsyncClient,
) -> None:
    headers = await _writer(client)
    devices = [
        {"platform": "ios", "token": "a", "user": "alice", "topics": ["sport"], "user_uuid": "u1"},
        {"platform": "android", "token": "b", "user": "alice", "capabilities": ["chat"]},
        {
            "platform": "webpush",
            "token": "https://push.example/c",
            "user": "bob",
            "keys": {"p256dh": "BPk", "auth": "au"},
            "topics": ["sport", "news"],
        },
    ]
    for device in devices:
        response = await client.post("/v1/apps/news/registrations", json=device, headers=headers)
        assert response.status_code == 201, response.text
    moved = await client.post(
        "/v1/apps/news/registrations",
        json={"platform": "ios", "token": "a", "user_uuid": "u2"},
        headers=headers,
    )
    assert moved.json()["user_uuid_history"] == ["u1", "u2"]

    async def tokens(**params: str) -> list[str]:
        response = await client.get("/v1/apps/news/registrations", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return sorted(r["token"] for r in response.json()["items"])

    assert await tokens(user="alice") == ["a", "b"]
    assert await tokens(topic="sport") == ["a", "https://push.example/c"]
    assert await tokens(topic="news", user="bob") == ["https://push.example/c"]
    assert await tokens(platform="G") == ["b"]
    assert await tokens(capability="chat") == ["b"]
    assert await tokens(user_uuid="u1") == ["a"]  # an old global user id still finds it
    assert await tokens(user="nobody") == []


async def test_cursor_paging_visits_every_registration_once(client: httpx.AsyncClient) -> None:
    headers = await _writer(client)
    for index in range(7):
        await client.post(
            "/v1/apps/news/registrations",
            json={"platform": "fcm", "token": f"tok{index}"},
            headers=headers,
        )
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = (
            await client.get("/v1/apps/news/registrations", params=params, headers=headers)
        ).json()
        seen += [r["token"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"tok{i}" for i in range(7)]


async def test_topics_named_in_a_registration_are_created_and_replaced(
    client: httpx.AsyncClient,
) -> None:
    headers = await _writer(client)
    created = await client.post(
        "/v1/apps/news/registrations",
        json={"platform": "fcm", "token": "t", "topics": ["a", "b"]},
        headers=headers,
    )
    reg_id = created.json()["id"]
    topics = (await client.get("/v1/apps/news/topics", headers=headers)).json()["items"]
    assert {t["name"]: t["subscribers"] for t in topics} == {"a": 1, "b": 1}
    patched = await client.patch(
        f"/v1/apps/news/registrations/{reg_id}", json={"topics": ["b", "c"]}, headers=headers
    )
    assert patched.json()["topics"] == ["b", "c"]
    put = await client.put(f"/v1/apps/news/registrations/{reg_id}/topics/d", headers=headers)
    assert put.json()["topics"] == ["b", "c", "d"]
    gone = await client.delete(f"/v1/apps/news/registrations/{reg_id}/topics/b", headers=headers)
    assert gone.status_code == 204
    again = await client.delete(f"/v1/apps/news/registrations/{reg_id}/topics/b", headers=headers)
    assert again.status_code == 404
    final = await client.get(f"/v1/apps/news/registrations/{reg_id}", headers=headers)
    assert final.json()["topics"] == ["c", "d"]


async def test_deactivate_and_reregister_reactivates(client: httpx.AsyncClient) -> None:
    headers = await _writer(client)
    reg = (
        await client.post(
            "/v1/apps/news/registrations", json={"platform": "fcm", "token": "t"}, headers=headers
        )
    ).json()
    off = await client.patch(
        f"/v1/apps/news/registrations/{reg['id']}", json={"active": False}, headers=headers
    )
    assert off.json()["active"] is False
    assert off.json()["deactivated_at"] is not None
    inactive = await client.get(
        "/v1/apps/news/registrations", params={"active": "false"}, headers=headers
    )
    assert [r["id"] for r in inactive.json()["items"]] == [reg["id"]]
    back = await client.post(
        "/v1/apps/news/registrations", json={"platform": "fcm", "token": "t"}, headers=headers
    )
    assert back.json()["active"] is True
    assert back.json()["deactivated_at"] is None


async def test_bad_input_names_the_field_and_writes_nothing(client: httpx.AsyncClient) -> None:
    headers = await _writer(client)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"platform": "ios", "token": "t", "colour": "red"}, 400, "colour"),
        ({"platform": "pager", "token": "t"}, 400, "platform"),
        ({"platform": "ios"}, 422, "token"),
        ({"platform": "ios", "token": "t", "sandbox": "maybe"}, 422, "sandbox"),
        ({"platform": "ios", "token": "t", "time_zone": "Mars/Olympus"}, 422, "time_zone"),
        ({"platform": "ios", "token": "t", "locale": "not a locale"}, 422, "locale"),
        ({"platform": "ios", "token": "t", "topics": ["ok", "bad/name"]}, 400, "topics[1]"),
        ({"platform": "webpush", "token": "https://push.example/x"}, 400, "keys"),
        ({"platform": "ios", "token": "has space"}, 400, "token"),
    ]
    secret_value = "s3cr3t-value-never-echoed"
    for body, status, field in cases:
        if "colour" not in body:
            body = {**body, "device_model": secret_value}
        response = await client.post("/v1/apps/news/registrations", json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["field"] == field, response.text
        assert secret_value not in response.text
    assert (await client.get("/v1/apps/news/registrations", headers=headers)).json()["items"] == []
    topics = (await client.get("/v1/apps/news/topics", headers=headers)).json()["items"]
    assert topics == []  # the refused registration created none of its topics


async def test_malformed_json_wrong_media_type_and_oversized_body(
    client: httpx.AsyncClient,
) -> None:
    headers = await _writer(client)
    url = "/v1/apps/news/registrations"
    bad_json = await client.post(
        url, content=b"{nope", headers={**headers, "content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["error"]["code"] == "invalid"
    text = await client.post(url, content=b"x=1", headers={**headers, "content-type": "text/plain"})
    assert text.status_code == 415
    big = b'{"platform": "ios", "token": "' + b"a" * (1024 * 1024) + b'"}'
    too_big = await client.post(
        url, content=big, headers={**headers, "content-type": "application/json"}
    )
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "body_too_large"

    async def streamed() -> AsyncIterator[bytes]:
        yield b'{"platform": "ios", "token": "'
        for _ in range(20):
            yield b"a" * 65536
        yield b'"}'

    chunked = await client.post(
        url, content=streamed(), headers={**headers, "content-type": "application/json"}
    )
    assert chunked.status_code == 413
    assert (await client.get(url, headers=headers)).json()["items"] == []


async def test_delete_registration_then_404(client: httpx.AsyncClient) -> None:
    headers = await _writer(client)
    reg = (
        await client.post(
            "/v1/apps/news/registrations", json={"platform": "fcm", "token": "t"}, headers=headers
        )
    ).json()
    url = f"/v1/apps/news/registrations/{reg['id']}"
    assert (await client.delete(url, headers=headers)).status_code == 204
    assert (await client.get(url, headers=headers)).status_code == 404
    assert (await client.delete(url, headers=ADMIN)).status_code == 404
