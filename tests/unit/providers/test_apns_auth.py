"""APNs provider tokens: reuse, renewal every 45 minutes, no renewal within 20, the same token
in every process (pure, clock moved)."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.providers.apns_auth import (
    RENEW_AFTER_S,
    ProviderToken,
    ProviderTokens,
    period_start_of,
)


def pem_of(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


KEY = ec.generate_private_key(ec.SECP256R1())
PEM = pem_of(KEY)


class Clock:
    def __init__(self) -> None:
        # The start of a token period, so the first token is dated now; PyJWT refuses an iat
        # in its future.
        self.now = float(period_start_of(time.time()))

    def __call__(self) -> float:
        return self.now


def claims(line: str) -> dict[str, object]:
    token = line.removeprefix("authorization: bearer ")
    # The tests' clock runs ahead of the real one: PyJWT would take the iat as in its future.
    decoded: dict[str, object] = jwt.decode(
        token, KEY.public_key(), algorithms=["ES256"], options={"verify_iat": False}
    )
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


def test_processes_holding_one_key_sign_the_same_token_without_talking() -> None:
    # The API process and each worker have a ProviderToken of their own, started at different
    # times: within one period they present byte-identical tokens, so APNs sees one update.
    clock = Clock()
    first_process = ProviderToken("KEY1234567", "TEAM123456", PEM, clock)
    early = first_process.header()
    clock.now += 30 * 60
    second_process = ProviderToken("KEY1234567", "TEAM123456", PEM, clock)
    assert second_process.header() == early
    assert claims(early)["iat"] == int(clock.now) - 30 * 60
    clock.now += 15 * 60  # the next period: both renew, to the same new token
    renewed = first_process.header()
    assert renewed != early
    assert second_process.header() == renewed
    assert claims(renewed)["iat"] == int(clock.now)


def test_a_token_is_never_older_than_the_period() -> None:
    clock = Clock()
    token = ProviderToken("KEY1234567", "TEAM123456", PEM, clock)
    for _ in range(200):
        clock.now += 61.7
        token.header()
        assert token.issued_at is not None
        assert 0 <= clock.now - token.issued_at < RENEW_AFTER_S


def test_a_key_on_another_curve_is_refused() -> None:
    p384 = pem_of(ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(ValueError, match="P-256"):
        ProviderToken("KEY1234567", "TEAM123456", p384, Clock())


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
    other_pem = pem_of(ec.generate_private_key(ec.SECP256R1()))
    first = tokens.get("KEY1234567", "TEAM123456", PEM)
    assert tokens.get("KEY1234567", "TEAM123456", PEM) is first
    assert tokens.get("KEY1234567", "TEAM123456", other_pem) is not first
