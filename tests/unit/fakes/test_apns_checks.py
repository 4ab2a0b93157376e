"""The fake APNs's own checks (pure): provider tokens, headers, bodies, Huffman decoding."""

from __future__ import annotations

import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hpack.huffman_table import decode_huffman as hpack_decode_huffman

from pushgate.fakes.apns_checks import (
    PRODUCTION,
    SANDBOX,
    ApnsKey,
    TokenVerifier,
    check_body,
    check_headers,
    split_topic,
)
from pushgate.fakes.h2_server import decode_huffman

KEY = ec.generate_private_key(ec.SECP256R1())
NOW = 1_800_000_000.0
TOPICS = frozenset({"com.example.app"})


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def sign(
    iat: float,
    *,
    kid: str = "KEY1234567",
    iss: str = "TEAM123456",
    key: ec.EllipticCurvePrivateKey = KEY,
) -> bytes:
    return jwt.encode(
        {"iss": iss, "iat": int(iat)}, key, algorithm="ES256", headers={"kid": kid}
    ).encode()


def verifier(environment: str | None = None) -> tuple[TokenVerifier, Clock]:
    clock = Clock()
    checks = TokenVerifier(clock)
    checks.add_key(ApnsKey("KEY1234567", "TEAM123456", KEY.public_key(), environment))
    return checks, clock


def test_valid_token_names_its_key() -> None:
    checks, _ = verifier()
    key = checks.check(sign(NOW), PRODUCTION)
    assert isinstance(key, ApnsKey)
    assert key.team_id == "TEAM123456"


def test_token_older_than_an_hour_is_expired() -> None:
    checks, clock = verifier()
    token = sign(NOW)
    clock.now += 3600
    assert isinstance(checks.check(token, PRODUCTION), ApnsKey)
    clock.now += 1
    assert checks.check(token, PRODUCTION) == "ExpiredProviderToken"


@pytest.mark.parametrize(
    "token",
    [
        sign(NOW, kid="UNKNOWN123"),
        sign(NOW, iss="OTHERTEAM0"),
        sign(NOW, key=ec.generate_private_key(ec.SECP256R1())),
        sign(NOW + 3600),
        b"not.a.jwt",
        b"garbage",
    ],
    ids=[
        "unknown kid",
        "other team",
        "wrong signature",
        "iat in the future",
        "bad parts",
        "no dots",
    ],
)
def test_invalid_tokens(token: bytes) -> None:
    checks, _ = verifier()
    assert checks.check(token, PRODUCTION) == "InvalidProviderToken"


def test_environment_scoped_key_on_the_other_host() -> None:
    checks, _ = verifier(environment=SANDBOX)
    assert checks.check(sign(NOW), PRODUCTION) == "BadEnvironmentKeyIdInToken"
    assert isinstance(checks.check(sign(NOW), SANDBOX), ApnsKey)


def test_a_third_new_token_within_20_minutes_is_too_many_updates() -> None:
    checks, clock = verifier()
    assert isinstance(checks.check(sign(NOW), PRODUCTION), ApnsKey)
    clock.now += 60
    assert isinstance(checks.check(sign(clock.now), PRODUCTION), ApnsKey)
    clock.now += 60
    assert checks.check(sign(clock.now), PRODUCTION) == "TooManyProviderTokenUpdates"
    clock.now += 20 * 60
    assert isinstance(checks.check(sign(clock.now), PRODUCTION), ApnsKey)


def headers(**fields: str) -> dict[bytes, bytes]:
    base = {"apns-topic": "com.example.app", "apns-push-type": "alert"}
    base.update({k.replace("_", "-"): v for k, v in fields.items()})
    return {k.encode(): v.encode() for k, v in base.items() if v}


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, None),
        ({"apns_topic": ""}, "MissingTopic"),
        ({"apns_topic": "com.other.app"}, "TopicDisallowed"),
        ({"apns_topic": "com.example.app.voip"}, "BadTopic"),
        ({"apns_push_type": "voip"}, "BadTopic"),
        ({"apns_push_type": "voip", "apns_topic": "com.example.app.voip"}, None),
        ({"apns_push_type": "shout"}, "InvalidPushType"),
        ({"apns_id": "not-a-uuid"}, "BadMessageId"),
        ({"apns_expiration": "soon"}, "BadExpirationDate"),
        ({"apns_priority": "7"}, "BadPriority"),
        ({"apns_push_type": "background", "apns_priority": "10"}, "BadPriority"),
        ({"apns_push_type": "background", "apns_priority": "5"}, None),
        ({"apns_collapse_id": "x" * 65}, "BadCollapseId"),
    ],
)
def test_header_checks(fields: dict[str, str], reason: str | None) -> None:
    assert check_headers(headers(**fields), TOPICS) == reason


def test_topic_suffixes() -> None:
    assert split_topic("com.a.voip") == ("com.a", ".voip")
    assert split_topic("com.a.push-type.liveactivity") == ("com.a", ".push-type.liveactivity")
    assert split_topic("com.a") == ("com.a", "")


def test_body_checks() -> None:
    assert check_body(b"", b"alert")[0].reason == "PayloadEmpty"  # type: ignore[union-attr]
    big = json.dumps({"aps": {"alert": "x" * 4100}}).encode()
    assert check_body(big, b"alert")[0].status == 413  # type: ignore[union-attr]
    assert check_body(big, b"voip") == (None, {"aps": {"alert": "x" * 4100}})
    assert check_body(b"{nope", b"alert")[0].reason == "FakeInvalidJson"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"a",
        b"/3/device/0123456789abcdef",
        b"bearer eyJhbGciOiJFUzI1NiJ9.x-y_z",
        bytes(range(256)),
    ],
)
def test_byte_wise_huffman_equals_hpacks(text: bytes) -> None:
    encoded = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH).encode(text)
    assert decode_huffman(encoded) == hpack_decode_huffman(encoded) == text
