"""A small HTTP/1.1 and HTTP/2 server for the fakes that need no frame control.

FCM, Web Push, WNS, SMS and the control API: hypercorn's protocol layer (HTTP/1.1 via h11,
HTTP/2 via h2 when ALPN picks it) serves a tiny ASGI app built from one handler coroutine. The
socket is bound here, so port 0 works and the chosen port is known at once. hypercorn cannot
script SETTINGS or GOAWAY (providers.md section 6): the APNs fake uses raw h2 instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, cast

from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config
from hypercorn.typing import ASGIFramework
from hypercorn.utils import wrap_app

MAX_REQUEST_BYTES = 1024 * 1024  # every fake request is small; a bigger body is refused unread
GRACEFUL_CLOSE_S = 1.0  # bound on a TLS close and on connections ending after an abort
BACKLOG = 256  # connections waiting to be accepted: benchmarks open many at once

_log = logging.getLogger("pushgate.fakes.http")


@dataclass(frozen=True, slots=True)
class FakeRequest:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]  # names lower-cased, in the order received
    body: bytes
    http_version: str = ""  # "1.1" or "2": what the client negotiated
    connection: int = 0  # the client's port: tells its connections apart in an Inbox
    # Longer than the server reads; `body` is empty then (only without a `too_large` answer).
    oversized: bool = False

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)

    def header_count(self, name: str) -> int:
        wanted = name.lower()
        return sum(1 for key, _ in self.headers if key == wanted)

    def authorization(self) -> tuple[str, str]:
        """The Authorization header as (scheme lower-cased, credentials); empty when absent."""
        scheme, _, credentials = (self.header("authorization") or "").partition(" ")
        return scheme.lower(), credentials


@dataclass(frozen=True, slots=True)
class FakeResponse:
    status: int
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""

    @classmethod
    def json(
        cls, status: int, document: Any, headers: Sequence[tuple[str, str]] = ()
    ) -> FakeResponse:
        body = json.dumps(document, separators=(",", ":")).encode()
        return cls(status, [("content-type", "application/json"), *headers], body)


# None: answer nothing (the server is closing and drops the connection).
Handler = Callable[[FakeRequest], Awaitable[FakeResponse | None]]
TOO_LARGE = FakeResponse(413, [("connection", "close")])
_Scope = dict[str, Any]
_Receive = Callable[[], Awaitable[dict[str, Any]]]
_Send = Callable[[dict[str, Any]], Awaitable[None]]


async def _lifespan(receive: _Receive, send: _Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: _Receive, limit: int) -> bytes | None:
    """The whole request body, or None when it exceeds `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _request(scope: _Scope, body: bytes | None) -> FakeRequest:
    client = scope.get("client")
    return FakeRequest(
        scope["method"],
        scope["path"],
        scope.get("query_string", b"").decode("latin-1"),
        [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]],
        b"" if body is None else body,
        http_version=str(scope.get("http_version", "")),
        connection=int(client[1]) if client else 0,
        oversized=body is None,
    )


def asgi_app(
    handler: Handler,
    *,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    too_large: FakeResponse | None = TOO_LARGE,
) -> Callable[[_Scope, _Receive, _Send], Awaitable[None]]:
    """An ASGI app answering every HTTP request with `handler`.

    A body over `max_request_bytes` is answered `too_large` without calling the handler, or,
    when that is None, handed to the handler as an empty, `oversized` request.
    """

    async def app(scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await _read_body(receive, max_request_bytes)
        if body is None and too_large is not None:
            response: FakeResponse | None = too_large
        else:
            response = await handler(_request(scope, body))
        if response is None:
            return
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        if not any(k.lower() == "content-length" for k, _ in response.headers):
            headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    return app


class FakeHttpServer:
    """One listening socket on loopback; each connection is served by hypercorn's TCPServer.

    Serving connections here rather than through hypercorn's worker_serve bounds closing: a
    client that keeps an idle TLS connection open would hold worker_serve for the 30 s SSL
    shutdown timeout (observed), so aclose() aborts every connection still open instead.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        ssl_context: ssl.SSLContext | None,
        host: str = "127.0.0.1",
        port: int = 0,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        too_large: FakeResponse | None = TOO_LARGE,
        keep_alive_max_requests: int = 1000,  # then hypercorn ends the connection (GOAWAY)
        h2_max_concurrent_streams: int = 100,  # advertised in SETTINGS, fixed once started
    ) -> None:
        app = asgi_app(handler, max_request_bytes=max_request_bytes, too_large=too_large)
        self._app = wrap_app(cast(ASGIFramework, app), max_request_bytes, "asgi")
        # Read by start(): a fake may set them from its plan until then.
        self.keep_alive_max_requests = keep_alive_max_requests
        self.h2_max_concurrent_streams = h2_max_concurrent_streams
        self._context = ssl_context
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._server: asyncio.Server | None = None
        self._worker = WorkerContext(None)
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self.closing = asyncio.Event()  # set when aclose() starts: slow answers end early

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def url(self) -> str:
        scheme = "https" if self._context is not None else "http"
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{scheme}://{host}:{self.port}"

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if ":" in self._host else socket.AF_INET)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._requested_port))
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        return sock

    async def start(self) -> None:
        sock = self._bind()
        self._port = sock.getsockname()[1]
        config = Config()
        config.errorlog = _log
        config.keep_alive_max_requests = self.keep_alive_max_requests
        config.h2_max_concurrent_streams = self.h2_max_concurrent_streams
        loop = asyncio.get_running_loop()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None  # noqa: S101 - a connection callback runs in a task
            self._connections[task] = writer
            # Answers go out as separate writes (headers, body): without TCP_NODELAY each
            # waits for the peer's delayed ACK, 40 ms a request here (measured).
            with suppress(OSError):
                writer.get_extra_info("socket").setsockopt(
                    socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
                )
            try:
                # Closing a TLS connection whose peer is gone times out or fails, and a client
                # that vanishes mid-answer makes hypercorn's task group fail (TLS errors after
                # close_notify) and cancel this task: the client's problem, not the fake's.
                with suppress(Exception, asyncio.CancelledError):
                    await TCPServer(self._app, loop, config, self._worker, {}, reader, writer)
            finally:
                self._connections.pop(task, None)

        tls: dict[str, Any] = {}
        if self._context is not None:
            tls = {"ssl": self._context, "ssl_shutdown_timeout": GRACEFUL_CLOSE_S}
        try:
            self._server = await asyncio.start_server(serve, sock=sock, backlog=BACKLOG, **tls)
        except BaseException:
            sock.close()
            raise

    async def pause(self, seconds: float) -> None:
        """Wait `seconds` (a scripted slow answer), ending early when the server closes."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), seconds)

    async def aclose(self) -> None:
        self.closing.set()
        await self._worker.terminated.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._connections.values()):
            writer.transport.abort()
        tasks = list(self._connections)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=GRACEFUL_CLOSE_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


class ServedFake:
    """A fake served by one FakeHttpServer: `async with fake:` serves it on `fake.url`."""

    _server: FakeHttpServer

    async def __aenter__(self) -> Self:
        await self._server.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._server.aclose()

    @property
    def url(self) -> str:
        return self._server.url
