"""What the fake APNs checks in a request, in the order of providers.md section 6.

The JWT is verified here with `cryptography` directly (split, base64url, raw r||s to DER,
ECDSA P-256 / SHA-256), not with PyJWT which the adapter signs with: the oracle must not share
an adapter's misreading. Verified tokens are cached by their text, so a request costs a dict
lookup and an age check, not a signature verification.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

PRODUCTION = "production"
SANDBOX = "sandbox"

TOKEN_MAX_AGE_S = 3600  # APNs: a provider token older than one hour is ExpiredProviderToken
TOKEN_FUTURE_LEEWAY_S = 300  # [fake-policy] an iat further ahead than this is invalid
TOKEN_UPDATE_WINDOW_S = 20 * 60  # APNs: refresh no more than once every 20 minutes
# [fake-policy] more distinct tokens (by iat) than this per key in the window -> 429
# TooManyProviderTokenUpdates; reports say Apple refuses after more than two (providers.md 1.4).
TOKEN_UPDATES_ALLOWED = 2
PAYLOAD_LIMIT = 4096
VOIP_PAYLOAD_LIMIT = 5120
MAX_COLLAPSE_ID_BYTES = 64

# apns-push-type -> the suffix apns-topic must carry (providers.md 1.2); mdm topics are the
# certificate's UID and are not checked here.
TOPIC_SUFFIXES: dict[bytes, str] = {
    b"alert": "",
    b"background": "",
    b"voip": ".voip",
    b"complication": ".complication",
    b"fileprovider": ".pushkit.fileprovider",
    b"location": ".location-query",
    b"liveactivity": ".push-type.liveactivity",
    b"pushtotalk": ".voip-ptt",
    b"widgets": ".push-type.widgets",
    b"controls": ".push-type.controls",
}
_LONGEST_SUFFIX_FIRST = sorted({s for s in TOPIC_SUFFIXES.values() if s}, key=len, reverse=True)
_UUID = re.compile(rb"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")


@dataclass(frozen=True, slots=True)
class ApnsKey:
    """A registered signing key: the public half of a team's .p8 key."""

    key_id: str
    team_id: str
    public_key: ec.EllipticCurvePublicKey
    environment: str | None = None  # None: team-scoped, valid on both environments


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    reason: str
    retry_after: str | None = None
    timestamp_ms: int | None = None  # 410 only

    def body(self) -> bytes:
        doc: dict[str, Any] = {"reason": self.reason}
        if self.timestamp_ms is not None:
            doc["timestamp"] = self.timestamp_ms
        return json.dumps(doc, separators=(",", ":")).encode()


def load_public_key(key: ec.EllipticCurvePublicKey | bytes | str) -> ec.EllipticCurvePublicKey:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key
    raw = key.encode() if isinstance(key, str) else key
    loaded = serialization.load_pem_public_key(raw)
    if not isinstance(loaded, ec.EllipticCurvePublicKey):
        raise TypeError("APNs keys are EC P-256 keys")
    return loaded


def _b64url(part: bytes) -> bytes:
    return base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))


class TokenVerifier:
    """Provider-token checks (step 2), with the verdict for each token text cached."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.keys: dict[str, ApnsKey] = {}
        self.clock = clock
        self._verdicts: dict[bytes, tuple[ApnsKey, int] | str] = {}
        self._issued: dict[str, deque[tuple[float, int]]] = {}  # key id -> (first seen, iat)

    def add_key(self, key: ApnsKey) -> None:
        self.keys[key.key_id] = key
        self._verdicts.clear()

    @property
    def tokens_seen(self) -> int:
        """How many distinct provider tokens were presented (since the last key was added)."""
        return len(self._verdicts)

    def check(self, jwt: bytes, environment: str) -> ApnsKey | str:
        """The key a valid token was signed with, or the 403/429 reason."""
        verdict = self._verdicts.get(jwt)
        if verdict is None:
            verdict = self._first_sight(jwt)
            self._verdicts[jwt] = verdict
        if isinstance(verdict, str):
            return verdict
        key, iat = verdict
        now = self.clock()
        if now - iat > TOKEN_MAX_AGE_S:
            return "ExpiredProviderToken"
        if iat - now > TOKEN_FUTURE_LEEWAY_S:
            return "InvalidProviderToken"
        if key.environment is not None and key.environment != environment:
            return "BadEnvironmentKeyIdInToken"
        return key

    def _first_sight(self, jwt: bytes) -> tuple[ApnsKey, int] | str:
        decoded = self._verify(jwt)
        if isinstance(decoded, str):
            return decoded
        key, iat = decoded
        now = self.clock()
        issued = self._issued.setdefault(key.key_id, deque())
        while issued and now - issued[0][0] > TOKEN_UPDATE_WINDOW_S:
            issued.popleft()
        if iat not in {seen_iat for _, seen_iat in issued}:
            if len({seen_iat for _, seen_iat in issued}) >= TOKEN_UPDATES_ALLOWED:
                return "TooManyProviderTokenUpdates"
            issued.append((now, iat))
        return key, iat

    def _verify(self, jwt: bytes) -> tuple[ApnsKey, int] | str:
        invalid = "InvalidProviderToken"
        parts = jwt.split(b".")
        if len(parts) != 3:
            return invalid
        try:
            header = json.loads(_b64url(parts[0]))
            claims = json.loads(_b64url(parts[1]))
            signature = _b64url(parts[2])
        except (ValueError, binascii.Error):
            return invalid
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return invalid
        key = self.keys.get(str(header.get("kid")))
        if header.get("alg") != "ES256" or key is None or len(signature) != 64:
            return invalid
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            key.public_key.verify(der, parts[0] + b"." + parts[1], ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return invalid
        iat = claims.get("iat")
        if claims.get("iss") != key.team_id or not isinstance(iat, int):
            return invalid
        return key, iat


def split_topic(topic: str) -> tuple[str, str]:
    """(bundle id, suffix) of an apns-topic, by the longest known suffix."""
    for suffix in _LONGEST_SUFFIX_FIRST:
        if topic.endswith(suffix):
            return topic[: -len(suffix)], suffix
    return topic, ""


def check_headers(headers: Mapping[bytes, bytes], topics: frozenset[str]) -> str | None:
    """Step 3: the 400 reason for a bad header, or None; in APNs' documented meanings."""
    raw_topic = headers.get(b"apns-topic")
    if not raw_topic:
        return "MissingTopic"
    push_type = headers.get(b"apns-push-type", b"alert")
    suffix_wanted = TOPIC_SUFFIXES.get(push_type)
    if suffix_wanted is None:
        return "InvalidPushType"
    bundle, suffix = split_topic(raw_topic.decode("latin-1"))
    if bundle not in topics:
        return "TopicDisallowed"
    if suffix != suffix_wanted:
        return "BadTopic"  # [fake-policy] suffix does not match the push type
    apns_id = headers.get(b"apns-id")
    if apns_id is not None and not _UUID.match(apns_id):
        return "BadMessageId"
    expiration = headers.get(b"apns-expiration")
    if expiration is not None and not expiration.isdigit():
        return "BadExpirationDate"
    priority = headers.get(b"apns-priority", b"10")
    if priority not in (b"1", b"5", b"10"):
        return "BadPriority"
    if priority == b"10" and push_type == b"background":
        return "BadPriority"  # [fake-policy] Apple: background pushes must use priority 5
    collapse_id = headers.get(b"apns-collapse-id")
    if collapse_id is not None and len(collapse_id) > MAX_COLLAPSE_ID_BYTES:
        return "BadCollapseId"
    return None


def check_body(body: bytes, push_type: bytes) -> tuple[Refusal | None, Any]:
    """Step 4: (refusal, None) or (None, the parsed payload)."""
    if not body:
        return Refusal(400, "PayloadEmpty"), None
    limit = VOIP_PAYLOAD_LIMIT if push_type == b"voip" else PAYLOAD_LIMIT
    if len(body) > limit:
        return Refusal(413, "PayloadTooLarge"), None
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        # APNs documents no reason for malformed JSON: a fake-only reason (providers.md 6.4).
        return Refusal(400, "FakeInvalidJson"), None
    return None, payload


def is_hex_token(token: str) -> bool:
    return _HEX.match(token) is not None
