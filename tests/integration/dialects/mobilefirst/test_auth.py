"""Confidential clients, the token endpoint, scopes on every route, content negotiation and
error messages in the caller's language."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ADMIN_KEY
from tests.integration.api.helpers import ADMIN, make_app
from tests.integration.dialects.mobilefirst.conftest import (
    APP,
    TOKEN_PATH,
    V1,
    MobileFirst,
    basic,
    make_client,
    token_for,
)

pytestmark = pytest.mark.anyio
DEVICE = {"deviceId": "d-1", "platform": "G", "token": "fcm-1"}


async def test_a_client_is_created_with_its_secret_once_and_listed_without_it(
    client: httpx.AsyncClient,
) -> None:
    await make_app(client, APP)
    created = await client.post(
        f"/v1/apps/{APP}/clients", json={"scopes": ["devices.write"]}, headers=ADMIN
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"client_id", "client_secret", "scopes"}
    assert body["scopes"] == ["devices.write", f"push.application.{APP}"]
    listed = await client.get(f"/v1/apps/{APP}/clients", headers=ADMIN)
    assert [c["client_id"] for c in listed.json()["items"]] == [body["client_id"]]
    assert body["client_secret"] not in listed.text
    one = await client.get(f"/v1/apps/{APP}/clients/{body['client_id']}", headers=ADMIN)
    assert one.status_code == 200
    named = await client.post(
        f"/v1/apps/{APP}/clients",
        json={"scopes": ["messages.write"], "client_id": "pushclient"},
        headers=ADMIN,
    )
    assert named.json()["client_id"] == "pushclient"
    taken = await client.post(
        f"/v1/apps/{APP}/clients",
        json={"scopes": ["messages.write"], "client_id": "pushclient"},
        headers=ADMIN,
    )
    assert taken.status_code == 409
    bad = await client.post(
        f"/v1/apps/{APP}/clients", json={"scopes": ["root.everything"]}, headers=ADMIN
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "scopes"
    other = await client.post(
        f"/v1/apps/{APP}/clients", json={"scopes": ["push.application.other"]}, headers=ADMIN
    )
    assert other.status_code == 400


async def test_the_token_endpoint_speaks_oauth(client: httpx.AsyncClient) -> None:
    await make_app(client, APP)
    client_id, secret = await make_client(client, APP, ["devices.write"])
    ok = await client.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials", "scope": f"devices.write push.application.{APP}"},
        headers=basic(client_id, secret),
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["token_type"] == "Bearer"
    assert ok.json()["scope"] == f"devices.write push.application.{APP}"
    assert ok.json()["expires_in"] > 0
    assert ok.headers["cache-control"] == "no-store"
    form = await client.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert form.status_code == 200  # no scope: every scope of the client
    cases = [
        ({"grant_type": "password"}, basic(client_id, secret), 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, basic(client_id, "wrong"), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, basic("nobody", secret), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, {}, 401, "invalid_client"),
        (
            {"grant_type": "client_credentials", "scope": "messages.write"},
            basic(client_id, secret),
            400,
            "invalid_scope",
        ),
    ]
    for data, headers, status, error in cases:
        refused = await client.post(TOKEN_PATH, data=data, headers=headers)
        assert refused.status_code == status, (data, refused.text)
        assert refused.json()["error"] == error
    challenge = await client.post(TOKEN_PATH, data={"grant_type": "client_credentials"})
    assert challenge.headers["www-authenticate"].startswith("Basic")


async def test_scopes_are_enforced_as_the_seed_says(client: httpx.AsyncClient) -> None:
    await make_app(client, APP)
    await make_app(client, "otherapp")
    client_id, secret = await make_client(client, APP, ["devices.write", "messages.write"])
    devices_only = await token_for(
        client, client_id, secret, f"devices.write push.application.{APP}"
    )
    no_app = await token_for(client, client_id, secret, "devices.write")
    messages = await token_for(client, client_id, secret, f"messages.write push.application.{APP}")

    async def status(token: str, method: str, path: str, body: object = None) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        response = await client.request(method, V1 + path, json=body, headers=headers)
        return response.status_code

    assert await status(devices_only, "POST", f"/apps/{APP}/devices", DEVICE) == 201
    assert await status(devices_only, "GET", f"/apps/{APP}/devices") == 200  # reads too
    assert await status(no_app, "GET", f"/apps/{APP}/devices") == 401
    assert await status(messages, "GET", f"/apps/{APP}/devices") == 401
    assert await status(devices_only, "GET", "/apps/otherapp/devices") == 401
    assert await status(devices_only, "GET", "/apps/ghost/devices") == 401  # nothing learned
    assert await status(devices_only, "GET", f"/apps/{APP}/settings") == 401
    message = {"message": {"alert": "hi"}}
    assert await status(devices_only, "POST", f"/apps/{APP}/messages", message) == 401
    assert await status(messages, "POST", f"/apps/{APP}/messages", message) == 202
    assert await status("not-a-token", "GET", f"/apps/{APP}/devices") == 401
    missing = await client.get(f"{V1}/apps/{APP}/devices")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    # Deleting the client revokes its tokens at once.
    gone = await client.delete(f"/v1/apps/{APP}/clients/{client_id}", headers=ADMIN)
    assert gone.status_code == 204
    assert await status(devices_only, "GET", f"/apps/{APP}/devices") == 401


async def test_the_admin_key_is_a_bearer_token_with_every_scope(client: httpx.AsyncClient) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}
    created = await client.post(f"{V1}/apps", json={"applicationId": APP}, headers=admin)
    assert created.status_code == 201, created.text
    assert (await client.get(f"{V1}/apps/{APP}/devices", headers=admin)).status_code == 200
    assert (await client.get(f"{V1}/apps/ghost/devices", headers=admin)).status_code == 404
    key = await client.post(
        f"/v1/apps/{APP}/keys", json={"alias": "k", "roles": ["app_admin"]}, headers=ADMIN
    )
    app_key = {"Authorization": f"Bearer {key.json()['key']}"}
    assert (await client.get(f"{V1}/apps/{APP}/devices", headers=app_key)).status_code == 401


@pytest.mark.parametrize(
    "accept",
    ["text/html", "application/xml", "application/json;q=0", "text/*, image/png"],
)
async def test_an_accept_without_json_is_406(mfp: MobileFirst, accept: str) -> None:
    response = await mfp.call("GET", f"/apps/{APP}/devices", Accept=accept)
    assert response.status_code == 406
    assert "Accept" in response.json()["message"]


@pytest.mark.parametrize(
    "accept", ["application/json", "*/*", "application/*", "text/html, application/json;q=0.5"]
)
async def test_an_accept_with_json_is_served(mfp: MobileFirst, accept: str) -> None:
    response = await mfp.call("GET", f"/apps/{APP}/devices", Accept=accept)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("language", "served", "start"),
    [
        (None, "en-US", "A device registration"),
        ("de-DE", "de", "Eine Geräteregistrierung"),
        ("fr", "fr", "Aucun enregistrement"),
        ("es-419", "es", "No se ha encontrado"),
        ("ja, de;q=0.5", "de", "Eine Geräteregistrierung"),
        ("it", "en-US", "A device registration"),
        ("de;q=0, fr;q=0.1", "fr", "Aucun enregistrement"),
    ],
)
async def test_error_messages_honour_accept_language(
    mfp: MobileFirst, language: str | None, served: str, start: str
) -> None:
    headers = {"Accept-Language": language} if language else {}
    response = await mfp.call("GET", f"/apps/{APP}/devices/unknown", **headers)
    assert response.status_code == 404
    assert response.headers["content-language"] == served
    assert response.json()["message"].startswith(start)
    assert response.json()["field"] == "deviceId"


async def test_another_method_is_405_with_allow_and_an_unknown_path_404(mfp: MobileFirst) -> None:
    wrong = await mfp.call("PATCH", f"/apps/{APP}/devices/d-1", {"userId": "x"})
    assert wrong.status_code == 405
    assert set(wrong.headers["allow"].split(", ")) == {"DELETE", "GET", "PUT"}
    assert wrong.json()["code"] == 405
    unknown = await mfp.call("GET", f"/apps/{APP}/nothing-here")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == 404


async def test_a_renamed_app_keeps_its_clients_under_the_new_name(
    client: httpx.AsyncClient,
) -> None:
    await make_app(client, APP)
    client_id, secret = await make_client(client, APP, ["devices.write"])
    renamed = await client.patch(f"/v1/apps/{APP}", json={"name": "renamed"}, headers=ADMIN)
    assert renamed.status_code == 200
    token = await token_for(client, client_id, secret, "devices.write push.application.renamed")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get(f"{V1}/apps/renamed/devices", headers=headers)).status_code == 200
    wrong = await client.get(TOKEN_PATH)
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "invalid_request"
