"""APNs provider tokens: reuse, renewal at 45 minutes, no renewal within 20 (pure, clock moved)."""

from __future__ import annotations

import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.providers.apns_auth import ProviderToken, ProviderTokens

KEY = ec.generate_private_key(ec.SECP256R1())
PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()


class Clock:
    def __init__(self) -> None:
        self.now = float(int(time.time()))  # PyJWT refuses an iat in its future

    def __call__(self) -> float:
        return self.now


def claims(line: str) -> dict[str, object]:
    token = line.removeprefix("authorization: bearer ")
    decoded: dict[str, object] = jwt.decode(token, KEY.public_key(), algorithms=["ES256"])
    return decoded


def test_token_is_reused_until_45_minutes_then_renewed() -> None:
    clock = Clock()
    token = ProviderToken("KEY1234567", "TEAM123456", PEM, clock)
    first = token.header()
    assert claims(first) == {"iss": "TEAM123456", "iat": int(clock.now)}
    clock.now += 44 * 60
    assert token.header() == first
    clock.now += 60
    renewed = token.header()
    assert renewed != first
    assert token.signed == 2
    assert token.issued_at == int(clock.now)


def test_expired_answer_renews_only_after_20_minutes() -> None:
    clock = Clock()
    token = ProviderToken("KEY1234567", "TEAM123456", PEM, clock)
    line = token.header()
    clock.now += 19 * 60
    assert not token.renew_expired(line)
    clock.now += 60
    assert token.renew_expired(line)
    assert token.signed == 2
    assert token.renew_expired(line)  # refused line is an old one: the current one is newer
    assert token.signed == 2


def test_tokens_are_shared_per_key_and_a_replaced_key_gets_its_own() -> None:
    tokens = ProviderTokens(Clock())
    other_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    first = tokens.get("KEY1234567", "TEAM123456", PEM)
    assert tokens.get("KEY1234567", "TEAM123456", PEM) is first
    assert tokens.get("KEY1234567", "TEAM123456", other_pem) is not first
