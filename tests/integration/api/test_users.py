"""App users: CRUD, passwords, issued tokens and app-signed JWTs, devices registering as users."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest

from pushgate.app import build_runtime, create_app
from pushgate.errors import Unauthenticated
from pushgate.http.deps import Runtime
from pushgate.store.engine import Database
from tests.conftest import FixedClock, make_settings
from tests.integration.api.helpers import ADMIN, key_header, make_app, make_key

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"


@pytest.fixture
async def app_admin(client: httpx.AsyncClient) -> dict[str, str]:
    await make_app(client, "news")
    return key_header(await make_key(client, "news", "app_admin"))


async def create_user(client: httpx.AsyncClient, name: str = "alice", **fields: object) -> None:
    body = {"name": name, "password": PASSWORD, **fields}
    response = await client.post("/v1/apps/news/users", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text


async def issue_token(client: httpx.AsyncClient, user: str = "alice", **body: object) -> str:
    response = await client.post(f"/v1/apps/news/users/{user}/tokens", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register_as(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    token: str = "tok-1",  # noqa: S107 - a device token, not a password
    **fields: object,
) -> httpx.Response:
    body = {"platform": "fcm", "token": token, **fields}
    return await client.post("/v1/apps/news/registrations", json=body, headers=headers)


async def test_user_crud_never_shows_the_password(
    client: httpx.AsyncClient, app_admin: dict[str, str]
) -> None:
    created = await client.post(
        "/v1/apps/news/users",
        json={"name": "alice@example.com", "password": PASSWORD, "email": "alice@example.com"},
        headers=app_admin,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["has_password"] is True
    assert "password" not in body
    assert "password_hash" not in created.text
    assert PASSWORD not in created.text
    found = await client.get("/v1/apps/news/users/alice@example.com", headers=app_admin)
    assert found.json()["email"] == "alice@example.com"
    patched = await client.patch(
        "/v1/apps/news/users/alice@example.com",
        json={"external_id": "ext-1", "password": None},
        headers=app_admin,
    )
    assert patched.status_code == 200
    assert patched.json()["external_id"] == "ext-1"
    assert patched.json()["has_password"] is False
    assert patched.json()["email"] == "alice@example.com"  # not named: kept
    put_new = await client.put("/v1/apps/news/users/bob", json={}, headers=app_admin)
    assert put_new.status_code == 201
    put_again = await client.put(
        "/v1/apps/news/users/bob", json={"user_uuid": "g-1"}, headers=app_admin
    )
    assert (put_again.status_code, put_again.json()["user_uuid"]) == (200, "g-1")
    listed = await client.get("/v1/apps/news/users", headers=app_admin)
    assert [u["name"] for u in listed.json()["items"]] == ["alice@example.com", "bob"]
    deleted = await client.delete("/v1/apps/news/users/bob", headers=app_admin)
    assert deleted.status_code == 204
    gone = await client.get("/v1/apps/news/users/bob", headers=app_admin)
    assert gone.status_code == 404
    assert gone.json()["error"]["field"] == "user"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "carol", "password": "pw-7x"}, 422, "password"),
        ({"name": "carol", "pasword": PASSWORD}, 400, "pasword"),
        ({"name": "a/b"}, 400, "name"),
        ({"name": " carol"}, 400, "name"),
        ({"name": "carol", "email": "not-an-address"}, 422, "email"),
        ({"password": PASSWORD}, 422, "name"),
    ],
)
async def test_bad_user_input_names_the_field_and_stores_nothing(
    client: httpx.AsyncClient,
    app_admin: dict[str, str],
    body: dict[str, object],
    status: int,
    field: str,
) -> None:
    response = await client.post("/v1/apps/news/users", json=body, headers=app_admin)
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field
    assert PASSWORD not in response.text
    assert "pw-7x" not in response.text
    listed = await client.get("/v1/apps/news/users", headers=app_admin)
    assert listed.json()["items"] == []


async def test_a_taken_name_is_a_conflict(
    client: httpx.AsyncClient, app_admin: dict[str, str]
) -> None:
    await create_user(client)
    again = await client.post("/v1/apps/news/users", json={"name": "alice"}, headers=app_admin)
    assert again.status_code == 409


async def test_users_need_the_app_admin_role_of_their_own_app(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    await make_app(client, "other")
    pusher = key_header(await make_key(client, "news", "push_all", "registrations_write"))
    foreign = key_header(await make_key(client, "other", "app_admin"))
    for headers in (pusher, foreign):
        response = await client.post("/v1/apps/news/users", json={"name": "x"}, headers=headers)
        assert response.status_code == 403
    anonymous = await client.get("/v1/apps/news/users")
    assert anonymous.status_code == 401


async def test_password_sign_in_checks_the_hash(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await make_app(client, "news")
    await create_user(client)
    signed_in = await runtime.users.by_password("news", "alice", PASSWORD)
    assert (signed_in.app_name, signed_in.user_name) == ("news", "alice")
    for app, name, password in (
        ("news", "alice", PASSWORD + "x"),
        ("news", "nobody", PASSWORD),
        ("other", "alice", PASSWORD),
    ):
        with pytest.raises(Unauthenticated):
            await runtime.users.by_password(app, name, password)


async def test_a_device_registers_itself_with_its_user_token(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    await create_user(client)
    token = await issue_token(client)
    assert token.startswith("pgu_")
    created = await register_as(client, bearer(token))
    assert created.status_code == 201, created.text
    assert created.json()["user"] == "alice"
    same_user = await register_as(client, bearer(token), "tok-2", user="alice")
    assert same_user.status_code == 201
    other_user = await register_as(client, bearer(token), "tok-3", user="bob")
    assert other_user.status_code == 403
    assert other_user.json()["error"]["field"] == "user"
    listed = await client.get("/v1/apps/news/registrations", headers=ADMIN)
    assert sorted(r["token"] for r in listed.json()["items"]) == ["tok-1", "tok-2"]


async def test_a_user_token_opens_nothing_but_device_registration(
    client: httpx.AsyncClient,
) -> None:
    await make_app(client, "news")
    await make_app(client, "other")
    await create_user(client)
    headers = bearer(await issue_token(client))
    for method, path in (
        ("GET", "/v1/apps/news"),
        ("GET", "/v1/apps"),
        ("GET", "/v1/apps/news/registrations"),
        ("GET", "/v1/apps/news/users"),
        ("POST", "/v1/apps/news/notifications"),
    ):
        response = await client.request(method, path, headers=headers, json={})
        assert response.status_code == 403, (method, path, response.text)
    foreign = await client.post(
        "/v1/apps/other/registrations", json={"platform": "fcm", "token": "t"}, headers=headers
    )
    assert foreign.status_code == 403


async def test_revoked_tokens_and_deleted_users_are_refused(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    await create_user(client)
    revoked_one = await client.post("/v1/apps/news/users/alice/tokens", json={}, headers=ADMIN)
    kept = await issue_token(client)
    listed = await client.get("/v1/apps/news/users/alice/tokens", headers=ADMIN)
    assert len(listed.json()["items"]) == 2
    assert revoked_one.json()["token"] not in listed.text
    assert kept not in listed.text
    token_id = revoked_one.json()["id"]
    revoked = await client.delete(f"/v1/apps/news/users/alice/tokens/{token_id}", headers=ADMIN)
    assert revoked.status_code == 204
    assert (await register_as(client, bearer(revoked_one.json()["token"]))).status_code == 401
    assert (await register_as(client, bearer(kept))).status_code == 201
    assert (await client.delete("/v1/apps/news/users/alice", headers=ADMIN)).status_code == 204
    assert (await register_as(client, bearer(kept), "tok-9")).status_code == 401
    # The user's devices stay registered: deleting an account is not unregistering devices.
    listed = await client.get("/v1/apps/news/registrations?user=alice", headers=ADMIN)
    assert [r["token"] for r in listed.json()["items"]] == ["tok-1"]


async def test_bad_token_lifetimes_are_refused(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    await create_user(client)
    for ttl, status in ((0, 422), (400 * 86400, 400)):
        response = await client.post(
            "/v1/apps/news/users/alice/tokens", json={"ttl_s": ttl}, headers=ADMIN
        )
        assert response.status_code == status, response.text
        assert response.json()["error"]["field"] == "ttl_s"
    missing = await client.post("/v1/apps/news/users/nobody/tokens", json={}, headers=ADMIN)
    assert missing.status_code == 404


@pytest.fixture
async def clocked(
    database: Database, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, FixedClock]]:
    clock = FixedClock()
    built, _ = await build_runtime(make_settings(tmp_path), db=database, clock=clock)
    transport = httpx.ASGITransport(app=create_app(built.settings, built))
    async with httpx.AsyncClient(transport=transport, base_url="http://pushgate.test") as http:
        yield http, clock


async def test_an_issued_token_expires(clocked: tuple[httpx.AsyncClient, FixedClock]) -> None:
    client, clock = clocked
    await make_app(client, "news")
    await create_user(client)
    token = await issue_token(client, ttl_s=60)
    assert (await register_as(client, bearer(token))).status_code == 201
    clock.advance(61)
    expired = await register_as(client, bearer(token))
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]["message"]


def mint(secret: str, **claims: object) -> str:
    return jwt.encode(
        {"app": "news", "sub": "alice", "exp": int(time.time()) + 300, **claims},
        secret,
        algorithm="HS256",
    )


async def test_app_signed_jwts_sign_users_in(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    await create_user(client)
    no_secret = await register_as(client, bearer(mint("s" * 32)))
    assert no_secret.status_code == 401
    rotated = await client.post("/v1/apps/news/user-token-secret", json={}, headers=ADMIN)
    assert rotated.status_code == 201, rotated.text
    secret = rotated.json()["secret"]
    assert rotated.json()["required_claims"] == ["app", "sub", "exp"]
    good = await register_as(client, bearer(mint(secret)))
    assert good.status_code == 201, good.text
    assert good.json()["user"] == "alice"
    for token in (
        mint(secret + "x"),
        mint(secret, exp=int(time.time()) - 3600),
        mint(secret, sub="nobody"),
        jwt.encode({"app": "news", "sub": "alice"}, secret, algorithm="HS256"),  # no exp
        mint(secret, app="other"),
    ):
        refused = await register_as(client, bearer(token), "tok-x")
        assert refused.status_code == 401, refused.text
    again = await client.post("/v1/apps/news/user-token-secret", json={}, headers=ADMIN)
    assert again.json()["secret"] != secret
    stale = await register_as(client, bearer(mint(secret)), "tok-y")
    assert stale.status_code == 401
    assert (
        await client.delete("/v1/apps/news/user-token-secret", headers=ADMIN)
    ).status_code == 204
    fresh = await register_as(client, bearer(mint(again.json()["secret"])), "tok-z")
    assert fresh.status_code == 401


async def test_the_secret_is_sealed_at_rest(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await make_app(client, "news")
    rotated = await client.post("/v1/apps/news/user-token-secret", json={}, headers=ADMIN)
    secret = rotated.json()["secret"]
    async with runtime.db.connect(readonly=True) as conn:
        stored = (
            await conn.exec_driver_sql("SELECT user_token_secret FROM apps WHERE name = 'news'")
        ).scalar_one()
    assert stored
    assert secret not in stored


async def test_push_platforms_start_with_apple_and_android(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    listed = await client.get("/v1/apps/news/push-platforms", headers=ADMIN)
    assert [(p["name"], p["platform"]) for p in listed.json()["items"]] == [
        ("Android", "fcm"),
        ("Apple", "apns"),
    ]
    created = await client.put(
        "/v1/apps/news/push-platforms/Apple Dev", json={"platform": "apns_internal"}, headers=ADMIN
    )
    assert created.status_code == 201
    assert (created.json()["platform"], created.json()["sandbox"]) == ("apns", True)
    remapped = await client.put(
        "/v1/apps/news/push-platforms/Apple Dev", json={"platform": "ios"}, headers=ADMIN
    )
    assert (remapped.status_code, remapped.json()["sandbox"]) == (200, False)
    bad = await client.put(
        "/v1/apps/news/push-platforms/Pager", json={"platform": "pager"}, headers=ADMIN
    )
    assert (bad.status_code, bad.json()["error"]["field"]) == (400, "platform")
    assert (
        await client.delete("/v1/apps/news/push-platforms/Android", headers=ADMIN)
    ).status_code == 204
    missing = await client.get("/v1/apps/news/push-platforms/Android", headers=ADMIN)
    assert missing.status_code == 404
