"""WNS adapter: client-credentials token, one POST per channel URI, the answer table.

Wire facts: providers.md section 4 and Microsoft's "Push notification service request and
response headers". The token comes from `<base>/accesstoken.srf`, where base is the
credential's `endpoint`, else ProviderOptions.endpoints["wns"], else https://login.live.com:
WNS has no notify base URL (each channel URI is absolute), so the override names the token
service (a base ending in /accesstoken.srf is taken as the whole token URL). The credential
holds settings {"client_id"} and secret {"client_secret"}
(services/credential_checks.py).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from urllib.parse import urlsplit

from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.providers.base import (
    Batch,
    Delivery,
    Provider,
    ProviderCredential,
    ProviderOptions,
    Push,
    SendResult,
)
from pushgate.providers.batching import (
    NOT_STARTED,
    Attempt,
    remaining_s,
    retry,
    send_all,
    transport_result,
)
from pushgate.providers.client_credentials import (
    ClientCredentialsToken,
    TokenRefused,
    TokenUnavailable,
)
from pushgate.providers.endpoint_guard import EndpointGuard
from pushgate.providers.http import HttpResponse, HttpTransport, TimedOut, TransportError
from pushgate.providers.http_httpx import HttpxTransport
from pushgate.providers.kinds import ProviderKind
from pushgate.providers.status_answers import Answer
from pushgate.providers.wns_payload import (
    PAYLOAD_LIMIT,
    TILE,
    TOAST,
    UnsendableContent,
    WnsNotification,
    render_bytes,
    render_notification,
    wns_tag,
)

DEFAULT_TOKEN_BASE = "https://login.live.com"  # noqa: S105 - a URL, not a secret
SCOPE = "notify.windows.com"
TOKEN_PATH = "/accesstoken.srf"  # noqa: S105 - a path, not a secret
CONCURRENCY = 10  # requests in flight per credential: WNS is a low-volume path (httpx2)
TOKEN_TIMEOUT_S = 10.0


# HTTP status -> answer. Microsoft, "Push notification service request and response headers",
# response codes table (providers.md section 4). 401 is first refreshed and resent once
# (WnsProvider._send_one); this row is the answer when the fresh token is refused too.
ANSWERS: dict[int, Answer] = {
    400: Answer(Outcome.REJECTED, ResultCode.INVALID_DATA, "BadRequest"),  # bad header/XML: ours
    401: Answer(Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED, "Unauthorized"),
    # 403: the channel belongs to another app than our client id (a configuration mix-up).
    403: Answer(Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED, "Forbidden"),
    404: Answer(Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED, "NotFound"),  # unknown channel
    405: Answer(Outcome.REJECTED, ResultCode.INVALID_DATA, "MethodNotAllowed"),
    406: Answer(Outcome.RETRY, ResultCode.TOO_MANY_FOR_DEVICE, "NotAcceptable"),  # throttled
    410: Answer(Outcome.DEAD_TOKEN, ResultCode.REGISTRATION_EXPIRED, "Gone"),  # channel expired
    413: Answer(Outcome.REJECTED, ResultCode.TOO_LARGE, "RequestEntityTooLarge"),
    429: Answer(Outcome.RETRY, ResultCode.QUOTA_EXCEEDED, "TooManyRequests"),  # App SDK quota
    500: Answer(Outcome.RETRY, ResultCode.RECOVERABLE_IO, "InternalServerError"),
    503: Answer(Outcome.RETRY, ResultCode.RECOVERABLE_IO, "ServiceUnavailable"),
}
# Statuses not in the table: any other 4xx is our request's fault, anything else transient.
OTHER_CLIENT_ERROR = Answer(Outcome.REJECTED, ResultCode.INVALID_DATA, "ClientError")
OTHER_STATUS = Answer(Outcome.RETRY, ResultCode.RECOVERABLE_IO, "UnexpectedStatus")

# X-WNS-Status of a 200 (same page, response headers). "dropped": WNS accepted but discarded
# it (device offline with no-cache, or the user turned this app's notifications off): not
# resent, the channel kept. "channelthrottled": too many to this channel: retry later.
STATUS_ANSWERS: dict[str, Answer | None] = {
    "received": None,  # SENT; so is a 200 with a status value not listed here
    "dropped": Answer(Outcome.REJECTED, ResultCode.NOT_ACCEPTED, "dropped"),
    "channelthrottled": Answer(Outcome.RETRY, ResultCode.TOO_MANY_FOR_DEVICE, "channelthrottled"),
}

EXPIRED = SendResult(Outcome.REJECTED, ResultCode.PROVIDER_FAILED, "expired")
TOO_LARGE = SendResult(Outcome.REJECTED, ResultCode.TOO_LARGE, f"over {PAYLOAD_LIMIT} bytes")
NOT_HTTPS = SendResult(Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED, "channel URI is not https")


def answer_for(response: HttpResponse, now: datetime) -> SendResult:
    """The SendResult of one notify answer (after the 401 refresh, see _send_one)."""
    answer: Answer | None
    if response.status == 200:
        status = (response.header("x-wns-status") or "received").strip().lower()
        answer = STATUS_ANSWERS.get(status)
        if answer is None:
            return SendResult(
                Outcome.SENT, ResultCode.SENT, provider_ref=response.header("x-wns-msg-id")
            )
    else:
        answer = ANSWERS.get(response.status)
        if answer is None:
            answer = OTHER_CLIENT_ERROR if 400 <= response.status < 500 else OTHER_STATUS
    return answer.result(response, now)


def channel_refusal(channel_uri: str) -> SendResult | None:
    """Refuse a channel URI WNS could never serve; None when it may be sent to."""
    parts = urlsplit(channel_uri)
    if parts.scheme != "https" or not parts.hostname:
        return NOT_HTTPS
    return None  # its address is checked per batch (EndpointGuard in WnsProvider.send)


def notify_headers(
    notification: WnsNotification, push: Push, now: datetime
) -> list[tuple[str, str]]:
    """X-WNS-Type, Content-Type and the optional TTL, cache policy and tag headers."""
    headers = [("x-wns-type", notification.type), ("content-type", notification.content_type)]
    options = push.options
    headers.append(
        ("x-wns-ttl", str(max(math.ceil((options.expires_at - now).total_seconds()), 1)))
    )
    if options.once:  # TTL 0, "now or never": WNS must not keep it for an offline device
        headers.append(("x-wns-cache-policy", "no-cache"))
    if options.collapse_id and notification.type in (TOAST, TILE):  # tags exist for these only
        headers.append(("x-wns-tag", wns_tag(options.collapse_id)))
    return headers


@dataclass(frozen=True, slots=True)
class _Request:
    url: str
    headers: list[tuple[str, str]]
    body: bytes


class WnsProvider:
    def __init__(
        self,
        credential: ProviderCredential,
        options: ProviderOptions,
        *,
        transport: HttpTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        base = credential.endpoint or options.endpoints.get("wns") or DEFAULT_TOKEN_BASE
        self._transport = transport or HttpxTransport(ca_file=options.ca_file)
        self._owns_transport = transport is None
        self._options = options
        self._now = now
        self._guard = EndpointGuard(options)
        form = {
            "grant_type": "client_credentials",
            "client_id": str(credential.settings["client_id"]),
            "client_secret": str(credential.secret["client_secret"]),
            "scope": SCOPE,
        }
        token_url = base if base.endswith(TOKEN_PATH) else base.rstrip("/") + TOKEN_PATH
        self.tokens = ClientCredentialsToken(
            self._transport, token_url, form, clock=clock, wall_clock=now
        )

    async def send(self, batch: Batch) -> list[SendResult]:
        """One result per delivery, in order, all in by batch.deadline."""
        prepared = self._prepare_all(batch.deliveries)
        # The channel URIs are device-supplied addresses: the SSRF guard, once per host.
        urls = [item.url for item in prepared if isinstance(item, _Request)]
        refused = await self._guard.refusals(urls, batch.deadline)
        if refused:
            prepared = [
                refused.get(item.url, item) if isinstance(item, _Request) else item
                for item in prepared
            ]
        if not any(isinstance(item, _Request) for item in prepared):
            return [item for item in prepared if isinstance(item, SendResult)]
        # One token request before fanning out: its failure is every request's answer.
        token = await self._token(batch.deadline, nothing_sent=True)
        if isinstance(token, SendResult):
            return [token if isinstance(item, _Request) else item for item in prepared]
        return await send_all(
            prepared,
            partial(self._send_one, deadline=batch.deadline),
            deadline=batch.deadline,
            gate=asyncio.Semaphore(CONCURRENCY),  # per batch
        )

    def _prepare_all(self, deliveries: Sequence[Delivery]) -> list[_Request | SendResult]:
        rendered: dict[int, WnsNotification | SendResult] = {}  # per Push: shared by recipients
        now = self._now()
        return [self._prepare(delivery, rendered, now) for delivery in deliveries]

    def _prepare(
        self, delivery: Delivery, rendered: dict[int, WnsNotification | SendResult], now: datetime
    ) -> _Request | SendResult:
        push = delivery.push
        if push.options.expires_at <= now:
            return EXPIRED
        refusal = channel_refusal(delivery.recipient.token)
        if refusal is not None:
            return refusal
        notification = rendered.get(id(push))
        if notification is None:
            notification = self._render(push)
            rendered[id(push)] = notification
        if isinstance(notification, SendResult):
            return notification
        headers = notify_headers(notification, push, now)
        return _Request(delivery.recipient.token, headers, notification.body)

    @staticmethod
    def _render(push: Push) -> WnsNotification | SendResult:
        try:
            notification = render_notification(push.content)
        except UnsendableContent as exc:
            return SendResult(Outcome.REJECTED, ResultCode.INVALID_DATA, str(exc))
        if len(notification.body) > PAYLOAD_LIMIT:  # checked before sending: WNS would 413
            return TOO_LARGE
        return notification

    def _timeout(self, deadline: float) -> float:
        return min(self._options.send_timeout_s, TOKEN_TIMEOUT_S, remaining_s(deadline))

    async def _token(self, deadline: float, *, nothing_sent: bool) -> str | SendResult:
        """The access token, or the result a delivery gets when there is none for now."""
        if remaining_s(deadline) <= 0:
            return NOT_STARTED
        try:
            return await self.tokens.get(timeout_s=self._timeout(deadline))
        except TransportError as exc:
            return transport_result(exc) if nothing_sent else retry(type(exc).__name__)
        except TokenRefused as exc:
            return SendResult(Outcome.AUTH, ResultCode.CONFIGURATION_EXPIRED, exc.reason)
        except TokenUnavailable as exc:
            return retry(exc.reason, retry_after_s=exc.retry_after_s, unsent=nothing_sent)

    async def _post(self, request: _Request, token: str, deadline: float) -> HttpResponse:
        headers = [("authorization", f"Bearer {token}"), *request.headers]
        timeout_s = min(self._options.send_timeout_s, remaining_s(deadline))
        if timeout_s <= 0:
            raise TimedOutBeforeSending
        return await self._transport.request(
            "POST", request.url, headers, request.body, timeout_s=timeout_s
        )

    async def _send_one(
        self, request: _Request, attempt: Attempt, *, deadline: float
    ) -> SendResult:
        attempt.started = True  # from its slot on, the token fetch included
        token = await self._token(deadline, nothing_sent=True)
        if isinstance(token, SendResult):
            return token
        response = await self._post(request, token, deadline)
        if response.status == 401:
            # WNS: "401 ... the access token ... is not valid": fetch a new one, resend once.
            self.tokens.invalidate(token)
            token = await self._token(deadline, nothing_sent=False)
            if isinstance(token, SendResult):
                return token
            response = await self._post(request, token, deadline)
        return answer_for(response, self._now())

    async def aclose(self) -> None:
        if self._owns_transport:
            await self._transport.aclose()


class TimedOutBeforeSending(TimedOut):
    """The batch deadline passed before the request could start."""

    unsent = True


def _build(credential: ProviderCredential | None, options: ProviderOptions) -> Provider:
    if credential is None:
        raise ValueError("the wns provider needs the app's WNS credential")
    return WnsProvider(credential, options)


def wns_kind() -> ProviderKind:
    """The WNS entry for the provider registry (the lead wires it into default_kinds)."""
    return ProviderKind("wns", True, render_bytes, lambda _platform: PAYLOAD_LIMIT, _build)
