"""Who is calling: a service key (X-API-Key, Basic alias:key, X.509) or, on the runtime API,
an app user (Basic name:password, or a user token).

A service key is an app API key; the key alone names its app, so the `{applicationId}` of a
back-end path is ignored (the document: "The API Key already includes the application name
and is ignored"; its examples use `any`). Only the admin key, which has no app, is taken to
the app the path names. X.509: the client certificate pushgate verified itself (TLS, see
cli_tls.py) or, from a trusted proxy only, the one it forwards in the configured header.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import ssl
from typing import Any
from urllib.parse import unquote

from fastapi import Request

from pushgate.config import Settings
from pushgate.domain.roles import Role
from pushgate.errors import Forbidden, Unauthenticated
from pushgate.http.deps import Runtime, decode_basic
from pushgate.services.auth import Principal, app_id_for, authorize_key
from pushgate.services.key_certificates import fingerprint_of_der
from pushgate.services.user_auth import UserPrincipal

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)
_XFCC_HASH = re.compile(r"(?:^|;)\s*Hash=([0-9A-Fa-f]{64})\s*(?:;|$)")
_XFCC_CERT = re.compile(r'(?:^|;)\s*Cert="?([^";]+)"?\s*(?:;|$)')
_UNREADABLE = "the forwarded client certificate is unreadable"


async def service_key(request: Request, runtime: Runtime) -> Principal:
    """The service key of the request: X-API-Key, then Basic alias:key, then X.509."""
    key = request.headers.get("x-api-key")
    if key:
        return await runtime.auth.by_key(key)
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and value.strip():
        alias, secret = decode_basic(value.strip())
        return await runtime.auth.by_basic(alias, secret)
    fingerprint = client_certificate(request, runtime.settings)
    if fingerprint is not None:
        return await runtime.auth.by_certificate(fingerprint)
    raise Unauthenticated(
        "send a service key: X-API-Key, Basic alias:key or an X.509 client certificate"
    )


async def app_of(runtime: Runtime, principal: Principal, path_app: str | None, role: Role) -> int:
    """The app the key belongs to, if it holds `role` (the admin key: the path's app)."""
    if not principal.is_admin:
        return authorize_key(principal, principal.app_name or "", role)
    if path_app is None:
        raise Forbidden("the admin key belongs to no application; use a service key of the app")
    return await app_id_for(runtime.db, principal, path_app, role)


def client_certificate(request: Request, settings: Settings) -> str | None:
    """The SHA-256 fingerprint of the verified client certificate, if one was presented."""
    extensions: dict[str, Any] = request.scope.get("extensions") or {}
    chain = (extensions.get("tls") or {}).get("client_cert_chain") or ()
    if chain:
        return fingerprint_of_der(ssl.PEM_cert_to_DER_cert(chain[0]))
    header = settings.client_cert_header
    if header is None or not _from_trusted_proxy(request, settings.client_cert_proxies):
        return None
    value = request.headers.get(header, "").strip()
    return _forwarded_fingerprint(value) if value else None


def _from_trusted_proxy(request: Request, proxies: list[str]) -> bool:
    if request.client is None:
        return False
    try:
        peer = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    return any(peer in ipaddress.ip_network(p, strict=False) for p in proxies)


def _forwarded_fingerprint(value: str) -> str:
    """URL-encoded PEM (nginx $ssl_client_escaped_cert), PEM with its line breaks folded,
    base64 DER, or Envoy's x-forwarded-client-cert (the last element: the nearest proxy)."""
    element = value.split(",")[-1]
    found = _XFCC_HASH.search(element)
    if found:
        return found.group(1).lower()
    found = _XFCC_CERT.search(element)
    text = unquote(found.group(1) if found else value)
    pem = _PEM.search(text)
    body = pem.group(1) if pem else text
    try:
        der = base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise Unauthenticated(_UNREADABLE) from None
    if not der:
        raise Unauthenticated(_UNREADABLE)
    return fingerprint_of_der(der)


async def app_user(request: Request, runtime: Runtime, app_name: str) -> UserPrincipal:
    """A device's app user: Basic name:password of the path's app, or a user token (Bearer)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() == "basic" and value:
        name, password = decode_basic(value)
        return await runtime.users.by_password(app_name, name, password)
    if scheme.lower() == "bearer" and value:
        user = await runtime.users.by_token(value)
        if user.app_name != app_name:
            raise Forbidden("this user belongs to another application", field="applicationId")
        return user
    raise Unauthenticated("sign in as the app's user: Basic name:password or a Bearer user token")
