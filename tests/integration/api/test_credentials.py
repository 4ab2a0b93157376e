"""Provider credentials through the API: validated on write, sealed at rest, never returned."""

from __future__ import annotations

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import select

from pushgate.http.deps import Runtime
from pushgate.store.tables import credentials
from tests.integration.api.helpers import ADMIN, key_header, make_app, make_key

pytestmark = pytest.mark.anyio


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


P8 = _pem(ec.generate_private_key(ec.SECP256R1()))
RSA = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


async def _secret_bytes_in_database(runtime: Runtime, secret: str) -> bool:
    async with runtime.db.connect(readonly=True) as conn:
        rows = (await conn.execute(select(credentials))).all()
    return any(secret in " ".join(str(v) for v in row) for row in rows)


async def test_apns_token_credential_is_stored_sealed_and_never_returned(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await make_app(client, "news")
    body = {
        "key_id": "ABC123DEFG",
        "team_id": "TEAM123456",
        "key": P8,
        "topic": "com.ex.news",
        "endpoint": "https://127.0.0.1:8443",
    }
    put = await client.put("/v1/apps/news/credentials/apns", json=body, headers=ADMIN)
    assert put.status_code == 200, put.text
    assert put.json()["settings"] == {
        "auth": "token",
        "key_id": "ABC123DEFG",
        "team_id": "TEAM123456",
        "topic": "com.ex.news",
    }
    assert put.json()["endpoint"] == "https://127.0.0.1:8443"
    key_line = P8.splitlines()[1]
    for response in (
        put,
        await client.get("/v1/apps/news/credentials/apns", headers=ADMIN),
        await client.get("/v1/apps/news/credentials", headers=ADMIN),
    ):
        assert response.status_code == 200
        assert key_line not in response.text
    assert not await _secret_bytes_in_database(runtime, key_line)


async def test_each_provider_validates_and_names_the_bad_field(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    p384 = _pem(ec.generate_private_key(ec.SECP384R1()))
    cases = [
        (
            "apns",
            {"key_id": "ABC123DEFG", "team_id": "TEAM123456", "key": p384, "topic": "t"},
            "key",
        ),
        (
            "apns",
            {"key_id": "ABC123DEFG", "team_id": "TEAM123456", "key": RSA, "topic": "t"},
            "key",
        ),
        ("apns", {"key_id": "short", "team_id": "TEAM123456", "key": P8, "topic": "t"}, "key_id"),
        ("apns", {"key_id": "ABC123DEFG", "team_id": "TEAM123456", "key": P8}, "topic"),
        (
            "fcm",
            {
                "service_account": {
                    "type": "service_account",
                    "project_id": "p",
                    "client_email": "a@b",
                    "private_key": P8,
                }
            },
            "service_account.private_key",
        ),
        ("fcm", {"client_id": "x"}, "client_id"),
        ("webpush", {"subject": "ftp://x", "generate": True}, "subject"),
        ("wns", {"client_id": "ms-app://s-1"}, "client_secret"),
        ("sms", {"gateway_url": "not a url"}, "gateway_url"),
        ("sms", {"gateway_url": "https://sms.example", "endpoint": "file:///etc"}, "endpoint"),
    ]
    for provider, body, field in cases:
        response = await client.put(
            f"/v1/apps/news/credentials/{provider}", json=body, headers=ADMIN
        )
        assert response.status_code == 400, (provider, body, response.text)
        assert response.json()["error"]["field"] == field, response.text
        assert "PRIVATE KEY" not in response.text
    listed = await client.get("/v1/apps/news/credentials", headers=ADMIN)
    assert listed.json()["items"] == []  # nothing refused was stored


async def test_fcm_webpush_wns_and_sms_credentials(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    account = {
        "type": "service_account",
        "project_id": "proj-1",
        "client_email": "svc@proj-1",
        "private_key_id": "kid1",
        "private_key": RSA,
    }
    fcm = await client.put(
        "/v1/apps/news/credentials/fcm", json={"service_account": account}, headers=ADMIN
    )
    assert fcm.status_code == 200, fcm.text
    assert fcm.json()["settings"]["project_id"] == "proj-1"
    webpush = await client.put(
        "/v1/apps/news/credentials/webpush",
        json={"subject": "mailto:ops@example.com", "generate": True},
        headers=ADMIN,
    )
    assert webpush.status_code == 200, webpush.text
    assert len(webpush.json()["settings"]["public_key"]) == 87  # 65 bytes, base64url
    wns = await client.put(
        "/v1/apps/news/credentials/wns",
        json={"client_id": "ms-app://s-1", "client_secret": "wns-secret-1"},
        headers=ADMIN,
    )
    assert wns.status_code == 200
    sms = await client.put(
        "/v1/apps/news/credentials/sms",
        json={
            "gateway_url": "https://sms.example/send",
            "auth_type": "basic",
            "username": "u",
            "password": "sms-password-1",
        },
        headers=ADMIN,
    )
    assert sms.status_code == 200
    listed = await client.get("/v1/apps/news/credentials", headers=ADMIN)
    assert [c["provider"] for c in listed.json()["items"]] == ["fcm", "sms", "webpush", "wns"]
    for secret in ("BEGIN PRIVATE KEY", "wns-secret-1", "sms-password-1"):
        assert secret not in listed.text
    gone = await client.delete("/v1/apps/news/credentials/wns", headers=ADMIN)
    assert gone.status_code == 204
    missing = await client.get("/v1/apps/news/credentials/wns", headers=ADMIN)
    assert missing.status_code == 404
    unknown = await client.put("/v1/apps/news/credentials/pager", json={}, headers=ADMIN)
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "provider"


async def test_credential_test_route_needs_app_admin_and_a_stored_credential(
    client: httpx.AsyncClient,
) -> None:
    await make_app(client, "news")
    url = "/v1/apps/news/credentials/webpush/test"
    sender = key_header(await make_key(client, "news", "push_single", alias="sender"))
    admin = key_header(await make_key(client, "news", "app_admin", alias="admin"))
    assert (await client.post(url)).status_code == 401
    assert (await client.post(url, headers=sender)).status_code == 403
    missing = await client.post(url, headers=admin)
    assert missing.status_code == 404, missing.text
    assert missing.json()["error"]["field"] == "provider"
    put = await client.put(
        "/v1/apps/news/credentials/webpush",
        json={"subject": "mailto:ops@example.com", "generate": True},
        headers=ADMIN,
    )
    assert put.status_code == 200, put.text
    tested = await client.post(url, headers=admin)
    assert tested.status_code == 200, tested.text
    body = tested.json()
    assert (body["provider"], body["ok"], body["checked"]) == ("webpush", True, "offline")
    assert body["public_key"] == put.json()["settings"]["public_key"]
    assert "private_key" not in tested.text
    schema = (await client.get("/openapi.json")).json()
    route = schema["paths"]["/v1/apps/{app}/credentials/{provider}/test"]["post"]
    assert route["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/CredentialTestOut"
    )
