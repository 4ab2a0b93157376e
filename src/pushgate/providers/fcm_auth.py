"""OAuth 2.0 access tokens for FCM from a service account, through google-auth.

google-auth signs the RS256 assertion and posts it to the file's `token_uri` (providers.md
2.2). Its refresh is synchronous, so it runs in a thread (`asyncio.to_thread`) through a
google.auth.transport.Request of our own on a sync httpx2 client trusting
PUSHGATE_PROVIDER_CA_FILE (`requests`, google-auth's usual transport, is not a dependency).

One token is cached and shared; it is refreshed when less than REFRESH_MARGIN_S of its life
is left, by one refresh that every concurrent caller awaits (single flight), and on demand
after FCM refused it (401 without FcmError). Freshness is judged on an injected monotonic
clock, so tests move time instead of waiting. No token or key ever reaches a log or an
exception message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import google.auth.exceptions
import google.auth.transport
import httpx2
from google.oauth2 import service_account

from pushgate.domain.payload import JsonObject
from pushgate.providers.http import client_ssl_context

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
# providers.md section 5: refresh at < 5 min left (google-auth's own threshold is 3 min 45 s).
REFRESH_MARGIN_S = 300.0
TOKEN_REQUEST_TIMEOUT_S = 10.0  # one token request; google-auth retries 5xx up to 3 times
CLOSE_WAIT_S = 5.0  # how long aclose lets a refresh in flight finish before closing its client
MAX_REASON = 120


class TokenUnavailable(Exception):
    """No access token: `refused` when the token endpoint refused the service account (a
    configuration problem), else it could not be reached or failed (retry later)."""

    def __init__(self, reason: str, *, refused: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refused = refused


class _Response(google.auth.transport.Response):
    def __init__(self, response: httpx2.Response) -> None:
        self._status = response.status_code
        self._headers = dict(response.headers)
        self._data = response.content

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._headers

    @property
    def data(self) -> bytes:
        return self._data


class HttpxRequest(google.auth.transport.Request):
    """google-auth's HTTP callable on a sync httpx2 client (runs in google-auth's thread)."""

    def __init__(self, client: httpx2.Client, timeout_s: float = TOKEN_REQUEST_TIMEOUT_S) -> None:
        self._client = client
        self._timeout_s = timeout_s

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _Response:
        try:
            response = self._client.request(
                method, url, content=body, headers=headers, timeout=timeout or self._timeout_s
            )
        except httpx2.HTTPError as exc:
            # The exception names the failure only: the body holds the signed assertion.
            raise google.auth.exceptions.TransportError(  # type: ignore[no-untyped-call]
                type(exc).__name__
            ) from None
        return _Response(response)


class AccessTokens:
    """The FCM access token of one service account, cached and refreshed single-flight."""

    def __init__(
        self,
        account: JsonObject,
        *,
        ca_file: str | None,
        token_uri: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._credentials: service_account.Credentials | None = None
        self._unusable: str | None = None
        try:
            credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                account, scopes=[FCM_SCOPE]
            )
            self._credentials = credentials.with_token_uri(token_uri) if token_uri else credentials
        except (ValueError, KeyError, TypeError) as exc:
            # Checked on write (services/credential_checks.py); reaching here is a stale row.
            self._unusable = f"service account unusable ({type(exc).__name__})"
        self._client = httpx2.Client(
            verify=client_ssl_context(ca_file), trust_env=False, follow_redirects=False
        )
        self._request = HttpxRequest(self._client)
        self._token: str | None = None
        self._fresh_until = 0.0
        self._refresh: asyncio.Task[str] | None = None

    async def current(self) -> str:
        """A token with at least REFRESH_MARGIN_S of life left (when tokens live that long)."""
        if self._token is not None and self._clock() < self._fresh_until:
            return self._token
        if self._refresh is None:
            self._refresh = asyncio.create_task(self._refreshed())
            self._refresh.add_done_callback(self._refresh_done)
        # Shielded: a caller reaching its deadline stops waiting, the shared refresh goes on.
        return await asyncio.shield(self._refresh)

    async def renewed(self, refused: str) -> str:
        """A token other than `refused`, which FCM answered 401 to (refreshed once for all)."""
        if self._token == refused:
            self._token = None
        return await self.current()

    def _refresh_done(self, task: asyncio.Task[str]) -> None:
        self._refresh = None
        if not task.cancelled():
            task.exception()  # retrieved here too: every waiter may have stopped waiting

    async def _refreshed(self) -> str:
        credentials = self._credentials
        if credentials is None:
            raise TokenUnavailable(self._unusable or "service account unusable", refused=True)
        started = self._clock()
        try:
            await asyncio.to_thread(credentials.refresh, self._request)
        except google.auth.exceptions.RefreshError as exc:
            # args[0] is "<error>: <error_description>" from the token endpoint: no secret.
            said = str(exc.args[0]) if exc.args else "refused"
            reason = f"token request failed: {said}"[:MAX_REASON]
            raise TokenUnavailable(reason, refused=not exc.retryable) from None
        except google.auth.exceptions.TransportError as exc:
            said = str(exc.args[0]) if exc.args else "transport error"
            raise TokenUnavailable(f"token endpoint unreachable: {said}", refused=False) from None
        token = str(credentials.token)
        self._token = token
        self._fresh_until = started + self._fresh_for(credentials.expiry)
        return token

    @staticmethod
    def _fresh_for(expiry: datetime | None) -> float:
        """Seconds to use a new token for: its life (google-auth's naive-UTC expiry, measured
        after the fact, so never longer than the truth) minus the refresh margin."""
        if expiry is None:
            return 0.0  # no expires_in: ask again next time rather than guess
        life = (expiry - datetime.now(UTC).replace(tzinfo=None)).total_seconds()
        return max(0.0, life - min(REFRESH_MARGIN_S, life / 2))

    async def aclose(self) -> None:
        refresh = self._refresh
        if refresh is not None:
            await asyncio.wait({refresh}, timeout=CLOSE_WAIT_S)
        self._client.close()
