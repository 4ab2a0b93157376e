"""Fake FCM HTTP v1 with its OAuth token endpoint, on hypercorn over TLS (h2 and HTTP/1.1).

providers.md section 6 "FCM": `POST /token` is Google's service-account grant (fcm_oauth.py);
`POST /v1/projects/{p}/messages:send` checks the bearer (401 without FcmError), the project
(403 without FcmError), the message (400 INVALID_ARGUMENT, fcm_rules.py), then answers by
token prefix (behaviour.py) or scripted per-token error, and records what it accepted.
hypercorn serves it: FCM needs no frame-level control, unlike the APNs fake.

Not served: the topic-management APIs of providers.md 2.6 (nothing calls them yet), and the
ServerPlan fields that need frame or socket control (streams, GOAWAY, resets).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import socket
import ssl
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config, Sockets
from hypercorn.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Scope,
)

from pushgate.fakes.behaviour import SLOW_DELAY_S, Behaviours, ServerPlan, TokenBehaviour
from pushgate.fakes.fcm_oauth import TokenIssuer
from pushgate.fakes.fcm_rules import (
    STATUS_ERROR_CODES,
    TOKEN_INVALID,
    Violation,
    check_request,
    fcm_error,
    rpc_error,
)
from pushgate.fakes.inbox import Inbox, Received, utc_now
from pushgate.fakes.tls import FakeCertificates

Json = dict[str, Any]
_SEND_PATH = re.compile(r"^/v1/projects/([^/]+)/messages:send$")
MAX_REQUEST_BYTES = 1024 * 1024  # [fake-policy] bigger requests get 413 unread
_UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential."
)


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: Json
    headers: list[tuple[str, str]] = field(default_factory=list)


class _TlsConfig(Config):
    """hypercorn's config, serving a socket we bound (so the port is known) with our context."""

    def __init__(self, context: ssl.SSLContext, sock: socket.socket) -> None:
        self._context = context
        self._socket = sock
        self.graceful_timeout = 1.0  # tests end quickly; the slow answers are cut at shutdown
        # hypercorn closes a connection after 1000 requests by default; FCM keeps it open.
        self.keep_alive_max_requests = 2**62
        self.h2_max_concurrent_streams = 100  # what Google's front end advertises [rep]
        self.loglevel = "WARNING"

    @property
    def ssl_enabled(self) -> bool:
        return True

    def create_ssl_context(self) -> ssl.SSLContext:
        return self._context

    def create_sockets(self) -> Sockets:
        return Sockets(secure_sockets=[self._socket], insecure_sockets=[], quic_sockets=[])


class FakeFcm:
    """`async with FakeFcm(certs, inbox) as fake:` serves on `fake.url` until the block ends."""

    def __init__(
        self,
        certs: FakeCertificates,
        inbox: Inbox,
        plan: ServerPlan | None = None,
        *,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._certs = certs
        self.inbox = inbox
        self.plan = plan or ServerPlan()
        self.behaviours = Behaviours(self.plan)
        self.tokens = TokenIssuer(lambda: f"{self.url}/token", clock)
        self._host, self._port = host, port
        # Scripted per-token answers: token -> FcmError errorCode (e.g. THIRD_PARTY_AUTH_ERROR).
        self.token_errors: dict[str, str] = {}
        # Tokens registered to a project: sent through another project -> SENDER_ID_MISMATCH.
        self.token_projects: dict[str, str] = {}
        self.reject_access_tokens = False  # every bearer refused: a revoked service account
        self.send_requests = 0
        self.http_versions: Counter[str] = Counter()  # "2", "1.1": what clients negotiated
        self._started = asyncio.Event()
        self._closing = asyncio.Event()
        self._server: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"https://{self._host}:{self._port}"

    @property
    def token_requests(self) -> int:
        """POSTs to the token endpoint so far, granted or refused."""
        return self.tokens.requests

    def service_account(self, project_id: str) -> Json:
        """A service-account JSON for `project_id` whose `token_uri` is this fake, accepted here."""
        return self.tokens.create_account(project_id)

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working (answers 401 without FcmError)."""
        self.tokens.expire_all()

    async def __aenter__(self) -> FakeFcm:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        sock.listen(256)
        sock.setblocking(False)
        self._socket = sock
        self._port = sock.getsockname()[1]
        config = _TlsConfig(self._certs.server_context(("h2", "http/1.1")), sock)
        self._server = asyncio.create_task(
            serve(self._asgi, config, shutdown_trigger=self._closing.wait)
        )
        started = asyncio.create_task(self._started.wait())
        await asyncio.wait({started, self._server}, return_when=asyncio.FIRST_COMPLETED)
        if self._server.done():
            started.cancel()
            await self._server  # raises why the server did not start
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing.set()
        if self._server is not None:
            await self._server
        if self._socket is not None:
            self._socket.close()

    async def _asgi(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                self._started.set()
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        self.http_versions[scope["http_version"]] += 1
        body = await _read_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client")
        connection = client[1] if client else 0
        answer = await self._route(scope["method"], scope["path"], headers, body, connection)
        if self._closing.is_set():
            return  # shutting down (a slow answer cut short): hypercorn sends nothing then
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": answer.status,
            "headers": [
                (b"content-type", b"application/json; charset=UTF-8"),
                *((k.encode(), v.encode()) for k, v in answer.headers),
            ],
            "trailers": False,
        }
        await send(start)
        body_event: HTTPResponseBodyEvent = {
            "type": "http.response.body",
            "body": json.dumps(answer.body).encode(),
            "more_body": False,
        }
        await send(body_event)

    async def _route(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None, connection: int
    ) -> _Answer:
        if body is None:
            return _Answer(413, rpc_error(413, "INVALID_ARGUMENT", "Request too large."))
        send_path = _SEND_PATH.fullmatch(path)
        if path != "/token" and send_path is None:
            return _Answer(404, rpc_error(404, "NOT_FOUND", "Requested entity was not found."))
        if method != "POST":
            return _Answer(405, rpc_error(405, "METHOD_NOT_ALLOWED", "Method not allowed."))
        if send_path is None:
            granted = self.tokens.grant(body)
            return _Answer(granted.status, granted.body)
        return await self._send(send_path.group(1), headers, body, connection)

    async def _send(
        self, project: str, headers: dict[str, str], body: bytes, connection: int
    ) -> _Answer:
        self.send_requests += 1
        try:
            request = json.loads(body)
        except ValueError:
            return _Answer(
                400, rpc_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
            )
        message = request.get("message") if isinstance(request, dict) else None
        token = message.get("token") if isinstance(message, dict) else None
        if isinstance(token, str):
            self.inbox.attempts[token] += 1
        refused = self._check_caller(project, headers.get("authorization"))
        if refused is not None:
            return refused
        if self.plan.delay_s:
            await self._pause(self.plan.delay_s)
        if self.plan.fail_status is not None:
            return self._scripted(self.plan.fail_status, self.plan.fail_retry_after)
        violation = check_request(request)
        if violation is not None:
            return _error("INVALID_ARGUMENT", violation.description, violation)
        assert isinstance(message, dict)  # noqa: S101 - check_request refused anything else
        if isinstance(token, str):
            refused = await self._answer_token(token, project)
            if refused is not None:
                return refused
        if request.get("validate_only"):
            # A dry run: FCM validates and answers with this fixed name, delivering nothing.
            return _Answer(200, {"name": f"projects/{project}/messages/fake_message"})
        return self._accept(project, message, headers, connection)

    def _check_caller(self, project: str, authorization: str | None) -> _Answer | None:
        bearer = self.tokens.bearer(authorization)
        if bearer is None or self.reject_access_tokens:
            # Google's front end answers; FCM adds no FcmError detail (providers.md 2.4).
            return _Answer(401, rpc_error(401, "UNAUTHENTICATED", _UNAUTHENTICATED))
        if bearer.project_id != project:
            denied = f"Permission 'cloudmessaging.messages.create' denied on project {project}."
            return _Answer(403, rpc_error(403, "PERMISSION_DENIED", denied))
        return None

    def _scripted(self, status: int, retry_after: str | None) -> _Answer:
        headers = [("retry-after", retry_after)] if retry_after is not None else []
        error_code = STATUS_ERROR_CODES.get(status)
        if error_code is None:
            return _Answer(status, rpc_error(status, "UNKNOWN", "Scripted failure."), headers)
        status, body = fcm_error(error_code)
        return _Answer(status, body, headers)

    async def _answer_token(self, token: str, project: str) -> _Answer | None:
        behaviour = self.behaviours.decide(token)
        scripted = self.token_errors.get(token)
        if scripted is not None:
            return _error(scripted)
        owner = self.token_projects.get(token)
        if owner is not None and owner != project:
            return _error("SENDER_ID_MISMATCH")
        if behaviour is TokenBehaviour.DEAD:
            return _error("UNREGISTERED")
        if behaviour is TokenBehaviour.BAD:
            return _error(
                "INVALID_ARGUMENT", TOKEN_INVALID, Violation("message.token", TOKEN_INVALID)
            )
        if behaviour is TokenBehaviour.RATE_LIMITED_ONCE:
            status, body = fcm_error("QUOTA_EXCEEDED")
            return _Answer(status, body, [("retry-after", "1")])
        if behaviour is TokenBehaviour.SERVER_ERROR_ONCE:
            return _error("INTERNAL")
        if behaviour is TokenBehaviour.SLOW:
            await self._pause(SLOW_DELAY_S)
        return None

    def _accept(
        self, project: str, message: Json, headers: dict[str, str], connection: int
    ) -> _Answer:
        name = f"projects/{project}/messages/0:{time.time_ns()}%{secrets.token_hex(8)}"
        target = message.get("token") or message.get("condition") or f"/topics/{message['topic']}"
        kept = {k: v for k, v in headers.items() if k != "authorization"}  # never keep secrets
        self.inbox.record(
            Received("fcm", target, kept, message, utc_now(), connection, message_id=name)
        )
        return _Answer(200, {"name": name})

    async def _pause(self, seconds: float) -> None:
        """Answer late, but at once when the fake shuts down (no test waits out a slow token)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)


def _error(error_code: str, message: str | None = None, *violations: Violation) -> _Answer:
    status, body = fcm_error(error_code, message=message, violations=violations)
    return _Answer(status, body)


async def _read_body(receive: ASGIReceiveCallable) -> bytes | None:
    """The request body, or None past MAX_REQUEST_BYTES."""
    chunks: list[bytes] = []
    size = 0
    while True:
        event = await receive()
        if event["type"] != "http.request":
            return b"".join(chunks)
        size += len(event["body"])
        if size > MAX_REQUEST_BYTES:
            return None
        chunks.append(event["body"])
        if not event.get("more_body", False):
            return b"".join(chunks)
