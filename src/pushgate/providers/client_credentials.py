"""An OAuth 2.0 client-credentials access token, cached until shortly before it expires.

Used by WNS (login.live.com/accesstoken.srf, providers.md section 4). One refresh at a time
(single flight): concurrent callers wait for the same request instead of each asking. The
clock is injected (monotonic seconds) so tests move time explicitly. The secret and the token
are never put in an exception message or a log line.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

from pushgate.providers.http import HttpTransport
from pushgate.providers.retry_after import parse_retry_after

DEFAULT_LIFETIME_S = 3600.0  # when the answer carries no expires_in (older WNS docs show none)
REFRESH_MARGIN_S = 300.0  # refresh 5 minutes before expiry...
REFRESH_MARGIN_SHARE = 0.1  # ...or a tenth of the lifetime, if that is shorter


class TokenRefused(Exception):
    """The token endpoint refused our client credentials (4xx): a configuration problem."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenUnavailable(Exception):
    """No token for now (5xx, 429, transport failure, unreadable answer): retry later."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str = field(repr=False)
    refresh_at: float  # on the injected clock


def _refresh_at(obtained_at: float, lifetime_s: float) -> float:
    margin = min(REFRESH_MARGIN_S, lifetime_s * REFRESH_MARGIN_SHARE)
    return obtained_at + lifetime_s - margin


def parse_token_answer(body: bytes, obtained_at: float) -> AccessToken:
    """The token of a 200 answer `{"access_token", "token_type", "expires_in"}`."""
    try:
        document = json.loads(body)
    except ValueError:
        raise TokenUnavailable("token answer is not JSON") from None
    if not isinstance(document, dict):
        raise TokenUnavailable("token answer is not a JSON object")
    value = document.get("access_token")
    if not isinstance(value, str) or not value:
        raise TokenUnavailable("token answer has no access_token")
    lifetime = document.get("expires_in", DEFAULT_LIFETIME_S)
    if isinstance(lifetime, str) and lifetime.isdigit():
        lifetime = int(lifetime)
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
        raise TokenUnavailable("token answer has an invalid expires_in")
    return AccessToken(value, _refresh_at(obtained_at, float(lifetime)))


def _oauth_error(body: bytes) -> str:
    """The OAuth `error` code of a refusal (e.g. invalid_client): the server's word, no secret."""
    try:
        document = json.loads(body)
    except ValueError:
        return "refused"
    error = document.get("error") if isinstance(document, dict) else None
    return error[:64] if isinstance(error, str) and error.isprintable() else "refused"


class ClientCredentialsToken:
    def __init__(
        self,
        transport: HttpTransport,
        token_url: str,
        form: Mapping[str, str],
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._transport = transport
        self._token_url = token_url
        self._body = urlencode(dict(form)).encode()
        self._clock = clock
        self._wall_clock = wall_clock
        self._token: AccessToken | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0  # token requests made (tests and metrics)

    def _fresh(self) -> str | None:
        token = self._token
        if token is not None and self._clock() < token.refresh_at:
            return token.value
        return None

    async def get(self, *, timeout_s: float) -> str:
        """A valid access token: the cached one, else one new request shared by all callers."""
        cached = self._fresh()
        if cached is not None:
            return cached
        async with self._lock:
            cached = self._fresh()
            if cached is not None:
                return cached
            self._token = await self._fetch(timeout_s)
            return self._token.value

    def invalidate(self, rejected: str) -> None:
        """Forget `rejected` (the server answered 401 to it) unless a newer token replaced it."""
        if self._token is not None and self._token.value == rejected:
            self._token = None

    async def _fetch(self, timeout_s: float) -> AccessToken:
        self.fetches += 1
        headers = [("content-type", "application/x-www-form-urlencoded")]
        # TransportError propagates: the caller turns it into RETRY (unsent, nothing was sent).
        response = await self._transport.request(
            "POST", self._token_url, headers, self._body, timeout_s=timeout_s
        )
        if response.status == 200:
            return parse_token_answer(response.body, self._clock())
        if response.status in (400, 401, 403):
            raise TokenRefused(
                f"token endpoint answered {response.status} {_oauth_error(response.body)}"
            )
        retry_after = parse_retry_after(response.header("retry-after"), self._wall_clock())
        raise TokenUnavailable(f"token endpoint answered {response.status}", retry_after)
