"""Fake Web Push service: a push service and the browsers subscribed to it (providers.md 6).

`subscribe()` plays the browser: it makes a P-256 key pair and a 16-byte auth secret and an
endpoint `https://127.0.0.1:<port>/wp/<id>`, optionally restricted to an applicationServerKey.
A POST to the endpoint is checked as a push service must (webpush_checks.py: TTL, Urgency,
Topic, Content-Encoding, 4096 bytes, VAPID signature, key, aud, exp, sub) and then decrypted
with the browser's private key (RFC 8291): a wrong encryption is a 400, the proof it is right.
Accepted: 201 + Location + TTL, and the plaintext is recorded in the Inbox with provider
"webpush" and token = the endpoint URL (what a registration stores, so ledgers compare).

Behaviour per subscription comes from its id's prefix (fakes/behaviour.py): subscribe with
`behaviour=TokenBehaviour.DEAD` gets an id `dead...` (410), BAD `bad...` (404), `429...` (429
once with Retry-After: 1), `500...` (500 once), `5105...` (answers after 5 s); plain ids start
with `ok`, so a random id never hits a prefix. ServerPlan.fail_status scripts every answer
(406, 503...). Served by hypercorn over TLS with ALPN h2 and http/1.1.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.fakes.behaviour import SLOW_DELAY_S, Behaviours, ServerPlan, TokenBehaviour
from pushgate.fakes.http_server import FakeHttpServer, FakeRequest, FakeResponse, ServedFake
from pushgate.fakes.inbox import Inbox, Received
from pushgate.fakes.tls import FakeCertificates
from pushgate.fakes.webpush_checks import MAX_BODY, Refusal, check_headers, check_vapid

PROVIDER = "webpush"
MAX_TTL_S = 28 * 24 * 3600  # the TTL the fake stores at most, echoed back (RFC 8030 5.2)
_READ_LIMIT = 64 * 1024  # past this the rest of an oversized body is not read


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class Subscription:
    """What a browser's PushManager.subscribe() hands the application (keys base64url)."""

    id: str
    endpoint: str
    p256dh: str
    auth: str
    application_server_key: str | None = None


@dataclass(slots=True)
class _Browser:
    subscription: Subscription
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    auth_secret: bytes = field(repr=False)
    plaintexts: list[bytes] = field(default_factory=list)
    unsubscribed: bool = False


class FakeWebPush(ServedFake):
    """`async with FakeWebPush(certs, inbox) as fake:`, then `fake.subscribe()`."""

    def __init__(
        self,
        certs: FakeCertificates,
        inbox: Inbox,
        *,
        plan: ServerPlan | None = None,
        clock: Callable[[], float] = time.time,
        port: int = 0,
    ) -> None:
        self.inbox = inbox
        self.behaviours = Behaviours(plan or ServerPlan())
        self._clock = clock
        self._browsers: dict[str, _Browser] = {}
        self._server = FakeHttpServer(
            self._handle,
            ssl_context=certs.server_context(alpn=("h2", "http/1.1")),
            port=port,
            max_request_bytes=_READ_LIMIT,
            too_large=None,  # checked in order, as a push service does: see _answer
        )
        self._attempted = asyncio.Condition()  # notified on every request to a subscription
        self.in_flight = 0  # requests being answered now, and the most at once (bound tests)
        self.peak_in_flight = 0
        self.http_versions: Counter[str] = Counter()  # "1.1", "2": which protocol clients used

    @property
    def plan(self) -> ServerPlan:
        return self.behaviours.plan

    async def __aenter__(self) -> Self:
        # ServerPlan as read at start: hypercorn sends GOAWAY after keep_alive_max_requests
        # streams (its default, 1000, would otherwise cut long benchmark connections), and
        # advertises h2_max_concurrent_streams (it cannot change it later: initial_max_streams
        # is not honoured here, only by the raw-h2 APNs fake).
        plan = self.behaviours.plan
        self._server.keep_alive_max_requests = plan.goaway_after_streams or 1_000_000_000
        self._server.h2_max_concurrent_streams = plan.max_streams
        return await super().__aenter__()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def subscribe(
        self,
        application_server_key: str | None = None,
        *,
        behaviour: TokenBehaviour = TokenBehaviour.ACCEPT,
    ) -> Subscription:
        """A new browser subscription; restricted to `application_server_key` when given."""
        prefix = "ok" if behaviour is TokenBehaviour.ACCEPT else behaviour.value
        sub_id = prefix + secrets.token_hex(12)
        private_key = ec.generate_private_key(ec.SECP256R1())
        public = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        auth_secret = secrets.token_bytes(16)
        subscription = Subscription(
            sub_id,
            f"{self.origin}/wp/{sub_id}",
            _b64url(public),
            _b64url(auth_secret),
            application_server_key,
        )
        self._browsers[sub_id] = _Browser(subscription, private_key, auth_secret)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """The browser drops the subscription: later pushes get 410 Gone."""
        self._browsers[subscription.id].unsubscribed = True

    async def wait_for_attempts(
        self, subscription: Subscription, count: int = 1, *, timeout_s: float = 10.0
    ) -> None:
        """Return once `count` requests reached this subscription (TimeoutError after timeout_s)."""
        endpoint = subscription.endpoint
        async with asyncio.timeout(timeout_s), self._attempted:
            await self._attempted.wait_for(lambda: self.inbox.attempts[endpoint] >= count)

    def plaintexts(self, subscription: Subscription) -> list[bytes]:
        """Every plaintext this subscription's browser decrypted, oldest first."""
        return list(self._browsers[subscription.id].plaintexts)

    # HTTP ---------------------------------------------------------------------------------

    async def _handle(self, request: FakeRequest) -> FakeResponse:
        self.http_versions[request.http_version] += 1
        body = None if request.oversized else request.body
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return await self._answer(
                request.method, request.path, dict(request.headers), body, request.connection
            )
        finally:
            self.in_flight -= 1

    async def _answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None, conn: int
    ) -> FakeResponse:
        browser = self._browsers.get(path.removeprefix("/wp/")) if path.startswith("/wp/") else None
        if browser is None:
            return _refuse(Refusal(404, "NotFound"))  # unknown subscription (RFC 8030 7.3)
        if method != "POST":
            return _refuse(Refusal(405, "MethodNotAllowed"))
        endpoint = browser.subscription.endpoint
        self.inbox.attempts[endpoint] += 1
        async with self._attempted:
            self._attempted.notify_all()
        plan = self.behaviours.plan
        if plan.delay_s:
            await self._server.pause(plan.delay_s)
        if plan.fail_status is not None:
            extra = [("retry-after", plan.fail_retry_after)] if plan.fail_retry_after else []
            return _refuse(Refusal(plan.fail_status, "Scripted"), extra)
        if browser.unsubscribed:
            return _refuse(Refusal(410, "Unsubscribed"))
        refusal = check_headers(headers, MAX_BODY + 1 if body is None else len(body))
        if refusal is None:
            refusal = check_vapid(
                headers.get("authorization"),
                origin=self.origin,
                restricted_key=browser.subscription.application_server_key,
                now=self._clock(),
            )
        if refusal is not None:
            return _refuse(refusal)
        assert body is not None  # noqa: S101 - check_headers refused an oversized body
        scripted = await self._behave(browser.subscription.id)
        if scripted is not None:
            return scripted
        return self._accept(browser, headers, body, conn)

    async def _behave(self, sub_id: str) -> FakeResponse | None:
        behaviour = self.behaviours.decide(sub_id)
        if behaviour is TokenBehaviour.DEAD:
            return _refuse(Refusal(410, "Gone"))
        if behaviour is TokenBehaviour.BAD:
            return _refuse(Refusal(404, "NotFound"))
        if behaviour is TokenBehaviour.RATE_LIMITED_ONCE:
            return _refuse(Refusal(429, "TooManyRequests"), [("retry-after", "1")])
        if behaviour is TokenBehaviour.SERVER_ERROR_ONCE:
            return _refuse(Refusal(500, "InternalServerError"))
        if behaviour is TokenBehaviour.SLOW:
            await self._server.pause(SLOW_DELAY_S)
        return None

    def _accept(
        self, browser: _Browser, headers: dict[str, str], body: bytes, conn: int
    ) -> FakeResponse:
        plaintext = b""
        if body:
            try:
                plaintext = http_ece.decrypt(
                    body,
                    private_key=browser.private_key,
                    auth_secret=browser.auth_secret,
                    version="aes128gcm",
                )
            except Exception:  # http_ece raises ECEException, ValueError, struct.error...
                return _refuse(Refusal(400, "DecryptionFailed"))
        browser.plaintexts.append(plaintext)
        message_id = secrets.token_hex(8)
        ttl = min(int(headers["ttl"]), MAX_TTL_S)
        self.inbox.record(
            Received(
                PROVIDER,
                browser.subscription.endpoint,
                _recorded_headers(headers),
                _payload(plaintext),
                datetime.fromtimestamp(self._clock(), UTC),
                connection=conn,
                message_id=message_id,
            )
        )
        location = f"{self.origin}/m/{message_id}"
        return FakeResponse(201, [("location", location), ("ttl", str(ttl))])


def _refuse(refusal: Refusal, extra: list[tuple[str, str]] | None = None) -> FakeResponse:
    body = json.dumps({"reason": refusal.reason}).encode()
    headers = [("content-type", "application/json"), *(extra or [])]
    return FakeResponse(refusal.status, headers, body)


def _recorded_headers(headers: dict[str, str]) -> dict[str, str]:
    """The request headers, the VAPID JWT replaced by a fingerprint (never stored, see S5)."""
    recorded = dict(headers)
    authorization = recorded.get("authorization")
    if authorization is not None:
        digest = hashlib.sha256(authorization.encode()).hexdigest()[:16]
        key = authorization.rpartition("k=")[2]
        recorded["authorization"] = f"vapid t=sha256:{digest}, k={key}"
    return recorded


def _payload(plaintext: bytes) -> Any:
    """The decrypted JSON for the device simulator; other bytes as text."""
    try:
        return json.loads(plaintext)
    except ValueError:
        return plaintext.decode("utf-8", "replace")
