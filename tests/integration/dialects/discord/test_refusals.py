"""Bad input and bad credentials: Discord's error bodies, and nothing stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pushgate.http.deps import Runtime
from pushgate.store.tables import registration_accounts
from pushgate.store.uow import unit_of_work
from tests.integration.api.helpers import ADMIN, make_key
from tests.integration.dialects.discord.conftest import Users
from tests.integration.dialects.discord.test_devices import DEVICES, auth, registrations

pytestmark = pytest.mark.anyio

SYNC = DEVICES + "/sync"
UNAUTHORIZED = {"code": 0, "message": "401: Unauthorized"}
CHOICES = (
    "Value must be one of ('gcm', 'apns', 'apns_internal', 'apns_voip' or 'apns_internal_voip')."
)


def required(*fields: str) -> dict[str, Any]:
    error = {"_errors": [{"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]}
    return {field: error for field in fields}


def one(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


GOOD = {"provider": "apns", "token": "a1b2c3d4"}
LONG = "a" * 2049
FORM_CASES: list[tuple[str, str, Any, dict[str, Any]]] = [
    ("POST", DEVICES, {}, required("provider", "token")),
    ("POST", DEVICES, None, required("provider", "token")),  # no body at all
    ("POST", DEVICES, {"token": "a1b2"}, required("provider")),
    ("POST", DEVICES, {"provider": "fcm", "token": "a1b2"},
     {"provider": one("BASE_TYPE_CHOICES", CHOICES)}),
    ("POST", DEVICES, {"provider": "GCM", "token": "a1b2"},
     {"provider": one("BASE_TYPE_CHOICES", CHOICES)}),
    ("POST", DEVICES, {"provider": "gcm", "token": ""},
     {"token": one("BASE_TYPE_MIN_LENGTH", "Must be 1 or more in length.")}),
    ("POST", DEVICES, {"provider": "gcm", "token": LONG},
     {"token": one("BASE_TYPE_MAX_LENGTH", "Must be 2048 or fewer in length.")}),
    ("POST", DEVICES, {"provider": "gcm", "token": "a b"},
     {"token": one("STRING_TYPE_REGEX", "String value did not match validation regex.")}),
    ("POST", DEVICES, {"provider": "gcm", "token": 1234},
     {"token": one("BASE_TYPE_STRING", "Must be a string.")}),
    ("POST", DEVICES, {**GOOD, "voip_token": "e5f6"}, required("voip_provider")),
    ("POST", DEVICES, {**GOOD, "voip_provider": "apns_voip"}, required("voip_token")),
    ("POST", DEVICES, {**GOOD, "voip_provider": "apns", "voip_token": "e5f6"},
     {"voip_provider": one(
         "BASE_TYPE_CHOICES", "Value must be one of ('apns_voip' or 'apns_internal_voip')."
     )}),
    ("POST", DEVICES, {**GOOD, "voip_provider": "apns_voip", "voip_token": "e5 f6"},
     {"voip_token": one("STRING_TYPE_REGEX", "String value did not match validation regex.")}),
    ("POST", DEVICES, [GOOD],
     one("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")),
    ("DELETE", DEVICES, {"provider": "apns"}, required("token")),
    ("PUT", SYNC, GOOD, required("push_sync_tokens")),
    ("PUT", SYNC, {**GOOD, "push_sync_tokens": "abc"},
     {"push_sync_tokens": one("LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")}),
    ("PUT", SYNC, {**GOOD, "push_sync_tokens": ["ok", 7, ""]},
     {"push_sync_tokens": {
         "1": one("BASE_TYPE_STRING", "Must be a string."),
         "2": one("BASE_TYPE_MIN_LENGTH", "Must be 1 or more in length."),
     }}),
    ("PUT", SYNC, {**GOOD, "push_sync_tokens": ["t"] * 101},
     {"push_sync_tokens": one("BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")}),
    ("PUT", SYNC, {"provider": "wns", "token": "x", "push_sync_tokens": []},
     {"provider": one("BASE_TYPE_CHOICES", CHOICES)}),
]  # fmt: skip


async def stored(client: httpx.AsyncClient, runtime: Runtime) -> tuple[int, int]:
    """Registrations and synced accounts in the database."""
    async with unit_of_work(runtime.db, readonly=True) as uow:
        rows = (await uow.conn.execute(registration_accounts.select())).all()
    return len(await registrations(client)), len(rows)


@pytest.mark.parametrize(("method", "path", "body", "errors"), FORM_CASES)
async def test_bad_forms_are_discords_invalid_form_body_and_store_nothing(
    client: httpx.AsyncClient,
    users: Users,
    runtime: Runtime,
    method: str,
    path: str,
    body: Any,
    errors: dict[str, Any],
) -> None:
    response = await client.request(method, path, json=body, headers=auth(users.alice))
    assert response.status_code == 400, response.text
    assert response.json() == {"code": 50035, "message": "Invalid Form Body", "errors": errors}
    assert "e5 f6" not in response.text  # rejected values are never echoed
    assert LONG not in response.text
    assert await stored(client, runtime) == (0, 0)


@pytest.mark.parametrize(
    ("content", "content_type", "expected"),
    [
        (b'{"provider": "apns",', "application/json",
         {"code": 50109, "message": "The request body contains invalid JSON."}),
        (b"provider=apns&token=a1b2", "application/x-www-form-urlencoded",
         {"code": 50035, "message": "Invalid Form Body",
          "errors": one("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")}),
    ],
)  # fmt: skip
async def test_bodies_that_are_not_json_objects_are_refused(
    client: httpx.AsyncClient,
    users: Users,
    runtime: Runtime,
    content: bytes,
    content_type: str,
    expected: dict[str, Any],
) -> None:
    headers = {**auth(users.alice), "Content-Type": content_type}
    for method, path in (("POST", DEVICES), ("DELETE", DEVICES), ("PUT", SYNC)):
        response = await client.request(method, path, content=content, headers=headers)
        assert response.status_code == 400, response.text
        assert response.json() == expected
    assert await stored(client, runtime) == (0, 0)


async def test_a_sync_with_a_bad_token_changes_no_synced_account(
    client: httpx.AsyncClient, users: Users, runtime: Runtime
) -> None:
    token = (await client.get(DEVICES + "/sync-token", headers=auth(users.bob))).json()["token"]
    body = {"provider": "gcm", "token": "fcm-1", "push_sync_tokens": [token]}
    assert (await client.put(SYNC, json=body, headers=auth(users.alice))).status_code == 200
    refused = await client.put(
        SYNC, json={**body, "push_sync_tokens": [token, 5]}, headers=auth(users.alice)
    )
    assert refused.status_code == 400
    assert await stored(client, runtime) == (1, 1)


async def test_missing_or_bad_credentials_are_discords_401(
    client: httpx.AsyncClient, users: Users, runtime: Runtime
) -> None:
    api_key = await make_key(client, "news", "registrations_write")
    revoked_user = users.carol
    listed = await client.get("/v1/apps/news/users/carol/tokens", headers=ADMIN)
    token_id = listed.json()["items"][0]["id"]
    revoke = await client.delete(f"/v1/apps/news/users/carol/tokens/{token_id}", headers=ADMIN)
    assert revoke.status_code == 204, revoke.text
    headers_tried: list[dict[str, str]] = [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer "},
        auth("pgu_not-a-token"),
        auth("garbage"),
        auth(api_key),  # an API key is not a user
        {"X-API-Key": api_key},
        {"Authorization": f"Bearer {api_key}"},
        auth(revoked_user),
        {"Authorization": f"Bot {users.alice}"},
    ]
    body = {**GOOD, "push_sync_tokens": []}
    for headers in headers_tried:
        for method, path in (
            ("POST", DEVICES),
            ("DELETE", DEVICES),
            ("GET", DEVICES + "/sync-token"),
            ("PUT", SYNC),
            ("POST", "/api/v10" + DEVICES),
        ):
            send_body = None if method == "GET" else body
            response = await client.request(method, path, json=send_body, headers=headers)
            assert response.status_code == 401, (headers, method, path, response.text)
            assert response.json() == UNAUTHORIZED
    # Credentials before fields: a stranger learns nothing about what a body lacks.
    response = await client.request("PUT", SYNC, json={"token": 5}, headers=auth("garbage"))
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert await stored(client, runtime) == (0, 0)
