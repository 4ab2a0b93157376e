"""The HTTP/1.1 protocol `pushgate serve` gives uvicorn: httptools with a bound on the head.

uvicorn's httptools protocol reads a request head (request line and headers) of any size:
measured, a single 16 MiB header was buffered and the request answered 200 (h11's default
bound is 16 KiB). Here a head over MAX_HEAD_BYTES is answered 431 and the connection closed
(reliability.md B4: a 64 KiB header is 431 or 400), counted two ways:

- exactly, from the parser's callbacks, once the URL or a header is complete;
- for a head still unfinished (a header that never ends), from the bytes received while it
  is, so that no more than MAX_HEAD_BYTES plus one read is ever buffered for it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

# Request line and headers together. The largest heads pushgate expects carry a client
# certificate chain in a proxy's header (a few KiB URL-encoded) or a JWT: 32 KiB is ample.
MAX_HEAD_BYTES = 32 * 1024
# After the 431 the rest of what the client sends is read and dropped for this long before
# the connection closes (a "lingering close", as nginx does): closing with unread data would
# reset the connection, and a reset can destroy the answer before the client reads it.
LINGER_S = 2.0
_TOO_LARGE = b"request header fields too large"


class _HeadTooLargeError(Exception):
    """Raised inside a parser callback; httptools reports it as a parser error."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._head_bytes = 0  # URL and headers of the current request, as parsed
        self._unfinished_bytes = 0  # received while the current head is unfinished
        self._in_head = True  # the next bytes belong to a request head
        self._heads_done = 0
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering after the 431: dropped
        started_in_head, heads_done = self._in_head, self._heads_done
        super().data_received(data)
        if self._refused or not (started_in_head and self._in_head):
            return
        if self._heads_done == heads_done:  # the whole read belongs to one unfinished head
            self._unfinished_bytes += len(data)
            if self._unfinished_bytes > MAX_HEAD_BYTES:
                self._send_431()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._count(len(name) + len(value) + 4)  # ": " and CRLF

    def on_headers_complete(self) -> None:
        self._in_head, self._unfinished_bytes = False, 0
        self._heads_done += 1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        # A parser error raised by _count is the head's size, not a malformed request.
        if self._refused:
            self._send_431()
            return
        super().send_400_response(msg)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refused = True
            raise _HeadTooLargeError

    def _send_431(self) -> None:
        self._refused = True
        if self.transport.is_closing():
            return
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(_TOO_LARGE)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + _TOO_LARGE
        )
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the answer, then FIN; the client's EOF closes it
        self.loop.call_later(LINGER_S, self.transport.close)
