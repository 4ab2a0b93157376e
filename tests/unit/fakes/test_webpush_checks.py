"""The fake Web Push service's own checks: it must refuse what a real push service refuses,
or it proves nothing about the adapter. Tokens here are made with PyJWT directly."""

from __future__ import annotations

import base64

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.fakes.webpush_checks import Refusal, check_headers, check_vapid, parse_vapid

ORIGIN = "https://127.0.0.1:8443"
NOW = 1_767_268_800.0
GOOD_HEADERS = {"ttl": "60", "urgency": "normal", "content-encoding": "aes128gcm"}


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _public(key: ec.EllipticCurvePrivateKey) -> str:
    return _b64url(
        key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


KEY = ec.generate_private_key(ec.SECP256R1())
OTHER = ec.generate_private_key(ec.SECP256R1())


def _header(
    *,
    key: ec.EllipticCurvePrivateKey = KEY,
    k: str | None = None,
    aud: str = ORIGIN,
    exp: float = NOW + 3600,
    sub: str | None = "mailto:ops@example.com",
    algorithm: str = "ES256",
) -> str:
    claims: dict[str, object] = {"aud": aud, "exp": int(exp)}
    if sub is not None:
        claims["sub"] = sub
    token = jwt.encode(claims, key, algorithm=algorithm)
    return f"vapid t={token}, k={k or _public(key)}"


def test_good_headers_pass() -> None:
    assert check_headers(GOOD_HEADERS, 100) is None
    assert check_headers({"ttl": "0"}, 0) is None  # no payload: no Content-Encoding needed


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"ttl": None}, Refusal(400, "MissingTtl")),
        ({"ttl": "-1"}, Refusal(400, "InvalidTtl")),
        ({"ttl": "1.5"}, Refusal(400, "InvalidTtl")),
        ({"urgency": "urgent"}, Refusal(400, "InvalidUrgency")),
        ({"topic": "a" * 33}, Refusal(400, "InvalidTopic")),
        ({"topic": "no spaces"}, Refusal(400, "InvalidTopic")),
        ({"content-encoding": "aesgcm"}, Refusal(400, "UnsupportedContentEncoding")),
        ({"content-encoding": None}, Refusal(400, "UnsupportedContentEncoding")),
    ],
)
def test_bad_headers_are_refused(change: dict[str, str | None], refusal: Refusal) -> None:
    headers = {**GOOD_HEADERS, **change}
    assert check_headers({k: v for k, v in headers.items() if v is not None}, 100) == refusal


def test_a_body_over_4096_bytes_is_413() -> None:
    assert check_headers(GOOD_HEADERS, 4096) is None
    assert check_headers(GOOD_HEADERS, 4097) == Refusal(413, "PayloadTooLarge")


def test_vapid_parameters_parse_in_any_order_and_spacing() -> None:
    assert parse_vapid("vapid t=a.b.c, k=KEY") == ("a.b.c", "KEY")
    assert parse_vapid("vapid k=KEY,t=a.b.c") == ("a.b.c", "KEY")
    assert parse_vapid("WebPush a.b.c") is None  # the obsolete draft scheme
    assert parse_vapid("vapid t=a.b.c") is None


def test_a_valid_vapid_header_passes_restricted_or_not() -> None:
    header = _header()
    assert check_vapid(header, origin=ORIGIN, restricted_key=None, now=NOW) is None
    assert check_vapid(header, origin=ORIGIN, restricted_key=_public(KEY), now=NOW) is None


@pytest.mark.parametrize(
    ("header", "refusal"),
    [
        (None, Refusal(401, "MissingVapidAuthorization")),
        ("Bearer x", Refusal(401, "MissingVapidAuthorization")),
        (_header(k="not-a-point"), Refusal(401, "InvalidVapidKey")),
        (_header(k=_public(OTHER)), Refusal(401, "BadJwtToken")),  # signed by another key
        (_header(aud="https://127.0.0.1:9999"), Refusal(401, "BadJwtAudience")),
        (_header(exp=NOW - 1), Refusal(401, "ExpiredJwtToken")),
        (_header(exp=NOW + 24 * 3600 + 60), Refusal(401, "JwtExpiryTooFar")),
        (_header(sub=None), Refusal(401, "BadJwtSubject")),
        (_header(sub="ops@example.com"), Refusal(401, "BadJwtSubject")),
    ],
)
def test_bad_vapid_is_401(header: str | None, refusal: Refusal) -> None:
    assert check_vapid(header, origin=ORIGIN, restricted_key=None, now=NOW) == refusal


def test_a_token_signed_with_hs256_is_refused() -> None:
    token = jwt.encode({"aud": ORIGIN, "exp": int(NOW + 60), "sub": "mailto:a@b.c"}, "k" * 32)
    header = f"vapid t={token}, k={_public(KEY)}"
    assert check_vapid(header, origin=ORIGIN, restricted_key=None, now=NOW) == Refusal(
        401, "BadJwtToken"
    )


def test_another_key_than_the_subscriptions_is_403() -> None:
    header = _header(key=OTHER)
    assert check_vapid(header, origin=ORIGIN, restricted_key=_public(KEY), now=NOW) == Refusal(
        403, "VapidKeyMismatch"
    )
