"""VAPID (RFC 8292): the ES256 JWT a Web Push sender proves its application server key with.

One JWT per endpoint origin (the `aud` claim must be the push service's origin, section 2),
signed once and reused until RENEW_MARGIN_S before its expiry: signing per message would cost
an ECDSA signature each (~50 us) for nothing. Time comes from an injected clock (UNIX
seconds), so tests move it explicitly.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.providers.base import ProviderCredential

# RFC 8292 section 2: exp MUST NOT be more than 24 hours ahead. 12 h leaves 12 h of clock skew
# between us and the push service (pywebpush uses 12 h too, providers.md 3.4).
TOKEN_LIFETIME_S = 12 * 3600
# Re-sign when less than this is left, so a token never expires while a request is in flight
# or a push service's clock runs a little ahead of ours.
RENEW_MARGIN_S = 3600
# Origins are few in practice (FCM, Mozilla, Apple, WNS); the cap bounds memory when tenants
# register endpoints on many hosts.
MAX_CACHED_ORIGINS = 1024

Clock = Callable[[], float]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; ValueError on anything else."""
    cleaned = text.strip().rstrip("=")
    if not cleaned or not all(c.isalnum() or c in "-_" for c in cleaned):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))


def endpoint_origin(url: str) -> str:
    """RFC 6454 ASCII origin of an https URL: scheme://host[:port], default port omitted."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    scheme = parts.scheme.lower()
    default = {"https": 443, "http": 80}.get(scheme)
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


@dataclass(frozen=True, slots=True)
class VapidKeys:
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    public_key: str  # base64url uncompressed point: the `k` parameter
    subject: str  # mailto: or https: contact (the `sub` claim)


def load_vapid_keys(credential: ProviderCredential) -> VapidKeys:
    """The keys in services/credential_checks.py's shape: secret private_key, settings subject."""
    raw = b64url_decode(str(credential.secret["private_key"]))
    key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    # The public key is derived, not read from settings: it is what the signature verifies with.
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return VapidKeys(key, b64url(public), str(credential.settings["subject"]))


@dataclass(frozen=True, slots=True)
class _Signed:
    header: str
    expires_at: float


class VapidSigner:
    """Authorization header values per origin, cached until close to expiry."""

    def __init__(self, keys: VapidKeys, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock
        self._by_origin: dict[str, _Signed] = {}

    @property
    def public_key(self) -> str:
        return self._keys.public_key

    def authorization(self, origin: str) -> str:
        """`vapid t=<JWT>, k=<key>` for `origin`: the cached one, or a fresh one near expiry."""
        now = self._clock()
        cached = self._by_origin.get(origin)
        if cached is not None and cached.expires_at - now > RENEW_MARGIN_S:
            return cached.header
        expires_at = int(now) + TOKEN_LIFETIME_S
        claims = {"aud": origin, "exp": expires_at, "sub": self._keys.subject}
        token = jwt.encode(
            claims, self._keys.private_key, algorithm="ES256", headers={"typ": "JWT"}
        )
        signed = _Signed(f"vapid t={token}, k={self._keys.public_key}", expires_at)
        self._by_origin.pop(origin, None)
        self._by_origin[origin] = signed
        if len(self._by_origin) > MAX_CACHED_ORIGINS:
            del self._by_origin[next(iter(self._by_origin))]  # the least recently signed
        return signed.header
