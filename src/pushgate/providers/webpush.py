"""Web Push adapter (RFC 8030 delivery, RFC 8291 aes128gcm encryption, RFC 8292 VAPID).

A registration's token is its subscription endpoint URL, with the browser's p256dh key and
auth secret beside it (Recipient). Per delivery, in this order, nothing sent on a refusal:

1. SSRF guard (addresses.py) on the endpoint, once per host per batch: a token that now fails
   it is REJECTED code 1. Residual DNS-rebinding risk: the transport resolves the name again
   when it connects (addresses.py explains; pinning needs an HttpTransport that takes an
   address).
2. Expired (DeliveryOptions.expires_at passed): REJECTED code 12, never sent late.
3. Plaintext (webpush_payload.py's JSON) over 3993 bytes: REJECTED code 9.
4. Subscription keys not a P-256 point / 16-byte secret: DEAD_TOKEN code 6. Such a
   subscription can never be delivered to whatever the notification, so the registration is
   deactivated rather than failing every later notification.
5. Encrypt (fresh ephemeral key and salt), sign VAPID per origin (cached, vapid.py), POST.

Transport: one HttpTransport for every origin, owned by the provider (closed by aclose). Web
Push endpoints fall on few origins (FCM, Mozilla, Apple, WNS), and both transports pool
connections per origin themselves (httpx2 per host, pycurl's multi per host), so one shared
transport reuses each origin's connection without a map of transports here.

Concurrency: at most `max_in_flight` requests at once per provider, across batches. Every
answer is in by Batch.deadline: what is still open then is cancelled and becomes RETRY
"timeout" (unsent when its request had not started).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial

from pushgate.domain.platforms import Platform
from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.providers.addresses import (
    Resolver,
)
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
    count_ambiguous,
    remaining_s,
    retry,
    send_all,
    transport_result,
)
from pushgate.providers.endpoint_guard import EndpointGuard
from pushgate.providers.http import HttpTransport, TransportError
from pushgate.providers.http_curl import CurlTransport
from pushgate.providers.kinds import ProviderKind
from pushgate.providers.vapid import VapidSigner, endpoint_origin, load_vapid_keys
from pushgate.providers.webpush_answers import result_for
from pushgate.providers.webpush_payload import (
    MAX_PLAINTEXT,
    URGENCY,
    SubscriptionKeys,
    decode_subscription_keys,
    encrypt,
    render_plaintext,
    topic_for,
    ttl_seconds,
)

DEFAULT_MAX_IN_FLIGHT = 100
MAX_CONNECTIONS = 16  # per origin (libcurl pools per host); HTTP/2 multiplexes within each

EXPIRED = SendResult(Outcome.REJECTED, ResultCode.PROVIDER_FAILED, "Expired")
TOO_LARGE = SendResult(Outcome.REJECTED, ResultCode.TOO_LARGE, "PayloadTooLarge")
BAD_KEYS = SendResult(Outcome.DEAD_TOKEN, ResultCode.TOKEN_REJECTED, "InvalidSubscriptionKeys")

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class _Prepared:
    delivery: Delivery
    plaintext: bytes
    keys: SubscriptionKeys


class WebPushProvider:
    """One app's VAPID credential, sending to any number of push services."""

    def __init__(
        self,
        credential: ProviderCredential,
        options: ProviderOptions,
        *,
        transport: HttpTransport,
        clock: Clock = time.time,
        allow_hosts: frozenset[str] = frozenset(),
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        resolver: Resolver | None = None,  # host -> addresses; the system's getaddrinfo if None
    ) -> None:
        self._signer = VapidSigner(load_vapid_keys(credential), clock)
        self._options = options
        self._transport = transport
        self._clock = clock
        hosts = options.allowed_hosts | allow_hosts
        self._guard = EndpointGuard(replace(options, allowed_hosts=hosts), resolver=resolver)
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._active: set[asyncio.Task[SendResult]] = set()
        self._closed = False

    async def send(self, batch: Batch) -> list[SendResult]:
        """One result per delivery of the batch, in order, all by batch.deadline."""
        if self._closed:
            return [retry("closed", unsent=True)] * len(batch.deliveries)
        tokens = (delivery.recipient.token for delivery in batch.deliveries)
        refused = await self._guard.refusals(tokens, batch.deadline)
        rendered: dict[int, bytes] = {}
        prepared = [
            refused.get(delivery.recipient.token) or self._prepare(delivery, rendered)
            for delivery in batch.deliveries
        ]
        results = await send_all(
            prepared,
            partial(self._deliver, deadline=batch.deadline),
            deadline=batch.deadline,
            gate=self._in_flight,
            active=self._active,  # aclose() cancels them: those end as RETRY "closed"
            cut_reason=lambda: "closed" if self._closed else "timeout",
        )
        count_ambiguous("webpush", results)
        return results

    async def aclose(self) -> None:
        """Cancel what is in flight (those deliveries end as RETRY) and close the transport."""
        self._closed = True
        pending = list(self._active)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        await self._transport.aclose()

    def _prepare(self, delivery: Delivery, rendered: dict[int, bytes]) -> _Prepared | SendResult:
        """The checks that need no network: expiry, size, subscription keys."""
        push = delivery.push
        if push.options.expires_at.timestamp() <= self._clock():
            return EXPIRED
        plaintext = rendered.get(id(push))
        if plaintext is None:
            # One rendering per content variant: every delivery of a Push shares it.
            plaintext = rendered[id(push)] = render_plaintext(push.content)
        if len(plaintext) > MAX_PLAINTEXT:
            return TOO_LARGE
        try:
            keys = decode_subscription_keys(
                delivery.recipient.p256dh, delivery.recipient.auth_secret
            )
        except ValueError:
            return BAD_KEYS
        return _Prepared(delivery, plaintext, keys)

    def _headers(self, delivery: Delivery) -> list[tuple[str, str]]:
        options = delivery.push.options
        now = datetime.fromtimestamp(self._clock(), UTC)
        headers = [
            ("ttl", str(ttl_seconds(options, now))),
            ("urgency", URGENCY[options.priority]),
            ("content-encoding", "aes128gcm"),
            ("content-type", "application/octet-stream"),
            (
                "authorization",
                self._signer.authorization(endpoint_origin(delivery.recipient.token)),
            ),
        ]
        topic = topic_for(options.collapse_id)
        if topic is not None:
            headers.append(("topic", topic))
        return headers

    async def _deliver(
        self, prepared: _Prepared, attempt: Attempt, *, deadline: float
    ) -> SendResult:
        """Runs in an in-flight slot (send_all's gate), the batch deadline not yet passed."""
        delivery = prepared.delivery
        timeout_s = min(self._options.send_timeout_s, remaining_s(deadline))
        if timeout_s <= 0:
            return NOT_STARTED
        body = encrypt(prepared.plaintext, prepared.keys)
        headers = self._headers(delivery)
        attempt.started = True
        try:
            response = await self._transport.request(
                "POST", delivery.recipient.token, headers, body, timeout_s=timeout_s
            )
        except TransportError as exc:
            # The class names the failure (its text may quote the endpoint, a capability URL);
            # the transport's own timeout answers like the batch deadline: "timeout".
            return transport_result(exc)
        return result_for(response, self._clock())


def _render(push: Push, _platform: Platform) -> bytes:
    return render_plaintext(push.content)


def webpush_kind(*, clock: Clock = time.time) -> ProviderKind:
    """The registry entry: render = the plaintext JSON, limit 3993 bytes (RFC 8291 section 4)."""

    def build(credential: ProviderCredential | None, options: ProviderOptions) -> Provider:
        if credential is None:
            raise ValueError("webpush needs a VAPID credential")
        # One libcurl multi handle for every origin: it pools connections per host itself.
        transport = CurlTransport(ca_file=options.ca_file, max_connections=MAX_CONNECTIONS)
        return WebPushProvider(
            credential, options, transport=transport, clock=clock, allow_hosts=options.allowed_hosts
        )

    return ProviderKind("webpush", True, _render, lambda _p: MAX_PLAINTEXT, build)
