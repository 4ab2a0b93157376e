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
import contextlib
import hashlib
import json
import secrets
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config
from hypercorn.typing import ASGIFramework
from hypercorn.utils import wrap_app

from pushgate.fakes.behaviour import SLOW_DELAY_S, Behaviours, ServerPlan, TokenBehaviour
from pushgate.fakes.inbox import Inbox, Received
from pushgate.fakes.tls import FakeCertificates
from pushgate.fakes.webpush_checks import MAX_BODY, Refusal, check_headers, check_vapid

PROVIDER = "webpush"
MAX_TTL_S = 28 * 24 * 3600  # the TTL the fake stores at most, echoed back (RFC 8030 5.2)
SHUTDOWN_GRACE_S = 1.0
_READ_LIMIT = 64 * 1024  # past this the rest of an oversized body is not read

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Answer = tuple[int, list[tuple[str, str]], bytes]


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


class FakeWebPush:
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
        self._certs = certs
        self.inbox = inbox
        self.behaviours = Behaviours(plan or ServerPlan())
        self._clock = clock
        self._requested_port = port
        self._browsers: dict[str, _Browser] = {}
        self._closing = asyncio.Event()
        self._context = WorkerContext(None)
        self._writers: set[asyncio.StreamWriter] = set()
        self._connections: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0
        self._attempted = asyncio.Condition()  # notified on every request to a subscription
        self.in_flight = 0  # requests being answered now, and the most at once (bound tests)
        self.peak_in_flight = 0
        self.http_versions: Counter[str] = Counter()  # "1.1", "2": which protocol clients used

    @property
    def plan(self) -> ServerPlan:
        return self.behaviours.plan

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    async def __aenter__(self) -> FakeWebPush:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self._requested_port))
        self.port = listener.getsockname()[1]
        config = Config()
        config.accesslog = None
        config.loglevel = "WARNING"
        # ServerPlan as read at start: hypercorn sends GOAWAY after keep_alive_max_requests
        # streams (its default, 1000, would otherwise cut long benchmark connections), and
        # advertises h2_max_concurrent_streams (it cannot change it later: initial_max_streams
        # is not honoured here, only by the raw-h2 APNs fake).
        plan = self.behaviours.plan
        config.keep_alive_max_requests = plan.goaway_after_streams or 1_000_000_000
        config.h2_max_concurrent_streams = plan.max_streams
        app = wrap_app(cast(ASGIFramework, self), config.wsgi_max_body_size, "asgi")
        loop = asyncio.get_running_loop()

        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.add(writer)
            task = asyncio.current_task()
            if task is not None:
                self._connections.add(task)
            try:
                # A client that vanishes mid-answer makes hypercorn's task group fail (TLS
                # errors after close_notify) and cancel this task: that is the client's
                # problem, not the fake's, so it ends the connection quietly.
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await TCPServer(app, loop, config, self._context, {}, reader, writer)
            finally:
                self._writers.discard(writer)
                self._connections.discard(task)

        # hypercorn's protocol layer (HTTP/1.1 and h2) on our own listener, rather than its
        # worker_serve: that one waits 30 s for each idle client's TLS close_notify at shutdown.
        self._server = await asyncio.start_server(
            connected,
            sock=listener,
            ssl=self._certs.server_context(alpn=("h2", "http/1.1")),
            ssl_shutdown_timeout=SHUTDOWN_GRACE_S,
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        """Stop accepting, end slow answers, then drop the connections clients keep open."""
        self._closing.set()
        if self._server is None:
            return
        self._server.close()
        await self._context.terminated.set()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=SHUTDOWN_GRACE_S)
        await self._server.wait_closed()

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

    # ASGI application ---------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.http_versions[str(scope.get("http_version", ""))] += 1
        body = await _read_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client") or ("", 0)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            status, reply_headers, reply = await self._answer(
                scope["method"], scope["path"], headers, body, int(client[1])
            )
        finally:
            self.in_flight -= 1
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in reply_headers],
            }
        )
        await send({"type": "http.response.body", "body": reply})

    async def _answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None, conn: int
    ) -> Answer:
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
            await self._pause(plan.delay_s)
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

    async def _behave(self, sub_id: str) -> Answer | None:
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
            await self._pause(SLOW_DELAY_S)
        return None

    def _accept(self, browser: _Browser, headers: dict[str, str], body: bytes, conn: int) -> Answer:
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
        return 201, [("location", location), ("ttl", str(ttl))], b""

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)


def _refuse(refusal: Refusal, extra: list[tuple[str, str]] | None = None) -> Answer:
    body = json.dumps({"reason": refusal.reason}).encode()
    headers = [("content-type", "application/json"), *(extra or [])]
    return refusal.status, headers, body


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


async def _read_body(receive: Receive) -> bytes | None:
    """The request body, or None when it is longer than the fake reads (then it is a 413)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > _READ_LIMIT:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
