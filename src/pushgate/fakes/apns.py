"""Fake APNs: a raw `h2` server on asyncio over TLS (ALPN h2 only), providers.md section 6.

Two listeners, production (`url`) and sandbox (`sandbox_url`, which also answers
`apns-unique-id` like Apple's development host). Every request goes through the checks of
providers.md section 6 in order (fakes/apns_checks.py), then the token-prefix behaviours of
fakes/behaviour.py, and what is accepted lands in the Inbox. Why raw h2 and not an ASGI
server: SETTINGS and GOAWAY must be scripted, and an error answer must be HEADERS + exactly
one DATA frame (hypercorn adds an empty one that aioapns cannot parse).

Connection behaviour (ServerPlan, mutable while running): SETTINGS_MAX_CONCURRENT_STREAMS
starts at `initial_max_streams` and is raised to `max_streams` once a valid provider token
(or client certificate) was seen on the connection, like APNs; a stream opened beyond the
advertised limit is refused with RST_STREAM(REFUSED_STREAM), as RFC 9113 5.1.2 allows.
`goaway_after_streams`: after that many streams a GOAWAY {"reason": "Shutdown"} names the
last one processed; later streams are never processed (the client must resend them), and
the connection closes once the processed ones are answered. `reset_after_streams`: the
stream after that many aborts the TCP connection with a RST (what was in flight is lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from types import TracebackType
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.fakes.apns_checks import (
    PRODUCTION,
    SANDBOX,
    ApnsKey,
    Refusal,
    TokenVerifier,
    check_body,
    check_headers,
    is_hex_token,
    load_public_key,
)
from pushgate.fakes.apns_connection import ApnsConnection, Stream
from pushgate.fakes.behaviour import SLOW_DELAY_S, Behaviours, ServerPlan, TokenBehaviour
from pushgate.fakes.inbox import Inbox, Received, utc_now
from pushgate.fakes.tls import FakeCertificates

_RECORDED_HEADERS_SKIPPED = (b"authorization",)  # a provider token is a secret

# Scripted whole-server statuses (ServerPlan.fail_status) and the reason APNs gives for each.
_STATUS_REASONS = {
    400: "BadDeviceToken",
    403: "Forbidden",
    410: "Unregistered",
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceUnavailable",
}


class FakeApns:
    """`async with FakeApns(certs, inbox, keys=..., topics=...) as fake:` -> fake.url."""

    def __init__(
        self,
        certs: FakeCertificates,
        inbox: Inbox,
        *,
        keys: Iterable[ApnsKey] = (),
        topics: Iterable[str] = (),
        plan: ServerPlan | None = None,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
    ) -> None:
        self.inbox = inbox
        self.plan = plan or ServerPlan()
        self.behaviours = Behaviours(self.plan)
        self.topics = frozenset(topics)
        self.verifier = TokenVerifier(clock)
        self._clock = clock
        self._certs = certs
        self._host = host
        self._servers: dict[str, asyncio.Server] = {}
        self.connections: set[ApnsConnection] = set()
        self._all_closed = asyncio.Event()
        self.opened_connections = 0
        self.max_connections_open = 0  # most connections open at one time
        self.closed_connections = 0
        self.refused_streams = 0
        self.max_open_streams = 0
        self.goaways_sent = 0
        self.resets_sent = 0
        self.accepted_by_environment: Counter[str] = Counter()
        self.certificate_names: list[str] = []
        # Tokens answered 410 ExpiredToken (no prefix in fakes/behaviour.py names this case).
        self.expired_tokens: set[str] = set()  # client certificates seen, one per connection
        for key in keys:
            self.verifier.add_key(key)

    # -- control --------------------------------------------------------------------------

    def add_key(
        self,
        key_id: str,
        team_id: str,
        public_key: ec.EllipticCurvePublicKey | bytes | str,
        environment: str | None = None,
    ) -> None:
        """Accept tokens signed by this key (PEM or key object); environment None = both."""
        self.verifier.add_key(ApnsKey(key_id, team_id, load_public_key(public_key), environment))

    def add_topic(self, topic: str) -> None:
        self.topics = self.topics | {topic}

    @property
    def url(self) -> str:
        return self._url(PRODUCTION)

    @property
    def sandbox_url(self) -> str:
        return self._url(SANDBOX)

    def _url(self, environment: str) -> str:
        port = self._servers[environment].sockets[0].getsockname()[1]
        return f"https://{self._host}:{port}"

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> FakeApns:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self, port: int = 0, sandbox_port: int = 0) -> None:
        loop = asyncio.get_running_loop()
        context = self._certs.server_context(("h2",))
        self._certs.trust_client_certificates(context)  # certificate auth (providers.md 1.5)
        for environment, wanted in ((PRODUCTION, port), (SANDBOX, sandbox_port)):
            self._servers[environment] = await loop.create_server(
                lambda env=environment: self._connection(env),  # type: ignore[misc]
                self._host,
                wanted,
                ssl=context,
            )

    def _connection(self, environment: str) -> ApnsConnection:
        self.opened_connections += 1
        return ApnsConnection(self, environment, self.opened_connections)

    async def aclose(self) -> None:
        for server in self._servers.values():
            server.close()
        for connection in list(self.connections):
            connection.abort()
        for server in self._servers.values():
            await server.wait_closed()
        # connection_lost runs on a later loop turn; bounded, so a stuck peer cannot hang us.
        if self.connections:
            self._all_closed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_closed.wait(), 5)

    def connection_gone(self, connection: ApnsConnection) -> None:
        self.connections.discard(connection)
        self.closed_connections += 1
        if not self.connections:
            self._all_closed.set()

    # -- one request ----------------------------------------------------------------------

    def handle(self, connection: ApnsConnection, stream_id: int, stream: Stream) -> None:
        """Check one complete request and answer it, now or after its scripted delay."""
        headers: dict[bytes, bytes] = {}
        duplicate = False
        for name, value in stream.headers:
            if name in headers:
                duplicate = True
            headers[name] = value
        outcome = self._evaluate(connection, headers, stream.body, duplicate)
        apns_id = headers.get(b"apns-id") or str(uuid.uuid4()).encode()
        if isinstance(outcome, Refusal):
            reply = [(b":status", str(outcome.status).encode()), (b"apns-id", apns_id)]
            if outcome.retry_after is not None:
                reply.append((b"retry-after", outcome.retry_after.encode()))
            self._reply_after(self.plan.delay_s, connection, stream_id, reply, outcome.body())
            return
        token, payload, delay = outcome
        reply = [(b":status", b"200"), (b"apns-id", apns_id)]
        if connection.environment == SANDBOX:
            reply.append((b"apns-unique-id", str(uuid.uuid4()).encode()))
        accepted = Received("apns", token, _kept(headers), payload, utc_now(), connection.number)
        self._reply_after(delay, connection, stream_id, reply, b"", accepted, apns_id)

    def _reply_after(
        self,
        delay: float,
        connection: ApnsConnection,
        stream_id: int,
        reply: list[tuple[bytes, bytes]],
        body: bytes,
        accepted: Received | None = None,
        apns_id: bytes = b"",
    ) -> None:
        if delay > 0:
            asyncio.get_running_loop().call_later(
                delay, self._reply, connection, stream_id, reply, body, accepted, apns_id, True
            )
        else:
            self._reply(connection, stream_id, reply, body, accepted, apns_id, False)

    def _reply(
        self,
        connection: ApnsConnection,
        stream_id: int,
        reply: list[tuple[bytes, bytes]],
        body: bytes,
        accepted: Received | None,
        apns_id: bytes,
        flush: bool,
    ) -> None:
        # A notification counts as delivered only if its stream is still open when answered:
        # a client that gave up on a slow answer reset the stream (5105 tokens).
        if not connection.answer(stream_id, reply, body):
            return
        if accepted is not None:
            self.inbox.record(replace(accepted, message_id=apns_id.decode("latin-1")))
            self.accepted_by_environment[connection.environment] += 1
        if flush:
            connection.flush()

    def _evaluate(
        self, connection: ApnsConnection, headers: dict[bytes, bytes], body: bytes, duplicate: bool
    ) -> Refusal | tuple[str, Any, float]:
        # 1. method, path, duplicates
        if headers.get(b":method") != b"POST":
            return Refusal(405, "MethodNotAllowed")
        path = headers.get(b":path", b"")
        if not path.startswith(b"/3/device/"):
            return Refusal(404, "BadPath")
        token = path[10:].decode("latin-1")
        if not token:
            return Refusal(400, "MissingDeviceToken")
        self.inbox.attempts[token] += 1
        if duplicate:
            return Refusal(400, "DuplicateHeaders")
        # 2. authentication: a client certificate, else the provider token
        refusal = self._authenticate(connection, headers)
        if refusal is not None:
            return refusal
        connection.raise_limit()
        # 3. headers, 4. body
        topics = self.topics
        if connection.certificate_name is not None:
            # A certificate covers the topic it was issued for (its subject names the bundle).
            name = connection.certificate_name
            topics = frozenset({name}) if name in self.topics else frozenset()
        reason = check_headers(headers, topics)
        if reason is not None:
            return Refusal(400, reason)
        refused, payload = check_body(body, headers.get(b"apns-push-type", b"alert"))
        if refused is not None:
            return refused
        # 5. the device, the scripted plan, the token's behaviour
        return self._device(token, payload)

    def _authenticate(
        self, connection: ApnsConnection, headers: dict[bytes, bytes]
    ) -> Refusal | None:
        if connection.certificate_name is not None:
            return None
        authorization = headers.get(b"authorization")
        if authorization is None:
            return Refusal(403, "MissingProviderToken")
        if authorization[:7].lower() != b"bearer ":
            return Refusal(403, "InvalidProviderToken")
        verdict = self.verifier.check(authorization[7:].strip(), connection.environment)
        if isinstance(verdict, str):
            status = 429 if verdict == "TooManyProviderTokenUpdates" else 403
            return Refusal(status, verdict)
        if connection.bound_key is None:
            connection.bound_key = verdict.key_id
        elif connection.bound_key != verdict.key_id:
            return Refusal(403, "UnrelatedKeyIdInToken")
        return None

    def _device(self, token: str, payload: Any) -> Refusal | tuple[str, Any, float]:
        if not is_hex_token(token):
            return Refusal(400, "BadDeviceToken")
        plan = self.plan
        if plan.fail_status is not None:
            reason = _STATUS_REASONS.get(plan.fail_status, "InternalServerError")
            return Refusal(plan.fail_status, reason, plan.fail_retry_after)
        if token in self.expired_tokens:
            return Refusal(410, "ExpiredToken", timestamp_ms=int(self._clock() * 1000))
        behaviour = self.behaviours.decide(token)
        if behaviour is TokenBehaviour.DEAD:
            return Refusal(410, "Unregistered", timestamp_ms=int(self._clock() * 1000))
        if behaviour is TokenBehaviour.BAD:
            return Refusal(400, "BadDeviceToken")
        if behaviour is TokenBehaviour.RATE_LIMITED_ONCE:
            return Refusal(429, "TooManyRequests", retry_after="1")
        if behaviour is TokenBehaviour.SERVER_ERROR_ONCE:
            return Refusal(500, "InternalServerError")
        delay = plan.delay_s + (SLOW_DELAY_S if behaviour is TokenBehaviour.SLOW else 0.0)
        return token, payload, delay


def _kept(headers: dict[bytes, bytes]) -> dict[str, str]:
    """The headers recorded in the Inbox: no pseudo-headers, no provider token (a secret)."""
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in headers.items()
        if not name.startswith(b":") and name not in _RECORDED_HEADERS_SKIPPED
    }
