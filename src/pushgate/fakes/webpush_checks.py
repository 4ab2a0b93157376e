"""The fake Web Push service's request checks, pure: RFC 8030 headers and RFC 8292 VAPID.

Written from the RFCs, not from the adapter (fakes import only the domain), so a misreading in
the adapter shows up as a refusal here. Statuses: 400 for malformed headers (RFC 8030 section
5 lets the service refuse a request it cannot process; a missing TTL MUST be a 400, 5.2), 413
over 4096 bytes (7.2), 401 for a missing or invalid VAPID token and 403 when the key is not the
one a restricted subscription was created with (RFC 8292 section 4.2).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

MAX_BODY = 4096
MAX_EXP_AHEAD_S = 24 * 3600  # RFC 8292 section 2: exp no more than 24 hours from now
URGENCIES = frozenset({"very-low", "low", "normal", "high"})  # RFC 8030 section 5.3
_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")  # RFC 8030 section 5.4
_B64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    reason: str  # sent as {"reason": ...}, like Apple's push service does


def b64url_decode(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    stripped = text.rstrip("=")
    return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))


def check_headers(headers: Mapping[str, str], body_length: int) -> Refusal | None:
    """RFC 8030 delivery headers (names lower-case) and the body size."""
    ttl = headers.get("ttl")
    if ttl is None:
        return Refusal(400, "MissingTtl")
    if not ttl.isdigit():
        return Refusal(400, "InvalidTtl")
    urgency = headers.get("urgency")
    if urgency is not None and urgency not in URGENCIES:
        return Refusal(400, "InvalidUrgency")
    topic = headers.get("topic")
    if topic is not None and not _TOPIC.fullmatch(topic):
        return Refusal(400, "InvalidTopic")
    # A message may have no payload at all (RFC 8030 5); one with a payload must be aes128gcm
    # (RFC 8291 section 4; the draft aesgcm scheme is obsolete).
    if body_length and headers.get("content-encoding") != "aes128gcm":
        return Refusal(400, "UnsupportedContentEncoding")
    if body_length > MAX_BODY:
        return Refusal(413, "PayloadTooLarge")
    return None


def parse_vapid(authorization: str) -> tuple[str, str] | None:
    """(t, k) from `vapid t=<JWT>, k=<key>` (parameters in any order), or None."""
    scheme, _, params = authorization.strip().partition(" ")
    if scheme.lower() != "vapid":
        return None
    values: dict[str, str] = {}
    for part in params.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            return None
        values[name.strip().lower()] = value.strip()
    token, key = values.get("t"), values.get("k")
    return (token, key) if token and key else None


def check_vapid(
    authorization: str | None, *, origin: str, restricted_key: str | None, now: float
) -> Refusal | None:
    """Verify the VAPID header for a push to `origin` at `now` (UNIX seconds)."""
    parsed = parse_vapid(authorization) if authorization else None
    if parsed is None:
        return Refusal(401, "MissingVapidAuthorization")
    token, key_text = parsed
    try:
        key_bytes = b64url_decode(key_text)
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key_bytes)
    except ValueError:
        return Refusal(401, "InvalidVapidKey")
    if restricted_key is not None and key_bytes != b64url_decode(restricted_key):
        return Refusal(403, "VapidKeyMismatch")
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=["ES256"],
            audience=origin,
            options={"verify_exp": False, "require": ["aud", "exp"]},  # exp: our clock, below
        )
    except jwt.InvalidAudienceError:
        return Refusal(401, "BadJwtAudience")
    except jwt.PyJWTError:
        return Refusal(401, "BadJwtToken")
    return _check_claims(claims, now)


def _check_claims(claims: Mapping[str, object], now: float) -> Refusal | None:
    exp = claims.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        return Refusal(401, "BadJwtToken")
    if exp <= now:
        return Refusal(401, "ExpiredJwtToken")
    if exp > now + MAX_EXP_AHEAD_S:
        return Refusal(401, "JwtExpiryTooFar")
    sub = claims.get("sub")
    # RFC 8292 section 2.1 says SHOULD; Apple refuses tokens without a usable contact
    # (providers.md 3.3), so the fake is as strict as the strictest service.
    if not isinstance(sub, str) or not sub.startswith(("mailto:", "https:")):
        return Refusal(401, "BadJwtSubject")
    return None
