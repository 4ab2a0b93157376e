"""APNs adapter: HTTP/2 provider API over pycurl (providers.md section 1, issue 4).

One ApnsProvider per app credential; per environment host one CurlTransport (one libcurl
multi handle), which multiplexes on up to `max_connections` HTTP/2 connections, opening more
only when one is saturated (the server's SETTINGS_MAX_CONCURRENT_STREAMS, 1 on a fresh APNs
connection until a token was accepted). GOAWAY: libcurl resends what the server never
processed on a new connection itself (http_curl.py); what it cannot resend comes back as
RETRY unsent=True, a lost connection as RETRY (ambiguous).

Hosts. Production https://api.push.apple.com, sandbox https://api.sandbox.push.apple.com,
chosen per Recipient.sandbox. Overrides, most specific first: production from
ProviderCredential.endpoint, then ProviderOptions.endpoints["apns"]; sandbox from the
credential setting `sandbox_endpoint`, then ProviderOptions.endpoints["apns_sandbox"], then
the production override itself (so one base URL serves both when only that is given). The
fake APNs listens on two ports and tells the environments apart by the port.

Auth. Token (settings: auth "token", key_id, team_id, topic; secret: key PEM): one shared
ES256 token per (team, key), apns_auth.py. Certificate (settings: auth "certificate", topic;
secret: certificate, private_key, private_key_password): the TLS client certificate, given to
libcurl in memory.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from urllib.parse import quote, urlsplit

from pushgate.domain.platforms import Platform
from pushgate.providers.apns_answers import (
    EXPIRED,
    EXPIRED_PROVIDER_TOKEN,
    TIMEOUT,
    TOO_LARGE,
    result_of_answer,
    result_of_failure,
    sent,
)
from pushgate.providers.apns_auth import TOKEN_REFUSALS, ProviderToken, ProviderTokens
from pushgate.providers.apns_payload import Rendering, apns_id, payload_limit, render, render_body
from pushgate.providers.base import (
    Batch,
    Provider,
    ProviderCredential,
    ProviderOptions,
    Push,
    SendResult,
)
from pushgate.providers.batching import count_ambiguous
from pushgate.providers.http import HttpResponse
from pushgate.providers.http_curl import (
    DEFAULT_STREAMS_PER_CONNECTION,
    Answer,
    CurlTransport,
    Request,
)
from pushgate.providers.kinds import ProviderKind

PRODUCTION_URL = "https://api.push.apple.com"
SANDBOX_URL = "https://api.sandbox.push.apple.com"
DEFAULT_CONNECTIONS = 4  # per credential and host: APNs asks to spread load over several
CLOSED = "transport closed"


def base_urls(credential: ProviderCredential, options: ProviderOptions) -> tuple[str, str]:
    """(production, sandbox) base URLs after the overrides in the module docstring."""
    override = credential.endpoint or options.endpoints.get("apns")
    sandbox = credential.settings.get("sandbox_endpoint") or options.endpoints.get("apns_sandbox")
    production = (override or PRODUCTION_URL).rstrip("/")
    return production, str(sandbox or override or SANDBOX_URL).rstrip("/")


class _Round:
    """One pass over some deliveries of a batch: collects answers until all are in."""

    __slots__ = ("done", "expired_token", "left", "now", "refs", "results")

    def __init__(
        self,
        results: list[SendResult | None],
        count: int,
        done: asyncio.Future[None],
        now: Callable[[], float],
    ) -> None:
        self.results = results
        self.refs: list[str | None] = [None] * len(results)  # the apns-id sent, echoed back
        self.left = count
        self.done = done
        self.now = now
        self.expired_token: list[int] = []  # indices answered ExpiredProviderToken

    def answer(self, index: int, answer: Answer) -> None:
        if self.done.done():
            return  # past the batch deadline: that slot is already a timeout
        if type(answer) is HttpResponse:
            if answer.status == 200:  # the hot path: no header or body to read
                result = sent(self.refs[index])
            else:
                result = result_of_answer(answer, self.now, self.refs[index])
                if result.reason == EXPIRED_PROVIDER_TOKEN:
                    self.expired_token.append(index)
        else:
            result = result_of_failure(answer)  # type: ignore[arg-type]
        self.results[index] = result
        self.left -= 1
        if not self.left:
            self.done.set_result(None)


class ApnsProvider:
    """Sends an app's batches to APNs; one SendResult per delivery, in order."""

    def __init__(
        self,
        credential: ProviderCredential,
        options: ProviderOptions,
        *,
        tokens: ProviderTokens | None = None,
        clock: Callable[[], float] = time.time,
        max_connections: int = DEFAULT_CONNECTIONS,
        streams_per_connection: int = DEFAULT_STREAMS_PER_CONNECTION,
    ) -> None:
        settings, secret = credential.settings, credential.secret
        self._topic = str(settings["topic"])
        self._options = options
        self._clock = clock
        self._production, self._sandbox = base_urls(credential, options)
        # Each host's transport is bound to its origin; a request names only its path.
        self._production_device = f"{_path_of(self._production)}/3/device/"
        self._sandbox_device = f"{_path_of(self._sandbox)}/3/device/"
        self._token: ProviderToken | None = None
        self._client_certificate: tuple[bytes, bytes, str | None] | None = None
        if settings.get("auth") == "certificate":
            self._client_certificate = (
                str(secret["certificate"]).encode(),
                str(secret["private_key"]).encode(),
                secret.get("private_key_password"),
            )
        else:
            tokens = tokens or ProviderTokens(clock)
            key_id, team_id = str(settings["key_id"]), str(settings["team_id"])
            self._token = tokens.get(key_id, team_id, str(secret["key"]))
        self._max_connections = max_connections
        self._streams_per_connection = streams_per_connection
        self._transports: dict[str, CurlTransport] = {}
        self._closed = False

    @property
    def token(self) -> ProviderToken | None:
        return self._token

    def _transport(self, base_url: str) -> CurlTransport:
        transport = self._transports.get(base_url)
        if transport is None:
            certificate, key, password = self._client_certificate or (None, None, None)
            transport = CurlTransport(
                ca_file=self._options.ca_file,
                client_certificate=certificate,
                client_key=key,
                client_key_password=password,
                max_connections=self._max_connections,
                streams_per_connection=self._streams_per_connection,
                answer_headers=False,  # apns-id is ours, echoed; Retry-After comes from libcurl
                origin=_origin_of(base_url),
                user_agent="",  # APNs reads none: one header less a request
            )
            self._transports[base_url] = transport
        return transport

    async def send(self, batch: Batch) -> list[SendResult]:
        """One result per delivery, in order, all by batch.deadline (what is open: timeout)."""
        count = len(batch.deliveries)
        if self._closed:
            return [result_of_closed()] * count
        results: list[SendResult | None] = [None] * count
        renders: dict[tuple[int, Platform], Rendering] = {}
        auth = self._token.header() if self._token is not None else None
        expired = await self._round(batch, range(count), auth, results, renders)
        # ExpiredProviderToken: a new token (unless the last is < 20 min old) and one resend
        # inside the adapter (providers.md 1.3); a second refusal stays AUTH.
        if expired and self._token is not None and auth and self._token.renew_expired(auth):
            for index in expired:
                results[index] = None  # open again: a resend still out at the deadline times out
            await self._round(batch, expired, self._token.header(), results, renders)
        if self._token is not None:
            for result in results:
                if result is not None and result.reason in TOKEN_REFUSALS:
                    self._token.report_refused(result.reason)
                    break
        answered = [TIMEOUT if result is None else result for result in results]
        count_ambiguous("apns", answered)
        return answered

    async def _round(
        self,
        batch: Batch,
        indices: Sequence[int],
        auth: str | None,
        results: list[SendResult | None],
        renders: dict[tuple[int, Platform], Rendering],
    ) -> list[int]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        round_ = _Round(results, len(indices), done, self._clock)
        timeout_s = min(self._options.send_timeout_s, batch.deadline - loop.time())
        requests = self._requests(batch, indices, auth, round_, renders)
        for sandbox, queue in requests.items():
            base = self._sandbox if sandbox else self._production
            self._transport(base).submit_batch(queue, timeout_s, round_.answer)
        if round_.left:
            deadline = loop.call_at(batch.deadline, _finish, done)
            try:
                await done
            finally:
                deadline.cancel()
        return round_.expired_token

    def _requests(
        self,
        batch: Batch,
        indices: Sequence[int],
        auth: str | None,
        round_: _Round,
        renders: dict[tuple[int, Platform], Rendering],
    ) -> dict[int, list[Request]]:
        """The round's requests by Recipient.sandbox (one transport each); the deliveries
        refused before sending get their result here."""
        now = self._clock()
        auth_line = auth.encode() if auth is not None else None
        # Per send only what differs per send is built (apns-id, path): what a (Push,
        # platform) shares is prepared once per round, as bytes header lines. This loop, the
        # transport's and _Round.answer cost ~3 us a send above pycurl sending the same
        # requests alone (bench/curl_floor.py; ~31 us a request here, libcurl's own work).
        prepared: dict[tuple[int, Platform], _Prepared] = {}
        queues: tuple[list[Request], list[Request]] = ([], [])  # production, sandbox
        devices = (self._production_device, self._sandbox_device)
        deliveries, refs, results = batch.deliveries, round_.refs, round_.results
        push: Push | None = None
        platform: Platform | None = None
        ready = _Prepared((), b"", None)
        for index in indices:
            delivery = deliveries[index]
            recipient = delivery.recipient
            if delivery.push is not push or recipient.platform is not platform:
                push, platform = delivery.push, recipient.platform  # mostly the same as before
                ready = prepared.get((id(push), platform)) or self._prepare(
                    push, platform, renders, auth_line, now, prepared
                )
            if ready.refused is not None:
                results[index] = ready.refused  # decided before sending: no request is made
                round_.left -= 1
                continue
            token = recipient.token
            if not token.isalnum():
                token = quote(token, safe="")  # tokens are hex; anything else stays one segment
            ident = refs[index] = apns_id(delivery.delivery_id)
            # Tuples of str and bytes only: the collector untracks them at its first look
            # (a list would stay tracked, and be scanned, until sent).
            lines: tuple[str | bytes, ...] = (*ready.lines, "apns-id: " + ident)
            queues[recipient.sandbox].append(
                (devices[recipient.sandbox] + token, lines, ready.body, index)
            )
        return {sandbox: queue for sandbox, queue in enumerate(queues) if queue}

    def _prepare(
        self,
        push: Push,
        platform: Platform,
        renders: dict[tuple[int, Platform], Rendering],
        auth_line: bytes | None,
        now: float,
        prepared: dict[tuple[int, Platform], _Prepared],
    ) -> _Prepared:
        # Pushes are shared by many deliveries: render once per (Push, platform) and batch.
        key = (id(push), platform)
        rendering = renders.get(key)
        if rendering is None:
            rendering = render(push.content, push.options, platform, self._topic)
            renders[key] = rendering
        if rendering.too_large:
            ready = _Prepared((), b"", TOO_LARGE)  # the limit is checked before sending
        elif rendering.expires_at <= now:
            ready = _Prepared((), b"", EXPIRED)
        else:
            lines = [line.encode() for line in rendering.headers]
            if auth_line is not None:
                lines.append(auth_line)
            ready = _Prepared(tuple(lines), rendering.body, None)
        prepared[key] = ready
        return ready

    async def aclose(self) -> None:
        """Close every connection; sends still open end as RETRY results."""
        self._closed = True
        transports = list(self._transports.values())
        self._transports.clear()
        for transport in transports:
            await transport.aclose()


class _Prepared:
    """What every send of one (Push, platform) in a round shares, or its refusal."""

    __slots__ = ("body", "lines", "refused")

    def __init__(self, lines: tuple[bytes, ...], body: bytes, refused: SendResult | None) -> None:
        self.lines = lines  # header lines but apns-id: the rendering's and authorization
        self.body = body
        self.refused = refused  # too large or expired: the result, and nothing is sent


def _origin_of(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def _path_of(base_url: str) -> str:
    return urlsplit(base_url).path.rstrip("/")  # a base URL may carry a path (a proxy's)


def _finish(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


def result_of_closed() -> SendResult:
    return SendResult(TIMEOUT.outcome, TIMEOUT.code, CLOSED, unsent=True)


def render_push(push: Push, _platform: Platform) -> bytes:
    """ProviderKind.render: the JSON body APNs gets (its limit: payload_limit)."""
    return render_body(push.content)


def apns_kind(*, clock: Callable[[], float] = time.time) -> ProviderKind:
    """The registry entry for APNs; every adapter it builds shares one token per key."""
    tokens = ProviderTokens(clock)

    def build(credential: ProviderCredential | None, options: ProviderOptions) -> Provider:
        if credential is None:
            raise ValueError("the APNs adapter needs the app's APNs credential")
        return ApnsProvider(credential, options, tokens=tokens, clock=clock)

    return ProviderKind("apns", True, render_push, payload_limit, build)
