"""The fake Web Push service on the wire, checked from outside our adapter.

pywebpush (an independent implementation of RFC 8291/8292) must be accepted and decrypted:
the fake is faithful. Hand-made requests that break a rule must be refused: the fake checks.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pywebpush import WebPushException, webpush_async

from pushgate.fakes.inbox import Inbox
from pushgate.fakes.tls import FakeCertificates
from pushgate.fakes.webpush import FakeWebPush, Subscription

pytestmark = pytest.mark.anyio

VAPID_KEY = ec.generate_private_key(ec.SECP256R1())


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


VAPID_PRIVATE = _b64url(VAPID_KEY.private_numbers().private_value.to_bytes(32, "big"))
VAPID_PUBLIC = _b64url(
    VAPID_KEY.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
)


@pytest.fixture
def certs(tmp_path: Path) -> FakeCertificates:
    return FakeCertificates(tmp_path / "certs")


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
async def fake(certs: FakeCertificates, inbox: Inbox) -> AsyncIterator[FakeWebPush]:
    async with FakeWebPush(certs, inbox) as server:
        yield server


@pytest.fixture
async def session(certs: FakeCertificates) -> AsyncIterator[aiohttp.ClientSession]:
    # A context of its own: httpx sets ALPN on the contexts it is given (providers.md 7).
    context: ssl.SSLContext = certs.client_context()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as client:
        yield client


def _info(subscription: Subscription, *, auth: str | None = None) -> dict[str, Any]:
    keys = {"p256dh": subscription.p256dh, "auth": auth or subscription.auth}
    return {"endpoint": subscription.endpoint, "keys": keys}


async def _pywebpush(
    session: aiohttp.ClientSession, subscription: Subscription, data: str, **kwargs: Any
) -> Any:
    return await webpush_async(
        _info(subscription, auth=kwargs.pop("auth", None)),
        data,
        vapid_private_key=VAPID_PRIVATE,
        vapid_claims={"sub": "mailto:ops@example.com"},
        ttl=60,
        aiohttp_session=session,
        **kwargs,
    )


@pytest.mark.parametrize("restricted", [False, True])
async def test_pywebpush_is_accepted_and_decrypted(
    fake: FakeWebPush, inbox: Inbox, session: aiohttp.ClientSession, restricted: bool
) -> None:
    subscription = fake.subscribe(VAPID_PUBLIC if restricted else None)
    data = json.dumps({"title": "from pywebpush", "body": "ü"})
    response = await _pywebpush(session, subscription, data, headers={"Urgency": "high"})
    assert response.status == 201
    assert fake.http_versions == {"1.1": 1}  # aiohttp: HTTP/1.1, our adapter: h2
    assert response.headers["Location"].startswith(f"{fake.origin}/m/")
    assert response.headers["TTL"] == "60"
    assert fake.plaintexts(subscription) == [data.encode()]
    [received] = inbox.received
    assert received.payload == {"title": "from pywebpush", "body": "ü"}
    assert received.headers["urgency"] == "high"
    assert "t=sha256:" in received.headers["authorization"]  # the JWT itself is not kept


async def test_pywebpush_with_the_wrong_auth_secret_fails_decryption(
    fake: FakeWebPush, session: aiohttp.ClientSession
) -> None:
    subscription = fake.subscribe()
    with pytest.raises(WebPushException) as caught:
        await _pywebpush(session, subscription, "hi", auth=_b64url(b"\x01" * 16))
    assert caught.value.response.status == 400
    assert fake.plaintexts(subscription) == []


async def test_pywebpush_signed_by_another_key_is_403_on_a_restricted_subscription(
    fake: FakeWebPush, session: aiohttp.ClientSession
) -> None:
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    restricted_to = _b64url(
        other.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    with pytest.raises(WebPushException) as caught:
        await _pywebpush(session, fake.subscribe(restricted_to), "hi")
    assert caught.value.response.status == 403


def _vapid(origin: str) -> str:
    claims = {"aud": origin, "exp": int(time.time()) + 600, "sub": "mailto:a@b.c"}
    return f"vapid t={jwt.encode(claims, VAPID_KEY, algorithm='ES256')}, k={VAPID_PUBLIC}"


@pytest.fixture
async def raw(certs: FakeCertificates) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(verify=certs.client_context(), http2=True) as client:
        yield client


async def test_wire_refusals(fake: FakeWebPush, raw: httpx2.AsyncClient) -> None:
    subscription = fake.subscribe()
    good = {
        "ttl": "60",
        "content-encoding": "aes128gcm",
        "authorization": _vapid(fake.origin),
    }
    cases: list[tuple[dict[str, str], bytes, int, str]] = [
        ({k: v for k, v in good.items() if k != "ttl"}, b"x" * 200, 400, "MissingTtl"),
        ({**good, "urgency": "now"}, b"x" * 200, 400, "InvalidUrgency"),
        ({k: v for k, v in good.items() if k != "authorization"}, b"x" * 200, 401, ""),
        ({**good, "authorization": _vapid("https://elsewhere.example")}, b"x", 401, ""),
        (good, b"x" * 4097, 413, "PayloadTooLarge"),
        (good, b"x" * 200, 400, "DecryptionFailed"),  # not aes128gcm at all
    ]
    for headers, body, status, reason in cases:
        response = await raw.post(subscription.endpoint, headers=headers, content=body)
        assert response.status_code == status, (headers.keys(), status)
        if reason:
            assert response.json() == {"reason": reason}
    assert fake.plaintexts(subscription) == []
    assert (await raw.get(subscription.endpoint)).status_code == 405
    assert (await raw.post(f"{fake.origin}/wp/unknown", headers=good)).status_code == 404


async def test_an_empty_push_message_is_accepted_without_decryption(
    fake: FakeWebPush, raw: httpx2.AsyncClient, inbox: Inbox
) -> None:
    subscription = fake.subscribe()
    headers = {"ttl": "0", "authorization": _vapid(fake.origin)}
    response = await raw.post(subscription.endpoint, headers=headers)
    assert response.status_code == 201
    assert response.headers["ttl"] == "0"
    assert fake.plaintexts(subscription) == [b""]
    assert inbox.received[0].payload == ""
