"""APNs and FCM credentials on write: real keys, refusals naming the field, never the secret.

Web Push, WNS and SMS are in test_credential_checks_webpush_wns_sms.py (files stay under 400
lines, style.md section 3).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from pushgate.domain.records import JsonObject
from pushgate.errors import ErrorCode, InvalidInput, MissingField, UnknownField
from pushgate.services.credential_checks import PROVIDERS, check_credential, check_endpoint
from tests.unit.services.refusals import assert_hides, refused

KEY_ID = "ABC123DEFG"
TEAM_ID = "TEAM456789"
TOPIC = "com.example.app"
PASSWORD = "correct-horse-battery-staple"

_PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
# Keys that must be refused where they appear; made once, at import, for parametrisation.
_P384 = ec.generate_private_key(ec.SECP384R1())
_OTHER_P256 = ec.generate_private_key(ec.SECP256R1())
_OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: _PrivateKey, password: str | None = None) -> str:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    pkcs8 = serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, pkcs8, encryption).decode()


@pytest.fixture(scope="module")
def p256_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def certificate(rsa_key: rsa.RSAPrivateKey) -> str:
    """A self-signed APNs-style certificate for rsa_key, valid until 2035-01-01."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TOPIC)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(rsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2025, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2035, 1, 1, tzinfo=UTC))
        .sign(rsa_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


# --- APNs, token (.p8) ---------------------------------------------------------------------


def _apns_token(key: str) -> JsonObject:
    return {"key_id": KEY_ID, "team_id": TEAM_ID, "topic": TOPIC, "key": key}


def test_apns_p8_key_is_split_into_settings_and_secret(
    p256_key: ec.EllipticCurvePrivateKey,
) -> None:
    pem = _pem(p256_key)
    checked = check_credential("apns", _apns_token(pem))
    settings = {"auth": "token", "key_id": KEY_ID, "team_id": TEAM_ID, "topic": TOPIC}
    assert checked.settings == settings
    assert checked.secret == {"key": pem}


@pytest.mark.parametrize("key", [_P384, _OTHER_RSA], ids=["ec-p384", "rsa"])
def test_apns_key_other_than_p256_isrefused(key: _PrivateKey) -> None:
    pem = _pem(key)
    error = refused("apns", _apns_token(pem))
    assert error.field == "key"
    assert "P-256" in error.message
    assert_hides(error, pem)


def test_apns_key_that_is_not_pem_isrefused() -> None:
    secret = "MIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQg-not-a-pem"
    error = refused("apns", _apns_token(secret))
    assert error.field == "key"
    assert_hides(error, secret)


# A PKCS#8 key whose algorithm cryptography cannot load raises UnsupportedAlgorithm, not
# ValueError; it must still be a field error, not a 500 (regression test for 8d8da86).
def test_apns_key_of_unknown_algorithm_isrefused() -> None:
    # PrivateKeyInfo { version 0, algorithm OID 1.2.3.4, privateKey OCTET STRING }
    der = base64.b64encode(bytes.fromhex("3012020100300506032a03040406040401020304")).decode()
    pem = f"-----BEGIN PRIVATE KEY-----\n{der}\n-----END PRIVATE KEY-----\n"
    assert refused("apns", _apns_token(pem)).field == "key"


@pytest.mark.parametrize(
    ("field", "value"),
    [("key_id", "abc123defg"), ("key_id", "ABC123DEF"), ("team_id", "TEAM45678901")],
)
def test_apns_apple_identifiers_are_checked(
    p256_key: ec.EllipticCurvePrivateKey, field: str, value: str
) -> None:
    fields = {**_apns_token(_pem(p256_key)), field: value}
    assert refused("apns", fields).field == field


@pytest.mark.parametrize("field", ["topic", "key_id", "team_id", "key"])
def test_apns_token_fields_are_required(p256_key: ec.EllipticCurvePrivateKey, field: str) -> None:
    fields = _apns_token(_pem(p256_key))
    del fields[field]
    error = refused("apns", fields, MissingField)
    assert error.field == field
    assert error.code is ErrorCode.MISSING_FIELD


# --- APNs, certificate ---------------------------------------------------------------------


def test_apns_certificate_with_its_key_is_accepted(
    certificate: str, rsa_key: rsa.RSAPrivateKey
) -> None:
    pem = _pem(rsa_key)
    fields: JsonObject = {"topic": TOPIC, "certificate": certificate, "private_key": pem}
    checked = check_credential("apns", fields)
    assert checked.settings == {
        "auth": "certificate",
        "topic": TOPIC,
        "subject": f"CN={TOPIC}",
        "not_valid_after": "2035-01-01T00:00:00+00:00",
    }
    secret = {"certificate": certificate, "private_key": pem, "private_key_password": None}
    assert checked.secret == secret


def test_apns_certificate_with_encrypted_key_and_password(
    certificate: str, rsa_key: rsa.RSAPrivateKey
) -> None:
    fields: JsonObject = {
        "topic": TOPIC,
        "certificate": certificate,
        "private_key": _pem(rsa_key, PASSWORD),
        "private_key_password": PASSWORD,
    }
    checked = check_credential("apns", fields)
    assert checked.settings["auth"] == "certificate"
    assert checked.secret["private_key_password"] == PASSWORD
    assert PASSWORD not in repr(checked.settings)


@pytest.mark.parametrize("password", [None, "wrong-password-123"])
def test_apns_certificate_encrypted_key_needs_its_password(
    certificate: str, rsa_key: rsa.RSAPrivateKey, password: str | None
) -> None:
    pem = _pem(rsa_key, PASSWORD)
    fields: JsonObject = {"topic": TOPIC, "certificate": certificate, "private_key": pem}
    if password is not None:
        fields["private_key_password"] = password
    error = refused("apns", fields)
    assert error.field == "private_key"
    assert_hides(error, pem, PASSWORD, *([password] if password else []))


@pytest.mark.parametrize("other", [_OTHER_RSA, _OTHER_P256], ids=["rsa", "ec"])
def test_apns_certificate_with_another_key_isrefused(certificate: str, other: _PrivateKey) -> None:
    pem = _pem(other)
    error = refused("apns", {"topic": TOPIC, "certificate": certificate, "private_key": pem})
    assert error.field == "private_key"
    assert "certificate" in error.message
    assert_hides(error, pem)


def test_apns_certificate_that_is_not_pem_isrefused(rsa_key: rsa.RSAPrivateKey) -> None:
    fields: JsonObject = {"topic": TOPIC, "certificate": "not a cert", "private_key": _pem(rsa_key)}
    assert refused("apns", fields).field == "certificate"


def test_apns_certificate_needs_private_key(certificate: str) -> None:
    fields: JsonObject = {"topic": TOPIC, "certificate": certificate}
    assert refused("apns", fields, MissingField).field == "private_key"


# --- FCM -----------------------------------------------------------------------------------


def _account(private_key: str) -> JsonObject:
    return {
        "type": "service_account",
        "project_id": "demo-project",
        "private_key_id": "0123abcd",
        "private_key": private_key,
        "client_email": "push@demo-project.iam.gserviceaccount.com",
    }


def test_fcm_service_account_is_accepted(rsa_key: rsa.RSAPrivateKey) -> None:
    account = _account(_pem(rsa_key))
    checked = check_credential("fcm", {"service_account": account})
    assert checked.settings == {
        "project_id": "demo-project",
        "client_email": "push@demo-project.iam.gserviceaccount.com",
        "private_key_id": "0123abcd",
    }
    assert checked.secret == {"service_account": account}


@pytest.mark.parametrize("name", ["project_id", "client_email", "private_key"])
@pytest.mark.parametrize("blank", [None, ""])
def test_fcm_service_account_fields_are_required(
    rsa_key: rsa.RSAPrivateKey, name: str, blank: str | None
) -> None:
    account = _account(_pem(rsa_key))
    if blank is None:
        del account[name]
    else:
        account[name] = blank
    error = refused("fcm", {"service_account": account}, MissingField)
    assert error.field == f"service_account.{name}"


def test_fcm_needs_service_account() -> None:
    assert refused("fcm", {}, MissingField).field == "service_account"


def test_fcm_service_account_must_be_an_object() -> None:
    fields: JsonObject = {"service_account": '{"type": "service_account"}'}
    assert refused("fcm", fields).field == "service_account"


def test_fcm_service_account_type_is_checked(rsa_key: rsa.RSAPrivateKey) -> None:
    account = {**_account(_pem(rsa_key)), "type": "authorized_user"}
    assert refused("fcm", {"service_account": account}).field == "service_account.type"


@pytest.mark.parametrize(
    "private_key",
    [_pem(_OTHER_P256), "-----BEGIN PRIVATE KEY-----\nZm9vYmFyYmF6\n-----END PRIVATE KEY-----\n"],
    ids=["ec-key", "not-a-key"],
)
def test_fcm_private_key_must_be_rsa(private_key: str) -> None:
    error = refused("fcm", {"service_account": _account(private_key)})
    assert error.field == "service_account.private_key"
    assert_hides(error, private_key)


# --- fields and providers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "field"),
    [
        ("apns", "password"),
        ("fcm", "project_id"),
        ("webpush", "vapid_private_key"),
        ("wns", "tenant_id"),
        ("sms", "api_key"),
    ],
)
def test_unknown_field_is_refused_by_name(provider: str, field: str) -> None:
    # Checked before anything else: the provider's own fields may be missing entirely.
    error = refused(provider, {field: "hunter2-secret"}, UnknownField)
    assert error.field == field
    assert error.code is ErrorCode.UNKNOWN_FIELD
    assert field in error.message
    assert_hides(error, "hunter2-secret")


def test_first_unknown_field_in_sorted_order_is_named() -> None:
    error = refused("wns", {"zeta": 1, "client_id": "x", "alpha": 2}, UnknownField)
    assert error.field == "alpha"


@pytest.mark.parametrize("provider", ["apn", "APNS", "gcm", ""])
def test_unknown_provider_isrefused(provider: str) -> None:
    error = refused(provider, {})
    assert error.field == "provider"
    assert all(p in error.message for p in PROVIDERS)


# --- endpoint override ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["https://fake-apns.local:8443", "http://127.0.0.1:9000/fcm/v1", "https://a.b/c?d=e"]
)
def test_check_endpoint_accepts_http_urls(url: str) -> None:
    assert check_endpoint(url) == url


def test_check_endpoint_none_means_default() -> None:
    assert check_endpoint(None) is None


@pytest.mark.parametrize(
    "url", ["", "ftp://host", "https://", "//host/path", "https://host name", "host:443"]
)
def test_check_endpoint_refuses(url: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_endpoint(url)
    assert type(info.value) is InvalidInput
    assert info.value.field == "endpoint"
