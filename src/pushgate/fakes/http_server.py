"""A small HTTP/1.1 and HTTP/2 server for fakes that need no frame control (WNS, SMS, control).

hypercorn serves a tiny ASGI app built from one handler coroutine. The socket is bound here,
before hypercorn starts, so port 0 works and the chosen port is known at once; connections made
before hypercorn accepts wait in the listen backlog, so no readiness wait is needed. hypercorn
cannot script SETTINGS or GOAWAY (providers.md section 6): the APNs fake uses raw h2 instead.
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
from typing import Any, cast

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.typing import ASGIFramework
from hypercorn.utils import wrap_app

MAX_REQUEST_BYTES = 1024 * 1024  # every fake request is small; a bigger body is refused unread
GRACEFUL_CLOSE_S = 1.0  # how long closing waits for answers still being written

_log = logging.getLogger("pushgate.fakes.http")


@dataclass(frozen=True, slots=True)
class FakeRequest:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]  # names lower-cased, in the order received
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)

    def header_count(self, name: str) -> int:
        wanted = name.lower()
        return sum(1 for key, _ in self.headers if key == wanted)


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


Handler = Callable[[FakeRequest], Awaitable[FakeResponse]]
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


async def _read_body(receive: _Receive) -> bytes | None:
    """The whole request body, or None when it exceeds MAX_REQUEST_BYTES."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def asgi_app(handler: Handler) -> Callable[[_Scope, _Receive, _Send], Awaitable[None]]:
    """An ASGI app answering every HTTP request with `handler`."""

    async def app(scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        if body is None:
            response = FakeResponse(413, [("connection", "close")])
        else:
            request = FakeRequest(
                scope["method"],
                scope["path"],
                scope.get("query_string", b"").decode("latin-1"),
                [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]],
                body,
            )
            response = await handler(request)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    return app


class _FakeConfig(Config):
    """hypercorn reads TLS from certificate files; the fakes hand it a ready context instead."""

    def __init__(self, context: ssl.SSLContext | None) -> None:
        super().__init__()
        self._context = context

    @property
    def ssl_enabled(self) -> bool:
        return self._context is not None

    def create_ssl_context(self) -> ssl.SSLContext | None:
        return self._context


class FakeHttpServer:
    """One listening socket on loopback served by hypercorn until aclose()."""

    def __init__(
        self,
        handler: Handler,
        *,
        ssl_context: ssl.SSLContext | None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._handler = handler
        self._context = ssl_context
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._stop = asyncio.Event()
        self.closing = asyncio.Event()  # set when aclose() starts: slow answers end early
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def url(self) -> str:
        scheme = "https" if self._context is not None else "http"
        return f"{scheme}://{self._host}:{self.port}"

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in self._host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._requested_port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self._port = sock.getsockname()[1]
        config = _FakeConfig(self._context)
        config.errorlog = _log
        config.graceful_timeout = GRACEFUL_CLOSE_S
        sockets = Sockets([sock], [], []) if self._context else Sockets([], [sock], [])
        # The app follows the ASGI spec with plain dicts; hypercorn's TypedDict events match.
        app = wrap_app(
            cast(ASGIFramework, asgi_app(self._handler)), config.wsgi_max_body_size, "asgi"
        )
        self._task = asyncio.create_task(
            worker_serve(app, config, sockets=sockets, shutdown_trigger=self._stop.wait)
        )

    async def pause(self, seconds: float) -> None:
        """Wait `seconds` (a scripted slow answer), ending early when the server closes."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), seconds)

    async def aclose(self) -> None:
        self.closing.set()
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
