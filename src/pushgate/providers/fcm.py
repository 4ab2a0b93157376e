"""FCM HTTP v1 adapter: one `messages:send` per delivery, concurrent, over an HttpTransport.

providers.md section 2. `POST {base}/v1/projects/{project_id}/messages:send` with
`{"message": {...}}` and an OAuth bearer from the service account (fcm_auth.py); the message
is rendered once per distinct Push (fcm_message.py) and its answer read by the table in
fcm_answers.py. A batch's requests run concurrently (bounded by MAX_IN_FLIGHT per adapter,
multiplexed by the transport over HTTP/2); whatever is still open at Batch.deadline becomes
RETRY "timeout", unsent when its request never left.

The send path uses only the HttpTransport protocol, so the transport can be swapped (pycurl
for the hot path, httpx2 today). The adapter owns the transport it is given and closes it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from urllib.parse import quote

import structlog

from pushgate.domain.platforms import Platform
from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.providers.base import (
    Batch,
    Provider,
    ProviderCredential,
    ProviderOptions,
    Push,
    SendResult,
)
from pushgate.providers.batching import Attempt, count_ambiguous, retry, send_all
from pushgate.providers.fcm_answers import answer_for, is_bare_unauthenticated
from pushgate.providers.fcm_auth import AccessTokens, TokenUnavailable
from pushgate.providers.fcm_message import (
    MAX_MESSAGE_BYTES,
    RenderedMessage,
    render,
    ttl_seconds,
)
from pushgate.providers.http import HttpResponse, HttpTransport, TimedOut, TransportError
from pushgate.providers.http_curl import CurlTransport
from pushgate.providers.kinds import ProviderKind

DEFAULT_BASE_URL = "https://fcm.googleapis.com"
# ProviderOptions.endpoints keys: the FCM base URL, and the OAuth token URL that replaces the
# service account's token_uri (fake-provider mode points both at the fakes).
ENDPOINT_KEY = "fcm"
TOKEN_ENDPOINT_KEY = "fcm_token"  # noqa: S105 - a settings key
# Requests in flight per adapter (per credential): HTTP/2 streams on one connection; FCM
# allows 600k requests a minute per project (providers.md 2.4), so this bounds us, not it.
MAX_IN_FLIGHT = 256
_JSON = "application/json; charset=UTF-8"

EXPIRED = SendResult(Outcome.REJECTED, ResultCode.PROVIDER_FAILED, "expired before sending")
_ADAPTER_ERROR = retry("adapter error")
_log = structlog.get_logger("pushgate.providers.fcm")
_Job = tuple[str, RenderedMessage]  # the token and its Push's rendered message


class _DeadlinePassed(TimedOut):
    """The batch deadline came before this request was sent."""

    unsent = True


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _too_large(size: int) -> SendResult:
    reason = f"message is {size} bytes, FCM's limit is {MAX_MESSAGE_BYTES}"
    return SendResult(Outcome.REJECTED, ResultCode.TOO_LARGE, reason)


def _prepare(push: Push, now: datetime) -> RenderedMessage | SendResult:
    """The encoded message of `push`, or the result that stops it before sending."""
    ttl_s = ttl_seconds(push.options, now)
    if ttl_s is None:
        return EXPIRED
    message = render(push, ttl_s)
    if message.size > MAX_MESSAGE_BYTES:
        return _too_large(message.size)  # checked before sending: FCM would answer 400
    return message


def _adapter_error(app_id: int, failure: BaseException) -> SendResult:
    # A bug on one delivery's path, not an answer: its batch-mates' results stand (they may
    # have been delivered), this one is retried (F11).
    _log.error("fcm delivery failed", app_id=app_id, exc_info=failure)
    return _ADAPTER_ERROR


def send_url(credential: ProviderCredential, options: ProviderOptions) -> str:
    """The credential's `messages:send` URL (its endpoint, the deployment's, or Google's)."""
    account = credential.secret.get("service_account") or {}
    project_id = str(credential.settings.get("project_id") or account.get("project_id"))
    base = credential.endpoint or options.endpoints.get(ENDPOINT_KEY) or DEFAULT_BASE_URL
    return f"{base.rstrip('/')}/v1/projects/{quote(project_id, safe='')}/messages:send"


class FcmProvider:
    """One app's FCM service account: sends batches to its project."""

    def __init__(
        self,
        credential: ProviderCredential,
        options: ProviderOptions,
        *,
        transport: HttpTransport,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utc_now,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        account = credential.secret.get("service_account") or {}
        self._url = send_url(credential, options)
        self._tokens = AccessTokens(
            account,
            ca_file=options.ca_file,
            token_uri=options.endpoints.get(TOKEN_ENDPOINT_KEY),
            clock=clock,
        )
        self._transport = transport
        self._send_timeout_s = options.send_timeout_s
        self._wall_clock = wall_clock
        self._slots = asyncio.Semaphore(max_in_flight)

    async def send(self, batch: Batch) -> list[SendResult]:
        """One result per delivery of the batch, in the same order, all by batch.deadline."""
        now = self._wall_clock()
        prepared: dict[int, RenderedMessage | SendResult] = {}  # id(Push) -> its rendering
        jobs: list[_Job | SendResult] = []
        for delivery in batch.deliveries:
            push = delivery.push
            ready = prepared.get(id(push))
            if ready is None:
                ready = prepared[id(push)] = _prepare(push, now)
            jobs.append(
                ready if isinstance(ready, SendResult) else (delivery.recipient.token, ready)
            )
        results = await send_all(
            jobs,
            partial(self._deliver, deadline=batch.deadline),
            deadline=batch.deadline,
            gate=self._slots,
            on_error=partial(_adapter_error, batch.app_id),
        )
        count_ambiguous("fcm", results)
        return results

    async def _deliver(self, job: _Job, attempt: Attempt, *, deadline: float) -> SendResult:
        token, message = job
        body = message.request_body(token)
        try:
            access = await self._tokens.current()
            attempt.started = True  # the request leaves for FCM (and may reach it)
            response = await self._post(body, access, deadline)
            if is_bare_unauthenticated(response):
                # Our access token was refused (expired early, revoked): renew it once for
                # every request that saw the 401, and resend this one once (providers.md 2.4).
                access = await self._tokens.renewed(access)
                response = await self._post(body, access, deadline)
        except TokenUnavailable as exc:
            if exc.refused:
                return SendResult(Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED, exc.reason)
            return retry(exc.reason, unsent=not attempt.started)
        except TransportError as exc:
            return _transport_failed(exc)
        return answer_for(response, self._wall_clock())

    async def _post(self, body: bytes, access: str, deadline: float) -> HttpResponse:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise _DeadlinePassed("batch deadline passed before sending")
        headers = (("authorization", f"Bearer {access}"), ("content-type", _JSON))
        return await self._transport.request(
            "POST", self._url, headers, body, timeout_s=min(self._send_timeout_s, remaining)
        )

    async def aclose(self) -> None:
        """Close the transport and the token client; sends still open end as RETRY."""
        await self._transport.aclose()
        await self._tokens.aclose()


def _transport_failed(exc: TransportError) -> SendResult:
    # The exception's text names the failure (connection, TLS, timeout), never the headers.
    reason = "timeout" if isinstance(exc, TimedOut) else f"{type(exc).__name__}: {exc}"[:200]
    return retry(reason, unsent=exc.unsent)


def render_fcm(push: Push, _platform: Platform) -> bytes:
    """The message body FCM's limit applies to (the registry's check before queueing)."""
    return render(push, ttl_seconds(push.options, _utc_now()) or 0).message


def build_fcm(credential: ProviderCredential | None, options: ProviderOptions) -> Provider:
    if credential is None:
        raise ValueError("FCM needs the app's service-account credential")
    # The hot path: libcurl's HTTP/2 multiplexing on the event loop (http_curl.py), measured
    # at ~20 µs a request where httpx2 took ~650 µs (issue: provider adapters).
    transport = CurlTransport(ca_file=options.ca_file, max_connections=4)
    return FcmProvider(credential, options, transport=transport)


def fcm_kind() -> ProviderKind:
    """FCM's entry for the provider registry (the lead wires it into default_kinds)."""
    return ProviderKind(
        name="fcm",
        needs_credential=True,
        render=render_fcm,
        payload_limit=lambda _platform: MAX_MESSAGE_BYTES,
        build=build_fcm,
    )
