"""The bulk import endpoint on SQLite and PostgreSQL: each row as a single registration."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.api.helpers import ADMIN, key_header, make_app, make_key

pytestmark = pytest.mark.anyio

IMPORT = "/v1/apps/news/registrations/import"
SINGLE = "/v1/apps/news/registrations"
# What a registration answer holds that depends on when or by which path it was written.
_VOLATILE = ("id", "created_at", "updated_at", "last_seen_at", "deactivated_at")


async def _writer(client: httpx.AsyncClient) -> dict[str, str]:
    await make_app(client, "news")
    key = await make_key(client, "news", "registrations_write", "pushregistrations_read")
    return key_header(key)


async def _import(
    client: httpx.AsyncClient, headers: dict[str, str], rows: list[dict[str, Any]]
) -> dict[str, Any]:
    response = await client.post(IMPORT, json={"rows": rows}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _stored(client: httpx.AsyncClient, headers: dict[str, str], rid: str) -> dict[str, Any]:
    response = await client.get(f"{SINGLE}/{rid}", headers=headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def _comparable(registration: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in registration.items() if k not in _VOLATILE}


async def test_a_bad_row_is_refused_alone_with_the_single_requests_answer(
    client: httpx.AsyncClient,
) -> None:
    headers = await _writer(client)
    bad_rows: list[dict[str, Any]] = [
        {"platform": "pager", "token": "x"},  # a rule of the service: 400
        {"platform": "ios"},  # missing token: 422
        {"platform": "ios", "token": "t", "colour": "red"},  # unknown field: 400
        {"platform": "ios", "token": "with space"},  # token rule: 400
        {"platform": "ios", "token": "t2", "time_zone": "Mars/Base"},  # validation: 422
        {"platform": "ios", "token": "t3", "topics": ["bad/topic"]},  # topic name rule
        {"platform": "ios", "token": "t4", "user": "nul\u0000"},  # text no database stores
    ]
    rows = [{"platform": "ios", "token": "good-1"}, *bad_rows, {"platform": "G", "token": "good-2"}]
    answer = await _import(client, headers, rows)
    assert (answer["created"], answer["updated"], answer["rejected"]) == (2, 0, len(bad_rows))
    results = answer["results"]
    assert [r["index"] for r in results] == list(range(len(rows)))
    assert [r["status"] for r in results] == ["created", *["rejected"] * len(bad_rows), "created"]
    for row, result in zip(bad_rows, results[1:-1], strict=True):
        single = await client.post(SINGLE, json=row, headers=headers)
        error = single.json()["error"]
        expected = {
            "status": single.status_code,
            "code": error["code"],
            "message": error["message"],
            "field": error["field"],
        }
        assert result["error"] == expected, row
        assert result["id"] is None
    listed = await client.get(SINGLE, headers=headers)
    assert sorted(r["token"] for r in listed.json()["items"]) == ["good-1", "good-2"]


async def test_imported_rows_equal_what_single_requests_store(client: httpx.AsyncClient) -> None:
    headers = await _writer(client)
    full: dict[str, Any] = {
        "platform": "apns_internal",
        "token": "tok",
        "user": "alice",
        "user_uuid": "uuid-1",
        "device_id": "dev",
        "email": "a@example.com",
        "external_id": "ext",
        "locale": "de-DE",
        "time_zone": "Europe/Berlin",
        "form_factor": "phone",
        "device_model": "iPhone15,2",
        "push_group": "beta",
        "capabilities": ["chat", "calls"],
        "topics": ["sport", "news"],
    }
    rows: list[dict[str, Any]] = [
        {**full, "token": "imported"},
        {
            "platform": "webpush",
            "token": "https://push.example/s1",
            "keys": {"p256dh": "BNc", "auth": "tB"},
            "topics": [],
        },
        {"platform": "sms", "token": "+4915112345678", "active": False},
    ]
    answer = await _import(client, headers, rows)
    assert answer["created"] == 3, answer
    for row, result in zip(rows, answer["results"], strict=True):
        single = await client.post(
            SINGLE, json={**row, "token": row["token"] + "-single"}, headers=headers
        )
        assert single.status_code == 201, single.text
        imported = _comparable(await _stored(client, headers, result["id"]))
        expected = _comparable(single.json())
        assert imported.pop("token") == row["token"]
        assert expected.pop("token") == row["token"] + "-single"
        assert imported == expected


async def test_import_updates_by_platform_and_token_keeping_unnamed_fields(
    client: httpx.AsyncClient,
) -> None:
    headers = await _writer(client)
    first = await client.post(
        SINGLE,
        json={
            "platform": "ios",
            "token": "t1",
            "user": "alice",
            "locale": "fr",
            "topics": ["a", "b"],
            "capabilities": ["x"],
            "user_uuid": "old",
        },
        headers=headers,
    )
    assert first.status_code == 201, first.text
    await client.patch(f"{SINGLE}/{first.json()['id']}", json={"active": False}, headers=headers)
    answer = await _import(
        client,
        headers,
        [
            {
                "platform": "apns",
                "token": "t1",
                "user": "bob",
                "topics": ["b", "c"],
                "capabilities": [],
                "user_uuid": "new",
            }
        ],
    )
    assert answer["results"] == [
        {"index": 0, "status": "updated", "id": first.json()["id"], "error": None}
    ]
    stored = await _stored(client, headers, first.json()["id"])
    assert stored["user"] == "bob"
    assert stored["locale"] == "fr"  # not named: kept
    assert stored["topics"] == ["b", "c"]
    assert stored["capabilities"] == []
    assert stored["user_uuid_history"] == ["old", "new"]
    assert stored["active"] is True  # registering again revives a device
    assert stored["deactivation_reason"] is None
    by_topic = await client.get(SINGLE, params={"topic": "a"}, headers=headers)
    assert by_topic.json()["items"] == []


async def test_a_repeated_token_applies_in_file_order(client: httpx.AsyncClient) -> None:
    headers = await _writer(client)
    answer = await _import(
        client,
        headers,
        [
            {"platform": "ios", "token": "same", "user": "first", "topics": ["one"]},
            {"platform": "android", "token": "other"},
            {"platform": "apns", "token": "same", "locale": "de"},
            {"platform": "A", "token": "same", "user": "third"},
        ],
    )
    statuses = [r["status"] for r in answer["results"]]
    assert statuses == ["created", "created", "updated", "updated"]
    ids = {answer["results"][i]["id"] for i in (0, 2, 3)}
    assert len(ids) == 1
    stored = await _stored(client, headers, ids.pop())
    assert (stored["user"], stored["locale"], stored["topics"]) == ("third", "de", ["one"])


async def test_web_push_keys_are_needed_to_create_not_to_update(
    client: httpx.AsyncClient,
) -> None:
    headers = await _writer(client)
    endpoint = "https://push.example/sub/1"
    keyless = {"platform": "webpush", "token": endpoint, "user": "carol"}
    answer = await _import(client, headers, [keyless])
    error = answer["results"][0]["error"]
    assert (error["status"], error["field"]) == (400, "keys")
    created = await client.post(
        SINGLE,
        json={"platform": "webpush", "token": endpoint, "keys": {"p256dh": "k", "auth": "a"}},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    answer = await _import(client, headers, [keyless])
    assert answer["results"][0]["status"] == "updated"
    stored = await _stored(client, headers, created.json()["id"])
    assert (stored["user"], stored["keys"]) == ("carol", {"p256dh": "k", "auth": "a"})


async def test_web_push_endpoints_at_private_addresses_are_refused_per_row(
    client: httpx.AsyncClient,
) -> None:
    headers = await _writer(client)
    keys = {"p256dh": "k", "auth": "a"}
    answer = await _import(
        client,
        headers,
        [
            {"platform": "webpush", "token": "https://127.0.0.1/sub/1", "keys": keys},
            {"platform": "webpush", "token": "https://93.184.215.14/sub/2", "keys": keys},
        ],
    )
    first, second = answer["results"]
    assert first["status"] == "rejected"
    assert (first["error"]["field"], first["error"]["status"]) == ("token", 400)
    assert second["status"] == "created"


async def test_import_needs_registrations_write_and_at_most_1000_rows(
    client: httpx.AsyncClient,
) -> None:
    await make_app(client, "news")
    reader = key_header(await make_key(client, "news", "pushregistrations_read"))
    refused = await client.post(
        IMPORT, json={"rows": [{"platform": "ios", "token": "t"}]}, headers=reader
    )
    assert refused.status_code == 403, refused.text
    too_many = [{"platform": "ios", "token": f"t{i}"} for i in range(1001)]
    response = await client.post(IMPORT, json={"rows": too_many}, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "rows"
    empty = await client.post(IMPORT, json={"rows": []}, headers=ADMIN)
    assert empty.status_code == 422, empty.text


async def test_a_thousand_rows_in_one_request(client: httpx.AsyncClient) -> None:
    headers = await _writer(client)
    rows = [
        {
            "platform": ("ios", "android")[i % 2],
            "token": f"tok-{i:05d}",
            "user": f"u{i % 37}",
            "topics": [f"t{i % 5}"],
            "locale": "de-DE",
        }
        for i in range(1000)
    ]
    answer = await _import(client, headers, rows)
    assert answer["created"] == 1000, answer["rejected"]
    again = await _import(client, headers, [{**row, "topics": ["t0"]} for row in rows])
    assert again["updated"] == 1000
    assert [r["id"] for r in again["results"]] == [r["id"] for r in answer["results"]]
    topic = await client.get("/v1/apps/news/topics/t0", headers=headers)
    assert topic.json()["subscribers"] == 1000
