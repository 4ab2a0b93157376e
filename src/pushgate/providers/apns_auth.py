"""APNs provider tokens (providers.md 1.4): one ES256 JWT per (team, key), shared and reused.

Apple refuses a token whose `iat` is over an hour old (403 ExpiredProviderToken) and
throttles renewals more often than every 20 minutes (429 TooManyProviderTokenUpdates). So a
token is signed once and reused by every connection and every adapter of the process that
holds the same key, and renewed every 45 minutes.

The API process and every worker hold the key, and each signing a token of its own would
count as an update each (reliability.md L5 found that with three processes). So the token is
the same in every process without them talking: its `iat` is the start of the current
45-minute period of the UNIX clock, and the signature is deterministic (RFC 6979), so each
process signs byte for byte the same JWT. Across a period's start, the old and the new token
are two tokens in 20 minutes, within what Apple allows.

An ExpiredProviderToken answer for the current token means Apple's clock runs ahead of ours:
then a token dated now is signed, but never within 20 minutes of the last signature (a clock
problem is then reported, not turned into a burst of tokens, reliability.md F12). The clock is
injected.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import load_pem_private_key

RENEW_AFTER_S = 45 * 60  # also the period every process dates its token from
MIN_RENEWAL_INTERVAL_S = 20 * 60
# Refusals of a token itself, as opposed to a device or a payload.
TOKEN_REFUSALS = frozenset({"ExpiredProviderToken", "InvalidProviderToken"})

_log = structlog.get_logger("pushgate.providers.apns")


class ProviderToken:
    """The current `authorization` header line for one (team, key)."""

    def __init__(self, key_id: str, team_id: str, key_pem: str, clock: Callable[[], float]) -> None:
        key = load_pem_private_key(key_pem.encode(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
            key.curve, ec.SECP256R1
        ):
            raise ValueError("an APNs key is an EC P-256 private key")
        self._key = key
        self.key_id = key_id
        self.team_id = team_id
        self._clock = clock
        self._line = ""
        self.issued_at: int | None = None
        self._signed_at: float | None = None  # our clock when the current token was signed
        self.signed = 0  # how many tokens this key signed: tests and metrics
        self._reported_at: int | None = None  # issued_at of the token last reported refused

    def header(self) -> str:
        """The line "authorization: bearer <JWT>"; a new token when a new period starts."""
        period_start = period_start_of(self._clock())
        if self.issued_at is None or period_start > self.issued_at:
            self._sign(period_start)
        return self._line

    def renew_expired(self, refused: str) -> bool:
        """After ExpiredProviderToken for header line `refused`: True when a newer token exists.

        A batch in flight may carry the previous line; then the current one is already new.
        Otherwise one dated now is signed, unless the last was signed under 20 minutes ago.
        """
        if refused != self._line:
            return True
        now = self._clock()
        if self._signed_at is not None and now - self._signed_at < MIN_RENEWAL_INTERVAL_S:
            return False
        self._sign(int(now))
        return True

    def report_refused(self, reason: str) -> None:
        """Log APNs refusing the current token, once per token: every delivery to this key fails
        until someone fixes the key or the clock, and one line says so (reliability.md F12)."""
        if self.issued_at is None or self._reported_at == self.issued_at:
            return
        self._reported_at = self.issued_at
        _log.error(
            "apns refused the provider token: check the key, team id and this server's clock",
            reason=reason,
            key_id=self.key_id,
            team_id=self.team_id,
            # Apple takes an iat older than 1 h as expired and a future one as invalid: an
            # ExpiredProviderToken for a token younger than that means our clock is behind.
            token_age_s=int(self._clock()) - self.issued_at,
        )

    def _sign(self, issued_at: int) -> None:
        header = _b64url_json({"alg": "ES256", "kid": self.key_id})
        claims = _b64url_json({"iss": self.team_id, "iat": issued_at})
        signing_input = f"{header}.{claims}".encode()
        # RFC 6979: the same key, header and claims give the same signature in every process.
        der = self._key.sign(signing_input, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        r, s = decode_dss_signature(der)
        signature = _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))  # JWS: r || s
        self._line = f"authorization: bearer {header}.{claims}.{signature}"
        self.issued_at = issued_at
        self._signed_at = self._clock()
        self.signed += 1


def period_start_of(now: float) -> int:
    """The `iat` every process gives the token at `now`: the start of its 45-minute period."""
    return int(now) - int(now) % RENEW_AFTER_S


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64url_json(doc: dict[str, object]) -> str:
    return _b64url(json.dumps(doc, separators=(",", ":")).encode())


@dataclass(slots=True)
class ProviderTokens:
    """The process's tokens by (team, key id, key fingerprint): one per key, shared."""

    clock: Callable[[], float]
    _tokens: dict[tuple[str, str, str], ProviderToken] = field(default_factory=dict)

    def get(self, key_id: str, team_id: str, key_pem: str) -> ProviderToken:
        # The fingerprint keeps a replaced key (same id, new PEM) from reusing a stale token.
        fingerprint = hashlib.sha256(key_pem.encode()).hexdigest()
        index = (team_id, key_id, fingerprint)
        token = self._tokens.get(index)
        if token is None:
            token = ProviderToken(key_id, team_id, key_pem, self.clock)
            self._tokens[index] = token
        return token
