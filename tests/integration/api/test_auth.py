"""Authentication and roles on SQLite and PostgreSQL: the admin key, app keys in every accepted
scheme, 401 versus 403, key management, and OAuth2 client-credentials tokens."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import event

from pushgate.http.deps import Runtime
from tests.conftest import ADMIN_KEY
from tests.integration.api.helpers import ADMIN, key_header, make_app, make_key

pytestmark = pytest.mark.anyio

ALL_ROLES = [
    "app_admin",
    "push_all",
    "push_multiple",
    "push_single",
    "pushregistrations_read",
    "registrations_write",
]
DEVICE = {"platform": "fcm", "token": "device-token-1"}
WRONG_SIGNING_KEY = "a-wrong-signing-key-of-at-least-32-bytes"


def basic(alias: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{alias}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _news_with_device(client: httpx.AsyncClient) -> str:
    """App "news" with one registration (subscribed to topic "sport"); returns its id."""
    await make_app(client, "news")
    response = await client.post(
        "/v1/apps/news/registrations", json={**DEVICE, "topics": ["sport"]}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    registration_id: str = response.json()["id"]
    return registration_id


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, response.text
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


def assert_unauthenticated(response: httpx.Response) -> None:
    assert_error(response, 401, "unauthenticated")
    assert response.headers.get("www-authenticate"), response.headers


def assert_forbidden(response: httpx.Response) -> None:
    assert_error(response, 403, "forbidden")


async def _token(
    client: httpx.AsyncClient, alias: str, key: str, scope: str | None = None
) -> httpx.Response:
    form = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    return await client.post("/v1/oauth/token", data=form, headers=basic(alias, key))


async def _access_token(
    client: httpx.AsyncClient, alias: str, key: str, scope: str | None = None
) -> str:
    response = await _token(client, alias, key, scope)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


# --- the admin key and the three ways to present an app key ----------------------------------


async def test_admin_key_works_as_x_api_key_and_bearer(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    for headers in (ADMIN, bearer(ADMIN_KEY)):
        response = await client.get("/v1/apps", headers=headers)
        assert response.status_code == 200, response.text
        assert [a["name"] for a in response.json()["items"]] == ["news"]
        assert (await client.get("/v1/apps/news/keys", headers=headers)).status_code == 200


async def test_app_key_accepted_as_x_api_key_bearer_and_basic(client: httpx.AsyncClient) -> None:
    await _news_with_device(client)
    key = await make_key(client, "news", "pushregistrations_read", alias="reader")
    for headers in (key_header(key), bearer(key), basic("reader", key)):
        response = await client.get("/v1/apps/news/registrations", headers=headers)
        assert response.status_code == 200, (headers, response.text)
        assert [r["token"] for r in response.json()["items"]] == [DEVICE["token"]]


async def test_basic_with_another_alias_is_401(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    key = await make_key(client, "news", "pushregistrations_read", alias="reader")
    await make_key(client, "news", "pushregistrations_read", alias="other")
    for alias in ("other", "Reader", "", "admin"):
        response = await client.get("/v1/apps/news/registrations", headers=basic(alias, key))
        assert_unauthenticated(response)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


BAD_CREDENTIALS: dict[str, dict[str, str]] = {
    "none": {},
    "empty-x-api-key": {"X-API-Key": ""},
    "wrong-x-api-key": {"X-API-Key": "pgk_not-a-key"},
    "admin-key-with-suffix": {"X-API-Key": ADMIN_KEY + "x"},
    "wrong-bearer": {"Authorization": "Bearer pgk_not-a-key"},
    "empty-bearer": {"Authorization": "Bearer "},
    "garbage-jwt": {"Authorization": "Bearer a.b.c"},
    "wrong-basic-key": {"Authorization": "Basic " + _b64(b"k:pgk_not-a-key")},
    "basic-not-base64": {"Authorization": "Basic %%%not-base64%%%"},
    "basic-without-colon": {"Authorization": "Basic " + _b64(b"just-a-key")},
    "basic-not-utf8": {"Authorization": "Basic " + _b64(b"\xff\xfe:\xff")},
    "unknown-scheme": {"Authorization": "Digest username=k"},
    "scheme-only": {"Authorization": "Basic"},
}


@pytest.mark.parametrize("headers", BAD_CREDENTIALS.values(), ids=BAD_CREDENTIALS.keys())
async def test_missing_wrong_or_malformed_credentials_are_401_with_envelope(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    await _news_with_device(client)
    await make_key(client, "news", *ALL_ROLES, alias="k")
    for method, path in (
        ("GET", "/v1/apps/news/registrations"),
        ("POST", "/v1/apps/news/registrations"),
        ("GET", "/v1/apps"),
        ("GET", "/v1/apps/no-such-app/topics"),
    ):
        body = {"platform": "fcm", "token": "intruder"} if method == "POST" else None
        response = await client.request(method, path, json=body, headers=headers)
        assert_unauthenticated(response)
    listed = await client.get("/v1/apps/news/registrations", headers=ADMIN)
    assert [r["token"] for r in listed.json()["items"]] == [DEVICE["token"]]


# --- roles: 403 for a valid key lacking the role ------------------------------------------------


async def test_push_single_key_cannot_write_or_list_registrations(
    client: httpx.AsyncClient,
) -> None:
    registration_id = await _news_with_device(client)
    headers = key_header(await make_key(client, "news", "push_single"))
    assert_forbidden(
        await client.post(
            "/v1/apps/news/registrations", json={"platform": "fcm", "token": "t2"}, headers=headers
        )
    )
    assert_forbidden(await client.get("/v1/apps/news/registrations", headers=headers))
    assert_forbidden(
        await client.get(f"/v1/apps/news/registrations/{registration_id}", headers=headers)
    )
    assert_forbidden(await client.get("/v1/apps/news/topics", headers=headers))
    assert_forbidden(await client.get("/v1/apps/news/keys", headers=headers))
    listed = await client.get("/v1/apps/news/registrations", headers=ADMIN)
    assert [r["token"] for r in listed.json()["items"]] == [DEVICE["token"]]


async def test_read_key_lists_registrations_but_cannot_write(client: httpx.AsyncClient) -> None:
    registration_id = await _news_with_device(client)
    headers = key_header(await make_key(client, "news", "pushregistrations_read"))
    before = await client.get(f"/v1/apps/news/registrations/{registration_id}", headers=headers)
    assert before.status_code == 200, before.text
    assert (await client.get("/v1/apps/news/registrations", headers=headers)).status_code == 200
    assert (await client.get("/v1/apps/news/topics", headers=headers)).status_code == 200
    assert (await client.get("/v1/apps/news/topics/sport", headers=headers)).status_code == 200
    one = f"/v1/apps/news/registrations/{registration_id}"
    refused = [
        await client.post(
            "/v1/apps/news/registrations", json={**DEVICE, "user": "mallory"}, headers=headers
        ),
        await client.patch(one, json={"user": "mallory"}, headers=headers),
        await client.delete(one, headers=headers),
        await client.put(f"{one}/topics/news", headers=headers),
        await client.delete(f"{one}/topics/sport", headers=headers),
        await client.post("/v1/apps/news/topics", json={"name": "x"}, headers=headers),
        await client.patch(
            "/v1/apps/news/topics/sport", json={"description": "x"}, headers=headers
        ),
        await client.delete("/v1/apps/news/topics/sport", headers=headers),
        await client.get("/v1/apps/news/credentials", headers=headers),
    ]
    for response in refused:
        assert_forbidden(response)
    after = await client.get(one, headers=headers)
    assert after.json() == before.json()


async def test_write_key_cannot_manage_keys_credentials_or_the_app(
    client: httpx.AsyncClient,
) -> None:
    await _news_with_device(client)
    await make_key(client, "news", "app_admin", alias="boss")
    headers = key_header(await make_key(client, "news", "registrations_write", alias="writer"))
    created = await client.post(
        "/v1/apps/news/registrations", json={"platform": "apns", "token": "t2"}, headers=headers
    )
    assert created.status_code == 201, created.text
    wns = {"client_id": "x", "client_secret": "y"}
    refused = [
        await client.post(
            "/v1/apps/news/keys", json={"alias": "mine", "roles": ["app_admin"]}, headers=headers
        ),
        await client.get("/v1/apps/news/keys", headers=headers),
        await client.get("/v1/apps/news/keys/boss", headers=headers),
        await client.delete("/v1/apps/news/keys/boss", headers=headers),
        await client.put("/v1/apps/news/credentials/wns", json=wns, headers=headers),
        await client.get("/v1/apps/news/credentials", headers=headers),
        await client.get("/v1/apps/news/credentials/wns", headers=headers),
        await client.delete("/v1/apps/news/credentials/wns", headers=headers),
        await client.patch("/v1/apps/news", json={"description": "mine"}, headers=headers),
        await client.delete("/v1/apps/news", headers=headers),
    ]
    for response in refused:
        assert_forbidden(response)
    keys = await client.get("/v1/apps/news/keys", headers=ADMIN)
    assert sorted(k["alias"] for k in keys.json()["items"]) == ["boss", "writer"]
    assert (await client.get("/v1/apps/news/credentials", headers=ADMIN)).json()["items"] == []


async def test_app_admin_manages_its_app_but_cannot_create_or_delete_apps(
    client: httpx.AsyncClient,
) -> None:
    registration_id = await _news_with_device(client)
    headers = key_header(await make_key(client, "news", "app_admin", alias="boss"))
    base = "/v1/apps/news"
    one = f"{base}/registrations/{registration_id}"
    allowed: list[tuple[str, str, dict[str, Any] | None, int]] = [
        ("GET", base, None, 200),
        ("PATCH", base, {"description": "mine"}, 200),
        ("POST", f"{base}/keys", {"alias": "ci", "roles": ["push_single"]}, 201),
        ("GET", f"{base}/keys", None, 200),
        ("GET", f"{base}/keys/ci", None, 200),
        ("DELETE", f"{base}/keys/ci", None, 204),
        ("PUT", f"{base}/credentials/wns", {"client_id": "x", "client_secret": "y"}, 200),
        ("GET", f"{base}/credentials", None, 200),
        ("GET", f"{base}/credentials/wns", None, 200),
        ("DELETE", f"{base}/credentials/wns", None, 204),
        ("POST", f"{base}/registrations", {"platform": "wns", "token": "t2"}, 201),
        ("GET", f"{base}/registrations", None, 200),
        ("GET", one, None, 200),
        ("PATCH", one, {"user": "alice"}, 200),
        ("PUT", f"{one}/topics/news", None, 200),
        ("DELETE", f"{one}/topics/news", None, 204),
        ("POST", f"{base}/topics", {"name": "weather"}, 201),
        ("GET", f"{base}/topics", None, 200),
        ("PATCH", f"{base}/topics/weather", {"description": "rain"}, 200),
        ("DELETE", f"{base}/topics/weather", None, 204),
        ("DELETE", one, None, 204),
    ]
    for method, path, body, status in allowed:
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == status, (method, path, response.text)
    assert_forbidden(await client.post("/v1/apps", json={"name": "mine"}, headers=headers))
    assert_forbidden(await client.delete(base, headers=headers))
    assert_forbidden(await client.patch(base, json={"name": "renamed"}, headers=headers))
    apps = await client.get("/v1/apps", headers=ADMIN)
    assert [a["name"] for a in apps.json()["items"]] == ["news"]


async def test_app_key_lists_only_its_own_app(client: httpx.AsyncClient) -> None:
    for name in ("alpha", "news", "zulu"):
        await make_app(client, name)
    key = await make_key(client, "news", *ALL_ROLES)
    for headers in (key_header(key), basic("k", key)):
        response = await client.get("/v1/apps", headers=headers)
        assert response.status_code == 200, response.text
        assert [a["name"] for a in response.json()["items"]] == ["news"]
        assert response.json()["next_cursor"] is None
        paged = await client.get("/v1/apps", params={"limit": 1}, headers=headers)
        assert [a["name"] for a in paged.json()["items"]] == ["news"]
        assert_forbidden(await client.get("/v1/apps/alpha", headers=headers))
    everything = await client.get("/v1/apps", headers=ADMIN)
    assert [a["name"] for a in everything.json()["items"]] == ["alpha", "news", "zulu"]


# --- key management -------------------------------------------------------------------------------


async def test_key_is_shown_once_at_creation_and_never_listed(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    created = await client.post(
        "/v1/apps/news/keys",
        json={"alias": "ci", "roles": ["registrations_write", "push_single"]},
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"alias", "key", "roles"}
    assert body["alias"] == "ci"
    assert body["roles"] == ["push_single", "registrations_write"]
    key = body["key"]
    assert isinstance(key, str)
    assert len(key) >= 32
    listed = await client.get("/v1/apps/news/keys", headers=ADMIN)
    assert listed.status_code == 200, listed.text
    assert [k["alias"] for k in listed.json()["items"]] == ["ci"]
    one = await client.get("/v1/apps/news/keys/ci", headers=ADMIN)
    assert one.status_code == 200, one.text
    for response in (listed, one):
        assert key not in response.text
        assert key[4:20] not in response.text
    assert "key" not in one.json()
    assert all("key" not in item for item in listed.json()["items"])
    # The key shown works.
    upsert = await client.post("/v1/apps/news/registrations", json=DEVICE, headers=key_header(key))
    assert upsert.status_code == 201, upsert.text


async def test_unknown_role_is_422_naming_the_field_and_creates_nothing(
    client: httpx.AsyncClient,
) -> None:
    await make_app(client, "news")
    response = await client.post(
        "/v1/apps/news/keys",
        json={"alias": "ci", "roles": ["superuser_zq9", "push_single"]},
        headers=ADMIN,
    )
    error = assert_error(response, 422, "invalid")
    assert error["field"] == "roles[0]"
    assert "superuser_zq9" not in response.text  # the rejected value is never echoed
    empty = await client.post(
        "/v1/apps/news/keys", json={"alias": "ci", "roles": []}, headers=ADMIN
    )
    assert empty.status_code in (400, 422), empty.text
    assert empty.json()["error"]["field"] == "roles"
    listed = await client.get("/v1/apps/news/keys", headers=ADMIN)
    assert listed.json()["items"] == []


async def test_duplicate_alias_is_409_and_keeps_the_first_key(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    first = await make_key(client, "news", "pushregistrations_read", alias="ci")
    again = await client.post(
        "/v1/apps/news/keys", json={"alias": "ci", "roles": ["app_admin"]}, headers=ADMIN
    )
    assert_error(again, 409, "conflict")
    assert "key" not in again.json()
    listed = await client.get("/v1/apps/news/keys", headers=ADMIN)
    assert [(k["alias"], k["roles"]) for k in listed.json()["items"]] == [
        ("ci", ["pushregistrations_read"])
    ]
    ok = await client.get("/v1/apps/news/registrations", headers=key_header(first))
    assert ok.status_code == 200, ok.text
    # The same alias in another app is a different key.
    await make_app(client, "other")
    await make_key(client, "other", "push_single", alias="ci")


async def test_revoked_key_is_401_at_once_in_every_scheme(client: httpx.AsyncClient) -> None:
    await _news_with_device(client)
    key = await make_key(client, "news", "pushregistrations_read", alias="ci")
    keep = await make_key(client, "news", "pushregistrations_read", alias="keep")
    schemes = (key_header(key), bearer(key), basic("ci", key))
    for headers in schemes:
        ok = await client.get("/v1/apps/news/registrations", headers=headers)
        assert ok.status_code == 200, ok.text
    revoked = await client.delete("/v1/apps/news/keys/ci", headers=ADMIN)
    assert revoked.status_code == 204, revoked.text
    for headers in schemes:
        assert_unauthenticated(await client.get("/v1/apps/news/registrations", headers=headers))
    again = await client.delete("/v1/apps/news/keys/ci", headers=ADMIN)
    assert_error(again, 404, "not_found")
    other = await client.get("/v1/apps/news/registrations", headers=key_header(keep))
    assert other.status_code == 200, other.text


# --- OAuth2 client credentials -----------------------------------------------------------------


async def test_client_credentials_with_basic_issue_a_bearer_token(
    client: httpx.AsyncClient,
) -> None:
    await _news_with_device(client)
    key = await make_key(
        client, "news", "pushregistrations_read", "registrations_write", alias="ci"
    )
    response = await _token(client, "ci", key)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int)
    assert 0 < body["expires_in"] <= 86400
    assert body["scope"].split() == ["pushregistrations_read", "registrations_write"]
    assert "no-store" in response.headers["cache-control"]
    headers = bearer(body["access_token"])
    listed = await client.get("/v1/apps/news/registrations", headers=headers)
    assert listed.status_code == 200, listed.text
    assert [r["token"] for r in listed.json()["items"]] == [DEVICE["token"]]
    written = await client.post(
        "/v1/apps/news/registrations", json={"platform": "fcm", "token": "t2"}, headers=headers
    )
    assert written.status_code == 201, written.text
    assert_forbidden(await client.get("/v1/apps/news/keys", headers=headers))


async def test_client_credentials_in_form_fields_issue_a_token(client: httpx.AsyncClient) -> None:
    await _news_with_device(client)
    key = await make_key(client, "news", "pushregistrations_read", alias="ci")
    response = await client.post(
        "/v1/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "ci",
            "client_secret": key,
            "scope": "pushregistrations_read",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"
    assert response.json()["scope"] == "pushregistrations_read"
    listed = await client.get(
        "/v1/apps/news/registrations", headers=bearer(response.json()["access_token"])
    )
    assert listed.status_code == 200, listed.text


async def test_scope_the_key_lacks_is_invalid_scope(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    key = await make_key(client, "news", "pushregistrations_read", alias="ci")
    for scope in ("registrations_write", "pushregistrations_read app_admin", "root"):
        response = await _token(client, "ci", key, scope)
        assert response.status_code == 400, (scope, response.text)
        assert response.json()["error"] == "invalid_scope"
        assert "access_token" not in response.json()


async def test_wrong_client_secret_or_alias_is_invalid_client(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    key = await make_key(client, "news", "pushregistrations_read", alias="ci")
    attempts = [
        await _token(client, "ci", key + "x"),
        await _token(client, "other", key),
        await client.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "ci", "client_secret": "no"},
        ),
        await client.post("/v1/oauth/token", data={"grant_type": "client_credentials"}),
    ]
    for response in attempts:
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "invalid_client"
        assert response.headers.get("www-authenticate"), response.headers
        assert "access_token" not in response.json()


async def test_grant_type_other_than_client_credentials_is_unsupported(
    client: httpx.AsyncClient,
) -> None:
    await make_app(client, "news")
    key = await make_key(client, "news", "pushregistrations_read", alias="ci")
    for form in (
        {"grant_type": "password", "username": "ci", "password": key},
        {"grant_type": "authorization_code", "code": "x"},
        {},
    ):
        response = await client.post("/v1/oauth/token", data=form, headers=basic("ci", key))
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "unsupported_grant_type"


async def test_read_scoped_token_cannot_write_though_its_key_can(
    client: httpx.AsyncClient,
) -> None:
    registration_id = await _news_with_device(client)
    key = await make_key(
        client, "news", "pushregistrations_read", "registrations_write", alias="ci"
    )
    token = await _access_token(client, "ci", key, "pushregistrations_read")
    headers = bearer(token)
    assert (await client.get("/v1/apps/news/registrations", headers=headers)).status_code == 200
    one = f"/v1/apps/news/registrations/{registration_id}"
    assert_forbidden(
        await client.post(
            "/v1/apps/news/registrations", json={"platform": "fcm", "token": "t2"}, headers=headers
        )
    )
    assert_forbidden(await client.patch(one, json={"user": "mallory"}, headers=headers))
    assert_forbidden(await client.delete(one, headers=headers))
    assert_forbidden(await client.post("/v1/apps/news/topics", json={"name": "x"}, headers=headers))
    # The key itself may write.
    written = await client.patch(one, json={"user": "alice"}, headers=key_header(key))
    assert written.status_code == 200, written.text


async def test_token_of_an_app_admin_key_with_narrow_scope_stays_narrow(
    client: httpx.AsyncClient,
) -> None:
    await _news_with_device(client)
    key = await make_key(client, "news", "app_admin", alias="boss")
    token = await _access_token(client, "boss", key, "pushregistrations_read")
    headers = bearer(token)
    assert (await client.get("/v1/apps/news/registrations", headers=headers)).status_code == 200
    assert_forbidden(await client.get("/v1/apps/news/keys", headers=headers))
    assert_forbidden(
        await client.post(
            "/v1/apps/news/keys", json={"alias": "x", "roles": ["app_admin"]}, headers=headers
        )
    )


async def test_revoking_the_key_makes_its_token_401(client: httpx.AsyncClient) -> None:
    await _news_with_device(client)
    key = await make_key(client, "news", "pushregistrations_read", alias="ci")
    token = await _access_token(client, "ci", key)
    headers = bearer(token)
    assert (await client.get("/v1/apps/news/registrations", headers=headers)).status_code == 200
    revoked = await client.delete("/v1/apps/news/keys/ci", headers=ADMIN)
    assert revoked.status_code == 204, revoked.text
    assert_unauthenticated(await client.get("/v1/apps/news/registrations", headers=headers))
    refused = await _token(client, "ci", key)
    assert refused.status_code == 401, refused.text


async def test_token_of_a_revoked_key_stays_dead_when_its_alias_is_reused(
    client: httpx.AsyncClient,
) -> None:
    """A token names its key, not the alias: a new key under a reused alias revives nothing."""
    await _news_with_device(client)
    old_key = await make_key(client, "news", "app_admin", alias="ci")
    token = await _access_token(client, "ci", old_key)
    revoked = await client.delete("/v1/apps/news/keys/ci", headers=ADMIN)
    assert revoked.status_code == 204, revoked.text
    await make_key(client, "news", "push_single", alias="ci")
    headers = bearer(token)
    assert_unauthenticated(await client.get("/v1/apps/news/keys", headers=headers))


def _flip(char: str) -> str:
    return "B" if char != "B" else "C"


async def test_tampered_or_unsigned_tokens_are_401(client: httpx.AsyncClient) -> None:
    await _news_with_device(client)
    key = await make_key(client, "news", "pushregistrations_read", alias="ci")
    token = await _access_token(client, "ci", key)
    header, payload, signature = token.split(".")
    # Flip a character at the start of the signature: its last character may carry only
    # padding bits, so changing it need not change the decoded bytes.
    tampered_signature = f"{header}.{payload}.{_flip(signature[0])}{signature[1:]}"
    claims = jwt.decode(token, options={"verify_signature": False})
    escalated = {**claims, "scope": " ".join(ALL_ROLES)}
    forged_payload = jwt.encode(escalated, WRONG_SIGNING_KEY, algorithm="HS256").split(".")[1]
    unsigned = jwt.encode(escalated, key="", algorithm="none")
    unsigned_same_claims = jwt.encode(claims, key="", algorithm="none")
    for bad in (
        tampered_signature,
        f"{header}.{forged_payload}.{signature}",
        jwt.encode(escalated, WRONG_SIGNING_KEY, algorithm="HS256"),
        unsigned,
        unsigned_same_claims,
        f"{header}.{payload}.",
        token[:-8],
    ):
        assert bad != token
        for path in ("/v1/apps/news/registrations", "/v1/apps/news/keys"):
            assert_unauthenticated(await client.get(path, headers=bearer(bad)))
    ok = await client.get("/v1/apps/news/registrations", headers=bearer(token))
    assert ok.status_code == 200, ok.text


async def test_concurrent_requests_of_one_credential_share_one_database_read(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    # auth_cache_ttl_s is 0 in the tests: every request finds its credential's entry expired,
    # as all in-flight requests of a key do when its entry expires under load. One read each
    # was a burst of reads as large as the requests in flight, waiting for pool connections.
    await make_app(client, "news")
    key = await make_key(client, "news", *ALL_ROLES, alias="ci")
    token = await _access_token(client, "ci", key)
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "api_keys" in statement:
            reads.append(statement)

    engine = runtime.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        for headers in (key_header(key), bearer(token)):
            reads.clear()
            answers = await asyncio.gather(
                *(client.get("/v1/apps/news/registrations", headers=headers) for _ in range(32))
            )
            assert {a.status_code for a in answers} == {200}
            assert len(reads) < 32 / 4, (headers, len(reads))
    finally:
        event.remove(engine, "before_cursor_execute", count)
