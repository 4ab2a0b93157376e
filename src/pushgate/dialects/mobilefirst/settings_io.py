"""MobileFirst's provider settings onto pushgate's credentials, and back (never a secret).

* apnsConf: `certificate` (a base64 .p12, with its `password`; or a PEM certificate with its
  PEM private key in `key`), or a token key (`keyId`, `teamId`, `key` .p8); `topic` (or
  `bundleId`) defaults to the certificate's UID. `isSandBox` is the app's APNs environment,
  kept as its push platform `A`.
* gcmConf: `serviceAccount` (or `projectId`, `clientEmail`, `privateKey`) -> fcm; a legacy
  `apiKey` alone is 400 (FCM no longer takes server keys).
* wnsConf: `packageSID`, `clientSecret` -> wns `client_id`, `client_secret`.
* smsConf: `host` (`https://` allowed), `port`, `programName` -> the gateway URL (http unless
  https is named or the port is 443), called with GET and `parameters` as its query; values
  may use `$to`, `$text`, `$sender` or `$(to)`, `$(text)`, `$(from)`, and `to`/`text` are
  added when no parameter carries them.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pydantic import Field

from pushgate.dialects.mobilefirst.schemas import Lenient
from pushgate.domain.records import CredentialInfo, JsonObject
from pushgate.errors import InvalidInput, MissingField

_Short = Annotated[str, Field(max_length=255)]
_Secret = Annotated[str, Field(max_length=65536)]


class ApnsConfIn(Lenient):
    certificate: _Secret | None = None
    password: _Short | None = None
    isSandBox: bool | str | None = None
    keyId: _Short | None = None
    teamId: _Short | None = None
    key: _Secret | None = None
    topic: _Short | None = None
    bundleId: _Short | None = None


class GcmConfIn(Lenient):
    apiKey: _Short | None = None
    senderId: _Short | None = None
    serviceAccount: dict[str, Any] | None = None
    projectId: _Short | None = None
    clientEmail: _Short | None = None
    privateKey: _Secret | None = None


class WnsConfIn(Lenient):
    packageSID: _Short | None = None
    clientSecret: _Short | None = None


class SmsParameter(Lenient):
    name: _Short
    value: Annotated[str, Field(max_length=2048)] = ""
    encode: bool | str | None = None


class SmsConfIn(Lenient):
    name: _Short | None = None
    host: _Short | None = None
    port: int | str | None = None
    programName: _Short | None = None
    parameters: list[SmsParameter] | None = Field(default=None, max_length=50)


def truthy(value: bool | str | None) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _uid(certificate: x509.Certificate) -> str | None:
    found = certificate.subject.get_attributes_for_oid(NameOID.USER_ID)
    return str(found[0].value) if found else None


def _from_p12(raw: bytes, password: str | None) -> tuple[str, str, str | None]:
    try:
        key, cert, _ = pkcs12.load_key_and_certificates(
            raw, password.encode() if password else None
        )
    except (ValueError, x509.InvalidVersion):  # see _from_pem
        raise InvalidInput(
            "is not a PKCS#12 (.p12) certificate, or the password is wrong", field="certificate"
        ) from None
    if key is None or cert is None:
        raise InvalidInput("the .p12 holds no certificate and key", field="certificate")
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return _pem(cert), private, _uid(cert)


def _from_pem(text: str, body: ApnsConfIn, topic: str | None) -> JsonObject:
    """A PEM certificate with its PEM private key in `key` (and its password, if any)."""
    try:
        uid = _uid(x509.load_pem_x509_certificate(text.encode()))
    # InvalidVersion is no ValueError: a certificate whose version is not 1 or 3 was a 500
    # (found by fuzzing, reliability.md B3).
    except (ValueError, x509.InvalidVersion):
        raise InvalidInput("is not a PEM X.509 certificate", field="certificate") from None
    if not body.key:
        raise MissingField("a PEM certificate needs its private key in key", field="key")
    if not (topic or uid):
        raise MissingField("the certificate names no bundle id; give topic", field="topic")
    return {
        "certificate": text,
        "private_key": body.key,
        "private_key_password": body.password,
        "topic": topic or uid,
    }


def apns_fields(body: ApnsConfIn) -> JsonObject:
    topic = body.topic or body.bundleId
    if body.certificate:
        text = body.certificate.strip()
        if text.startswith("-----BEGIN"):
            return _from_pem(text, body, topic)
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("must be a base64 .p12 certificate", field="certificate") from None
        certificate, private_key, uid = _from_p12(raw, body.password)
        if not (topic or uid):
            raise MissingField("the certificate names no bundle id; give topic", field="topic")
        return {"certificate": certificate, "private_key": private_key, "topic": topic or uid}
    if body.key or body.keyId or body.teamId:
        return {"key_id": body.keyId, "team_id": body.teamId, "key": body.key, "topic": topic}
    raise MissingField(
        "give certificate (and password), or keyId, teamId and key", field="certificate"
    )


def gcm_fields(body: GcmConfIn) -> JsonObject:
    account = body.serviceAccount
    if account is None and (body.projectId or body.clientEmail or body.privateKey):
        account = {
            "type": "service_account",
            "project_id": body.projectId,
            "client_email": body.clientEmail,
            "private_key": body.privateKey,
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    if account is None:
        if body.apiKey:
            raise InvalidInput(
                "FCM no longer accepts legacy server keys; give serviceAccount (the Firebase "
                "service-account JSON)",
                field="apiKey",
            )
        raise MissingField("serviceAccount is required", field="serviceAccount")
    return {"service_account": account}


def wns_fields(body: WnsConfIn) -> JsonObject:
    return {"client_id": body.packageSID, "client_secret": body.clientSecret}


def _placeholder(value: str) -> str:
    """MobileFirst-style $(to) -> pushgate's $to; a literal $ stays one."""
    for name in ("to", "text", "sender", "from"):
        value = value.replace(f"$({name})", "$sender" if name == "from" else f"${name}")
    return value


_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}))$")
_PATH = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")


def _port(value: int | str | None) -> str:
    if value is None or value == "":
        return ""
    text = str(value).strip()
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidInput("must be a port number from 1 to 65535", field="port")
    return f":{int(text)}"


def sms_fields(body: SmsConfIn) -> JsonObject:
    if not body.host:
        raise MissingField("host is required", field="host")
    host = body.host.strip().rstrip("/")
    scheme = "https" if str(body.port).strip() == "443" else "http"
    if "://" in host:
        scheme, _, host = host.partition("://")
        scheme = scheme.lower()
    if scheme not in ("http", "https") or not _HOST.fullmatch(host):
        raise InvalidInput(
            "must be a host name or address (http:// or https:// optional)", field="host"
        )
    port = _port(body.port)
    path = "/" + (body.programName or "").lstrip("/")
    if not _PATH.fullmatch(path):
        raise InvalidInput("must be a URL path", field="programName")
    template = {p.name: _placeholder(p.value) for p in body.parameters or ()}
    if not any("$to" in v for v in template.values()):
        template["to"] = "$to"
    if not any("$text" in v for v in template.values()):
        template["text"] = "$text"
    return {
        "gateway_url": f"{scheme}://{host}{port}{path}",
        "method": "GET",
        "body_template": template,
    }


def apns_view(info: CredentialInfo, sandbox: bool) -> JsonObject:
    settings = info.settings
    certificate = settings.get("subject") or f"token key {settings.get('key_id')}"
    view: JsonObject = {"certificate": certificate, "isSandBox": "true" if sandbox else "false"}
    if settings.get("not_valid_after"):
        view["validUntil"] = settings["not_valid_after"]
    view["topic"] = settings.get("topic")
    return view


def gcm_view(info: CredentialInfo) -> JsonObject:
    return {
        "projectId": info.settings.get("project_id"),
        "clientEmail": info.settings.get("client_email"),
    }


def wns_view(info: CredentialInfo) -> JsonObject:
    return {"packageSID": info.settings.get("client_id")}


def sms_view(info: CredentialInfo) -> JsonObject:
    parts = urlsplit(str(info.settings.get("gateway_url", "")))
    template = info.settings.get("body_template") or {}
    return {
        "host": f"{parts.scheme}://{parts.hostname}" if parts.scheme == "https" else parts.hostname,
        "name": parts.hostname,
        "parameters": [
            {"encode": "true", "name": name, "value": value} for name, value in template.items()
        ],
        "port": str(parts.port or (443 if parts.scheme == "https" else 80)),
        "programName": parts.path or "/",
    }
