"""Web Push (VAPID), WNS and SMS credentials on write; APNs and FCM are in test_credential_checks.

Every refusal names the field and never shows the secret that was passed.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.domain.records import JsonObject
from pushgate.errors import MissingField
from pushgate.services.credential_checks import check_credential
from tests.unit.services.refusals import assert_hides, refused

PASSWORD = "correct-horse-battery-staple"
MAILTO = "mailto:ops@example.com"
GATEWAY = "https://sms.example.com/send"
_OTHER_P256 = ec.generate_private_key(ec.SECP256R1())


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _raw_public(key: ec.EllipticCurvePrivateKey) -> bytes:
    point = serialization.PublicFormat.UncompressedPoint
    return key.public_key().public_bytes(serialization.Encoding.X962, point)


def _raw_private(key: ec.EllipticCurvePrivateKey) -> str:
    return _b64url(key.private_numbers().private_value.to_bytes(32, "big"))


@pytest.fixture(scope="module")
def p256_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


# --- Web Push (VAPID, RFC 8292) ------------------------------------------------------------


def test_webpush_generate_makes_a_p256_key_pair() -> None:
    checked = check_credential("webpush", {"subject": MAILTO, "generate": True})
    public = _b64url_decode(checked.settings["public_key"])
    assert len(public) == 65
    assert public[0] == 0x04  # uncompressed point, what browsers' applicationServerKey takes
    private_raw = _b64url_decode(checked.secret["private_key"])
    assert len(private_raw) == 32
    derived = ec.derive_private_key(int.from_bytes(private_raw, "big"), ec.SECP256R1())
    assert _raw_public(derived) == public
    assert checked.settings["subject"] == MAILTO
    assert set(checked.secret) == {"private_key"}
    assert "=" not in checked.settings["public_key"] + checked.secret["private_key"]


def test_webpush_generate_makes_a_new_key_each_time() -> None:
    first = check_credential("webpush", {"subject": MAILTO, "generate": True})
    second = check_credential("webpush", {"subject": MAILTO, "generate": True})
    assert first.secret["private_key"] != second.secret["private_key"]
    assert first.settings["public_key"] != second.settings["public_key"]


@pytest.mark.parametrize("padded", [False, True])
def test_webpush_given_key_pair_is_kept(p256_key: ec.EllipticCurvePrivateKey, padded: bool) -> None:
    private, public = _raw_private(p256_key), _b64url(_raw_public(p256_key))
    given = base64.urlsafe_b64encode(_raw_public(p256_key)).decode() if padded else public
    subject = "https://example.com/contact"
    fields: JsonObject = {"subject": subject, "private_key": private, "public_key": given}
    checked = check_credential("webpush", fields)
    assert checked.settings == {"public_key": public, "subject": subject}
    assert checked.secret == {"private_key": private}


def test_webpush_public_key_must_match_private_key(p256_key: ec.EllipticCurvePrivateKey) -> None:
    private = _raw_private(p256_key)
    other = _b64url(_raw_public(_OTHER_P256))
    error = refused("webpush", {"subject": MAILTO, "private_key": private, "public_key": other})
    assert error.field == "public_key"
    assert_hides(error, private)


@pytest.mark.parametrize(
    "private_key",
    [_b64url(b"\x07" * 31), _b64url(b"\x07" * 33), _b64url(bytes(32)), _b64url(b"\xff" * 32)],
    ids=["31-bytes", "33-bytes", "zero", "above-curve-order"],
)
def test_webpush_bad_private_key_isrefused(private_key: str) -> None:
    error = refused("webpush", {"subject": MAILTO, "private_key": private_key})
    assert error.field == "private_key"
    assert_hides(error, private_key)


def test_webpush_needs_a_private_key_unless_generating() -> None:
    assert refused("webpush", {"subject": MAILTO}, MissingField).field == "private_key"


@pytest.mark.parametrize(
    "subject", ["ops@example.com", "http://example.com", "javascript:alert(1)", "https:/x", " "]
)
def test_webpush_subject_must_be_mailto_or_https(subject: str) -> None:
    assert refused("webpush", {"subject": subject, "generate": True}).field == "subject"


def test_webpush_subject_is_required() -> None:
    assert refused("webpush", {"generate": True}, MissingField).field == "subject"


# --- WNS -----------------------------------------------------------------------------------


def test_wns_client_secret_is_kept_secret() -> None:
    checked = check_credential("wns", {"client_id": "ms-app://s-1-15-2", "client_secret": "s3"})
    assert checked.settings == {"client_id": "ms-app://s-1-15-2"}
    assert checked.secret == {"client_secret": "s3"}


@pytest.mark.parametrize("field", ["client_id", "client_secret"])
def test_wns_fields_are_required(field: str) -> None:
    fields: JsonObject = {"client_id": "ms-app://s-1-15-2", "client_secret": "s3", field: ""}
    assert refused("wns", fields, MissingField).field == field


def test_wns_client_secret_must_be_a_string() -> None:
    error = refused("wns", {"client_id": "ms-app://s-1-15-2", "client_secret": 1234567})
    assert error.field == "client_secret"
    assert_hides(error, "1234567")


# --- SMS -----------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", [{}, {"auth_type": "none"}], ids=["default", "none"])
def test_sms_without_auth(auth: JsonObject) -> None:
    checked = check_credential("sms", {"gateway_url": GATEWAY, "sender": "Pushgate", **auth})
    assert checked.settings == {"gateway_url": GATEWAY, "auth_type": "none", "sender": "Pushgate"}
    assert checked.secret == {}


def test_sms_basic_auth_keeps_password_secret() -> None:
    fields: JsonObject = {
        "gateway_url": GATEWAY,
        "auth_type": "basic",
        "username": "gw-user",
        "password": PASSWORD,
    }
    checked = check_credential("sms", fields)
    assert checked.settings == {
        "gateway_url": GATEWAY,
        "auth_type": "basic",
        "sender": None,
        "username": "gw-user",
    }
    assert checked.secret == {"password": PASSWORD}


def test_sms_bearer_auth_keeps_token_secret() -> None:
    fields: JsonObject = {"gateway_url": GATEWAY, "auth_type": "bearer", "token": "tok-123456"}
    checked = check_credential("sms", fields)
    assert checked.settings == {"gateway_url": GATEWAY, "auth_type": "bearer", "sender": None}
    assert checked.secret == {"token": "tok-123456"}


@pytest.mark.parametrize(
    ("auth_type", "missing"), [("basic", "username"), ("basic", "password"), ("bearer", "token")]
)
def test_sms_auth_needs_its_fields(auth_type: str, missing: str) -> None:
    fields: JsonObject = {
        "gateway_url": GATEWAY,
        "auth_type": auth_type,
        "username": "gw-user",
        "password": PASSWORD,
        "token": "tok-123456",
    }
    del fields[missing]
    assert refused("sms", fields, MissingField).field == missing


@pytest.mark.parametrize("auth_type", ["digest", "Basic", "oauth2"])
def test_sms_unknown_auth_type_isrefused(auth_type: str) -> None:
    fields: JsonObject = {"gateway_url": GATEWAY, "auth_type": auth_type, "password": PASSWORD}
    error = refused("sms", fields)
    assert error.field == "auth_type"
    assert_hides(error, PASSWORD)


@pytest.mark.parametrize(
    "url", ["ftp://sms.example.com", "sms.example.com", "https://", "http://a b"]
)
def test_sms_gateway_url_is_checked(url: str) -> None:
    assert refused("sms", {"gateway_url": url}).field == "gateway_url"


def test_sms_gateway_template_settings_are_kept_and_checked() -> None:
    fields: JsonObject = {
        "gateway_url": "https://sms.example/send",
        "method": "POST",
        "body_format": "json",
        "body_template": {"to": "$to", "message": "$text"},
    }
    checked = check_credential("sms", fields)
    assert checked.settings["body_format"] == "json"
    assert checked.settings["body_template"] == {"to": "$to", "message": "$text"}
    bad = refused("sms", {**fields, "body_template": {"to": "$phone"}})
    assert bad.field == "body_template.to"
    assert refused("sms", {**fields, "method": "PUT"}).field == "method"
