"""Validation of provider credentials on write: split each into public settings and secrets.

Every failure names the field, never the value: these fields hold private keys.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pushgate.domain.records import JsonObject
from pushgate.errors import InvalidInput, MissingField, UnknownField
from pushgate.providers.sms_request import InvalidGatewaySettings, template_from_settings

PROVIDERS = ("apns", "fcm", "webpush", "wns", "sms")
_APPLE_ID = re.compile(r"^[A-Z0-9]{10}$")


@dataclass(frozen=True, slots=True)
class CheckedCredential:
    settings: JsonObject
    secret: JsonObject


# The fields each provider takes; any other field is refused rather than silently dropped.
_FIELDS: dict[str, frozenset[str]] = {
    "apns": frozenset(
        {"key_id", "team_id", "key", "topic", "certificate", "private_key", "private_key_password"}
    ),
    "fcm": frozenset({"service_account"}),
    "webpush": frozenset({"subject", "generate", "private_key", "public_key"}),
    "wns": frozenset({"client_id", "client_secret"}),
    "sms": frozenset(
        {
            "gateway_url",
            "auth_type",
            "username",
            "password",
            "token",
            "sender",
            "method",
            "body_format",
            "body_template",
        }
    ),
}


def check_credential(provider: str, fields: JsonObject) -> CheckedCredential:
    checker = _CHECKERS.get(provider)
    if checker is None:
        raise InvalidInput(f"unknown provider; use one of {', '.join(PROVIDERS)}", field="provider")
    for name in sorted(fields):
        if name not in _FIELDS[provider]:
            raise UnknownField(f"{provider} credentials take no field {name}", field=name)
    return checker(fields)


def _text(fields: JsonObject, name: str, *, required: bool = True) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        if required:
            raise MissingField(f"{name} is required", field=name)
        return None
    if not isinstance(value, str):
        raise InvalidInput("must be a string", field=name)
    return value


def _required(fields: JsonObject, name: str) -> str:
    value = _text(fields, name)
    assert value is not None  # noqa: S101 - _text raised otherwise
    return value


def _private_key(pem: str, field: str, password: str | None = None) -> Any:
    try:
        return serialization.load_pem_private_key(
            pem.encode(), password.encode() if password else None
        )
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InvalidInput(
            "is not a PEM private key (or its password is wrong)", field=field
        ) from None


def _check_apns(fields: JsonObject) -> CheckedCredential:
    topic = _required(fields, "topic")
    if fields.get("certificate") is not None:
        return _check_apns_certificate(fields, topic)
    key_id = _required(fields, "key_id")
    team_id = _required(fields, "team_id")
    for name, value in (("key_id", key_id), ("team_id", team_id)):
        if not _APPLE_ID.fullmatch(value):
            raise InvalidInput("must be Apple's 10-character identifier (A-Z, 0-9)", field=name)
    key = _private_key(_required(fields, "key"), "key")
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidInput("must be an APNs .p8 key: an EC P-256 private key", field="key")
    return CheckedCredential(
        {"auth": "token", "key_id": key_id, "team_id": team_id, "topic": topic},
        {"key": fields["key"]},
    )


def _check_apns_certificate(fields: JsonObject, topic: str) -> CheckedCredential:
    try:
        cert = x509.load_pem_x509_certificate(_required(fields, "certificate").encode())
    except ValueError:
        raise InvalidInput("is not a PEM X.509 certificate", field="certificate") from None
    password = _text(fields, "private_key_password", required=False)
    key = _private_key(_required(fields, "private_key"), "private_key", password)
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if key.public_key().public_bytes(encoding, public) != cert.public_key().public_bytes(
        encoding, public
    ):
        raise InvalidInput("does not belong to the certificate", field="private_key")
    return CheckedCredential(
        {
            "auth": "certificate",
            "topic": topic,
            "subject": cert.subject.rfc4514_string(),
            "not_valid_after": cert.not_valid_after_utc.isoformat(),
        },
        {
            "certificate": fields["certificate"],
            "private_key": fields["private_key"],
            "private_key_password": password,
        },
    )


def _check_fcm(fields: JsonObject) -> CheckedCredential:
    account = fields.get("service_account")
    if account is None:
        raise MissingField("service_account is required", field="service_account")
    if not isinstance(account, dict):
        raise InvalidInput("must be the service-account JSON object", field="service_account")
    if account.get("type") != "service_account":
        raise InvalidInput("type must be service_account", field="service_account.type")
    names = ("project_id", "client_email", "private_key")
    for name in names:
        if not isinstance(account.get(name), str) or not account[name]:
            raise MissingField(f"{name} is required", field=f"service_account.{name}")
    key = _private_key(account["private_key"], "service_account.private_key")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidInput("must be an RSA private key", field="service_account.private_key")
    return CheckedCredential(
        {
            "project_id": account["project_id"],
            "client_email": account["client_email"],
            "private_key_id": account.get("private_key_id"),
        },
        {"service_account": account},
    )


def _b64url_decode(value: str, field: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        raise InvalidInput("must be base64url", field=field) from None


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _check_webpush(fields: JsonObject) -> CheckedCredential:
    subject = _required(fields, "subject")
    if not subject.startswith(("mailto:", "https://")):
        raise InvalidInput("must be a mailto: or https: URL (RFC 8292)", field="subject")
    if fields.get("generate") is True:
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raw = _b64url_decode(_required(fields, "private_key"), "private_key")
        if len(raw) != 32:
            raise InvalidInput("must be a raw 32-byte P-256 key, base64url", field="private_key")
        try:
            key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
        except ValueError:
            raise InvalidInput("is not a valid P-256 private key", field="private_key") from None
    public = _b64url(
        key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    given_public = _text(fields, "public_key", required=False)
    if given_public is not None and given_public.rstrip("=") != public:
        raise InvalidInput("does not match private_key", field="public_key")
    private = _b64url(key.private_numbers().private_value.to_bytes(32, "big"))
    return CheckedCredential({"public_key": public, "subject": subject}, {"private_key": private})


def _check_wns(fields: JsonObject) -> CheckedCredential:
    client_id = _required(fields, "client_id")
    secret = _required(fields, "client_secret")
    return CheckedCredential({"client_id": client_id}, {"client_secret": secret})


def _check_sms(fields: JsonObject) -> CheckedCredential:
    url = _check_url(_required(fields, "gateway_url"), "gateway_url")
    auth_type = _text(fields, "auth_type", required=False) or "none"
    settings: JsonObject = {
        "gateway_url": url,
        "auth_type": auth_type,
        "sender": _text(fields, "sender", required=False),
    }
    secret: JsonObject = {}
    if auth_type == "basic":
        settings["username"] = _required(fields, "username")
        secret["password"] = _required(fields, "password")
    elif auth_type == "bearer":
        secret["token"] = _required(fields, "token")
    elif auth_type != "none":
        raise InvalidInput("must be none, basic or bearer", field="auth_type")
    _check_gateway_template(fields, settings)
    return CheckedCredential(settings, secret)


def _check_gateway_template(fields: JsonObject, settings: JsonObject) -> None:
    """method, body_format, body_template: the request the SMS adapter builds (sms_request)."""
    for name in ("method", "body_format", "body_template"):
        if fields.get(name) is not None:
            settings[name] = fields[name]
    try:
        template_from_settings(settings)
    except InvalidGatewaySettings as exc:
        # Its messages begin with the field they are about ("body_template.To may use...").
        raise InvalidInput(str(exc), field=str(exc).split(" ", 1)[0]) from None


def _check_url(value: str, field: str) -> str:
    if not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", value):
        raise InvalidInput("must be an http:// or https:// URL", field=field)
    return value


def check_endpoint(value: str | None) -> str | None:
    """The optional base-URL override of a provider (tests and fakes point it elsewhere)."""
    return None if value is None else _check_url(value, "endpoint")


_CHECKERS: dict[str, Callable[[JsonObject], CheckedCredential]] = {
    "apns": _check_apns,
    "fcm": _check_fcm,
    "webpush": _check_webpush,
    "wns": _check_wns,
    "sms": _check_sms,
}
