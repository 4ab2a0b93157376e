"""VAPID (RFC 8292): the JWT's claims, per-origin reuse, renewal before expiry, origins."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.providers.base import ProviderCredential
from pushgate.providers.vapid import (
    RENEW_MARGIN_S,
    TOKEN_LIFETIME_S,
    VapidSigner,
    b64url_decode,
    endpoint_origin,
    load_vapid_keys,
)
from pushgate.services.credential_checks import check_credential

SUBJECT = "mailto:ops@example.com"
START = 1_767_268_800.0  # 2026-01-01T12:00:00Z


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def _credential() -> ProviderCredential:
    checked = check_credential("webpush", {"subject": SUBJECT, "generate": True})
    return ProviderCredential(1, "webpush", checked.settings, checked.secret, None, "v1")


def _token(header: str) -> tuple[str, str]:
    assert header.startswith("vapid t=")
    token, _, key = header.removeprefix("vapid t=").partition(", k=")
    return token, key


def test_header_carries_an_es256_jwt_for_the_origin_and_the_public_key() -> None:
    credential = _credential()
    clock = Clock()
    signer = VapidSigner(load_vapid_keys(credential), clock)
    token, key = _token(signer.authorization("https://push.example.com"))
    assert key == credential.settings["public_key"]
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
    claims = jwt.decode(
        token,
        public,
        algorithms=["ES256"],
        audience="https://push.example.com",
        options={"verify_exp": False},
    )
    assert claims == {
        "aud": "https://push.example.com",
        "exp": int(START) + TOKEN_LIFETIME_S,
        "sub": SUBJECT,
    }
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "typ": "JWT"}
    assert TOKEN_LIFETIME_S < 24 * 3600


def test_one_token_per_origin_reused_until_close_to_expiry() -> None:
    clock = Clock()
    signer = VapidSigner(load_vapid_keys(_credential()), clock)
    first = signer.authorization("https://a.example")
    other = signer.authorization("https://b.example")
    assert other != first
    clock.now += TOKEN_LIFETIME_S - RENEW_MARGIN_S - 1
    assert signer.authorization("https://a.example") == first
    clock.now += 2  # now inside the renewal margin
    renewed = signer.authorization("https://a.example")
    assert renewed != first
    claims = jwt.decode(_token(renewed)[0], options={"verify_signature": False})
    assert claims["exp"] == int(clock.now) + TOKEN_LIFETIME_S


def test_the_private_key_never_appears_in_the_keys_repr() -> None:
    credential = _credential()
    keys = load_vapid_keys(credential)
    assert str(credential.secret["private_key"]) not in repr(keys)
    assert "private_key" not in repr(keys)


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc", "https://fcm.googleapis.com"),
        (
            "https://Updates.Push.Services.Mozilla.com/wpush/v2/x",
            "https://updates.push.services.mozilla.com",
        ),
        ("https://web.push.apple.com:443/Q", "https://web.push.apple.com"),
        ("https://127.0.0.1:8443/wp/1", "https://127.0.0.1:8443"),
        ("https://[2001:db8::1]:8443/wp/1", "https://[2001:db8::1]:8443"),
        ("https://push.example.com/wp?x=1#frag", "https://push.example.com"),
    ],
)
def test_origin_is_the_rfc_6454_serialisation(url: str, origin: str) -> None:
    assert endpoint_origin(url) == origin
