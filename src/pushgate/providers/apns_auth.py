"""APNs provider tokens (providers.md 1.4): one ES256 JWT per (team, key), shared and reused.

Apple refuses a token whose `iat` is over an hour old (403 ExpiredProviderToken) and
throttles renewals more often than every 20 minutes (429 TooManyProviderTokenUpdates). So a
token is signed once and reused by every connection and every adapter of the process that
holds the same key, renewed when 45 minutes old; an ExpiredProviderToken answer renews it
early, but never within 20 minutes of the last signature (a clock problem is then reported,
not turned into a burst of tokens, reliability.md F12). The clock is injected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import jwt
import structlog
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

RENEW_AFTER_S = 45 * 60
MIN_RENEWAL_INTERVAL_S = 20 * 60
# Refusals of a token itself, as opposed to a device or a payload.
TOKEN_REFUSALS = frozenset({"ExpiredProviderToken", "InvalidProviderToken"})

_log = structlog.get_logger("pushgate.providers.apns")


class ProviderToken:
    """The current `authorization` header line for one (team, key)."""

    def __init__(self, key_id: str, team_id: str, key_pem: str, clock: Callable[[], float]) -> None:
        key = load_pem_private_key(key_pem.encode(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("an APNs key is an EC P-256 private key")
        self._key = key
        self.key_id = key_id
        self.team_id = team_id
        self._clock = clock
        self._line = ""
        self.issued_at: int | None = None
        self.signed = 0  # how many tokens this key signed: tests and metrics
        self._reported_at: int | None = None  # issued_at of the token last reported refused

    def header(self) -> str:
        """The line "authorization: bearer <JWT>"; a new token once this one is 45 min old."""
        now = self._clock()
        if self.issued_at is None or now - self.issued_at >= RENEW_AFTER_S:
            self._sign(now)
        return self._line

    def renew_expired(self, refused: str) -> bool:
        """After ExpiredProviderToken for header line `refused`: True when a newer token exists.

        A batch in flight may carry the previous line; then the current one is already new.
        Otherwise it is signed now, unless the last one is younger than 20 minutes.
        """
        if refused != self._line:
            return True
        now = self._clock()
        if self.issued_at is not None and now - self.issued_at < MIN_RENEWAL_INTERVAL_S:
            return False
        self._sign(now)
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

    def _sign(self, now: float) -> None:
        issued_at = int(now)
        token = jwt.encode(
            {"iss": self.team_id, "iat": issued_at},
            self._key,
            algorithm="ES256",
            headers={"kid": self.key_id},
        )
        self._line = f"authorization: bearer {token}"
        self.issued_at = issued_at
        self.signed += 1


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
