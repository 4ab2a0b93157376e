"""The fake FCM on its own: its token endpoint against google-auth and hand-made assertions,
and its send endpoint's refusals, over TLS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.oauth2 import service_account

from pushgate.fakes.fcm_oauth import GOOGLE_TOKEN_URL, JWT_BEARER_GRANT
from pushgate.providers.fcm_auth import FCM_SCOPE, HttpxRequest
from tests.integration.providers.fcm_support import PROJECT, FcmWorld

pytestmark = pytest.mark.anyio


@pytest.fixture
async def http(fcm_world: FcmWorld) -> AsyncIterator[httpx2.AsyncClient]:
    verify = fcm_world.certs.client_context()
    async with httpx2.AsyncClient(http2=True, verify=verify, trust_env=False) as client:
        yield client


def assertion(
    account: dict[str, Any],
    *,
    key: Any = None,
    audience: str = GOOGLE_TOKEN_URL,
    lifetime_s: int = 3600,
    issued_at: float | None = None,
    scope: str = FCM_SCOPE,
) -> str:
    issued = int(issued_at if issued_at is not None else time.time())
    claims = {
        "iss": account["client_email"],
        "scope": scope,
        "aud": audience,
        "iat": issued,
        "exp": issued + lifetime_s,
    }
    signing_key = key or account["private_key"]
    return jwt.encode(
        claims, signing_key, algorithm="RS256", headers={"kid": account["private_key_id"]}
    )


async def grant(http: httpx2.AsyncClient, world: FcmWorld, jwt_assertion: str) -> httpx2.Response:
    form = {"grant_type": JWT_BEARER_GRANT, "assertion": jwt_assertion}
    return await http.post(f"{world.fake.url}/token", data=form)


async def test_google_auth_gets_a_token_that_sends(
    fcm_world: FcmWorld, http: httpx2.AsyncClient
) -> None:
    account = fcm_world.fake.service_account(PROJECT)
    credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
        account, scopes=[FCM_SCOPE]
    )
    with httpx2.Client(verify=fcm_world.certs.client_context(), trust_env=False) as client:
        await asyncio.to_thread(credentials.refresh, HttpxRequest(client))
    assert fcm_world.fake.tokens.granted == 1
    assert credentials.token
    assert credentials.expiry is not None
    sent = await http.post(
        f"{fcm_world.fake.url}/v1/projects/{PROJECT}/messages:send",
        json={"message": {"token": "t", "data": {"a": "b"}}},
        headers={"authorization": f"Bearer {credentials.token}"},
    )
    assert sent.status_code == 200
    assert sent.json()["name"].startswith(f"projects/{PROJECT}/messages/")


async def test_hand_made_assertion_to_the_fake_audience_is_granted(
    fcm_world: FcmWorld, http: httpx2.AsyncClient
) -> None:
    account = fcm_world.fake.service_account(PROJECT)
    answer = await grant(
        http, fcm_world, assertion(account, audience=f"{fcm_world.fake.url}/token")
    )
    assert answer.status_code == 200
    body = answer.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3599)


def other_key() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"key": "wrong"}, "invalid_grant"),
        ({"lifetime_s": 3601}, "invalid_grant"),
        # Ages relative to the test's own start, not to collection: a long suite run would
        # otherwise turn "10 minutes ahead" into the past.
        ({"issued_ago_s": 7200}, "invalid_grant"),  # expired an hour ago
        ({"issued_ago_s": -600}, "invalid_grant"),  # from the future
        ({"audience": "https://example.com/token"}, "invalid_grant"),
        ({"scope": "https://www.googleapis.com/auth/userinfo.email"}, "invalid_scope"),
    ],
    ids=["wrong-key", "too-long", "expired", "future", "audience", "scope"],
)
async def test_bad_assertions_are_refused(
    fcm_world: FcmWorld, http: httpx2.AsyncClient, changes: dict[str, Any], error: str
) -> None:
    account = fcm_world.fake.service_account(PROJECT)
    if changes.get("key") == "wrong":
        changes = {"key": other_key()}
    if "issued_ago_s" in changes:
        changes = {"issued_at": time.time() - changes["issued_ago_s"]}
    answer = await grant(http, fcm_world, assertion(account, **changes))
    assert answer.status_code == 400
    assert answer.json()["error"] == error
    assert fcm_world.fake.tokens.granted == 0


async def test_other_grant_types_are_refused(fcm_world: FcmWorld, http: httpx2.AsyncClient) -> None:
    answer = await http.post(
        f"{fcm_world.fake.url}/token", data={"grant_type": "client_credentials"}
    )
    assert (answer.status_code, answer.json()["error"]) == (400, "unsupported_grant_type")


async def token_for(world: FcmWorld, http: httpx2.AsyncClient) -> str:
    account = world.fake.service_account(PROJECT)
    token: str = (await grant(http, world, assertion(account))).json()["access_token"]
    return token


async def test_validate_only_delivers_nothing(
    fcm_world: FcmWorld, http: httpx2.AsyncClient
) -> None:
    bearer = {"authorization": f"Bearer {await token_for(fcm_world, http)}"}
    url = f"{fcm_world.fake.url}/v1/projects/{PROJECT}/messages:send"
    dry = await http.post(
        url, json={"message": {"token": "t"}, "validate_only": True}, headers=bearer
    )
    assert (dry.status_code, dry.json()["name"]) == (
        200,
        f"projects/{PROJECT}/messages/fake_message",
    )
    assert fcm_world.inbox.received == []
    assert fcm_world.inbox.attempts["t"] == 1


async def test_send_refusals_before_the_message_is_read(
    fcm_world: FcmWorld, http: httpx2.AsyncClient
) -> None:
    url = f"{fcm_world.fake.url}/v1/projects/{PROJECT}/messages:send"
    body = {"message": {"token": "t"}}
    missing = await http.post(url, json=body)
    assert missing.status_code == 401
    assert "details" not in missing.json()["error"]  # Google's front end: no FcmError
    bearer = {"authorization": f"Bearer {await token_for(fcm_world, http)}"}
    foreign = await http.post(
        f"{fcm_world.fake.url}/v1/projects/elsewhere/messages:send", json=body, headers=bearer
    )
    assert (foreign.status_code, foreign.json()["error"]["status"]) == (403, "PERMISSION_DENIED")
    assert "details" not in foreign.json()["error"]
    assert (await http.get(url, headers=bearer)).status_code == 405
    assert (await http.post(f"{fcm_world.fake.url}/v2/x", headers=bearer)).status_code == 404
    broken = await http.post(url, content=b"{not json", headers=bearer)
    assert broken.status_code == 400
    assert fcm_world.inbox.received == []
