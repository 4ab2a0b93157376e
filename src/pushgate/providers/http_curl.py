"""HttpTransport on pycurl's multi interface, driven from the asyncio loop: the hot path.

One CurlTransport = one libcurl multi handle = one pool of HTTP/2 connections to one host for
one credential (providers.md, "Transport decision"). libcurl does the HTTP/2 work in C
(nghttp2): multiplexing, SETTINGS_MAX_CONCURRENT_STREAMS, PING, GOAWAY. Python only wires
libcurl's socket and timer callbacks onto the loop and completes requests, so the per-request
Python work is a handful of setopt calls and one callback (~20 us of CPU, measured).

libcurl on GOAWAY and REFUSED_STREAM (read in lib/http2.c and lib/transfer.c of libcurl 8.x,
observed against fakes/apns.py): nghttp2 closes every stream above GOAWAY's last-stream-id
with REFUSED_STREAM; libcurl marks such a transfer "refused" and, when no byte of its answer
arrived, re-issues it on a fresh connection by itself (Curl_retry_request, at most 5 times).
So what the server never processed is resent transparently and never reaches us as an error.
The same function also resends, up to 5 times, a request whose *reused* connection died
before any answer byte: there the server may have acted on it, so libcurl can duplicate a
delivery (at-least-once), and no option turns this off. When the retries run out libcurl
fails with "Connection died, tried 5 times" (CURLE_SEND_ERROR or CURLE_RECV_ERROR) and does
not say which case it was: reported as ConnectionLost (ambiguous, counts an attempt). A
REFUSED_STREAM that libcurl passes on (CURLE_HTTP2_STREAM naming it) is Unprocessed.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from collections.abc import Callable
from typing import Any

import pycurl

from pushgate.providers.http import (
    ConnectFailed,
    ConnectionLost,
    Headers,
    HttpResponse,
    TransportError,
    Unprocessed,
)
from pushgate.providers.http_curl_errors import transport_error

logger = logging.getLogger(__name__)

Answer = HttpResponse | TransportError
OnAnswer = Callable[[Answer], None]

MAX_ANSWER_BYTES = 1024 * 1024  # provider answers are small JSON; a larger one is refused
# Our cap on streams per connection (CURLMOPT_MAX_CONCURRENT_STREAMS); the server's
# SETTINGS_MAX_CONCURRENT_STREAMS lowers it further (APNs: 1 until a valid token). 100, not
# APNs' 1000: measured against nginx, one connection with 100 in flight did ~20k sends/s and
# one with 1000 ~11k at more CPU per send, because libcurl runs every transfer of a
# connection on each socket event; past 100 in flight, more connections are opened instead.
DEFAULT_STREAMS_PER_CONNECTION = 100


def _parse_headers(lines: list[bytes]) -> list[tuple[str, str]]:
    # lines[0] is the status line ("HTTP/2 200"); one decode for the rest (measured 40 %
    # cheaper than a decode per line: this runs once per request).
    headers = []
    for line in b"".join(lines[1:]).decode("latin-1").split("\r\n"):
        name, colon, value = line.partition(":")
        if colon:
            headers.append((name.lower(), value.strip()))
    return headers


class _Exchange:
    """One reusable easy handle and what its current request collects.

    Kept beside the handle rather than as attributes on it: pycurl's attribute access on a
    Curl object is a slow path (it showed in a native profile at ~3 % of a send).
    """

    __slots__ = ("chunks", "easy", "lines", "on_answer")

    def __init__(self, easy: pycurl.Curl) -> None:
        self.easy = easy
        self.lines: list[bytes] = []
        self.chunks: list[bytes] = []
        self.on_answer: OnAnswer | None = None


class _Waiting:
    """A request queued while the in-flight window is full (never on the wire yet)."""

    __slots__ = ("body", "deadline", "headers", "on_answer", "url")

    def __init__(
        self, url: str, headers: list[str], body: bytes, deadline: float, on_answer: OnAnswer
    ) -> None:
        self.url = url
        self.headers = headers
        self.body = body
        self.deadline = deadline
        self.on_answer: OnAnswer | None = on_answer


Ticket = _Exchange | _Waiting  # what submit() returns, for cancel()


class CurlTransport:
    """HTTP/2 requests multiplexed by libcurl over at most `max_connections` connections."""

    def __init__(
        self,
        *,
        ca_file: str | None = None,
        client_certificate: bytes | None = None,
        client_key: bytes | None = None,
        client_key_password: str | None = None,
        max_connections: int = 4,
        streams_per_connection: int = DEFAULT_STREAMS_PER_CONNECTION,
        max_in_flight: int | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        prior_knowledge: bool = False,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._ca_file = ca_file
        self._client_certificate = client_certificate
        self._client_key = client_key
        self._client_key_password = client_key_password
        self._max_answer_bytes = max_answer_bytes
        self._http_version = (
            pycurl.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
            if prior_knowledge
            else pycurl.CURL_HTTP_VERSION_2TLS
        )
        # Past this many open requests new ones wait here in Python, not as libcurl handles:
        # every easy handle costs memory, and libcurl would only queue them itself.
        self._max_in_flight = max_in_flight or max_connections * streams_per_connection
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)
        self._multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, max_connections)
        self._multi.setopt(pycurl.M_MAX_TOTAL_CONNECTIONS, max_connections)
        self._multi.setopt(pycurl.M_MAXCONNECTS, max_connections)
        self._multi.setopt(pycurl.M_MAX_CONCURRENT_STREAMS, streams_per_connection)
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._idle: list[_Exchange] = []
        self._active: dict[pycurl.Curl, _Exchange] = {}
        self._waiting: deque[_Waiting] = deque()
        self._watched: dict[int, int] = {}  # fd -> the POLL_* mask registered on the loop
        self._timer: asyncio.TimerHandle | asyncio.Handle | None = None
        self._timer_soon = False
        self._closed = False

    # -- requests ------------------------------------------------------------------------

    async def request(
        self, method: str, url: str, headers: Headers, body: bytes, *, timeout_s: float
    ) -> HttpResponse:
        """HttpTransport: one request, its answer or a TransportError."""
        if method != "POST":
            raise ConnectFailed(f"CurlTransport sends POST only, not {method}")
        future: asyncio.Future[Answer] = self._loop.create_future()
        lines = [f"{k}: {v}" for k, v in headers]
        ticket = self.submit(url, lines, body, timeout_s, future.set_result)
        try:
            answer = await future
        except asyncio.CancelledError:
            # A future with a result: the handle already finished and may serve another.
            if future.cancelled() or not future.done():
                self.cancel(ticket)  # the caller gave up: abort the transfer, not leave it on
            raise
        if isinstance(answer, TransportError):
            raise answer
        return answer

    def submit(
        self, url: str, headers: list[str], body: bytes, timeout_s: float, on_answer: OnAnswer
    ) -> Ticket | None:
        """Start a POST; `on_answer` is called once, from the loop, with the answer or error.

        The fast path for adapters: no coroutine or future per request. `headers` are
        "name: value" lines. `timeout_s` bounds the whole exchange, waiting included. The
        ticket (None when answered at once) can be given to cancel().
        """
        if self._closed:
            on_answer(ConnectFailed("transport closed"))
            return None
        deadline = self._loop.time() + timeout_s
        if len(self._active) >= self._max_in_flight:
            waiting = _Waiting(url, headers, body, deadline, on_answer)
            self._waiting.append(waiting)
            return waiting
        return self._start(url, headers, body, deadline, on_answer)

    def cancel(self, ticket: Ticket | None) -> None:
        """Drop a request not answered yet: its on_answer is never called; a transfer under
        way is aborted. Only for a request known to be open: finished handles are reused."""
        if ticket is None or ticket.on_answer is None:
            return
        ticket.on_answer = None  # a queued one is skipped when its turn comes
        if isinstance(ticket, _Exchange) and self._active.pop(ticket.easy, None) is not None:
            self._multi.remove_handle(ticket.easy)
            ticket.lines.clear()
            ticket.chunks.clear()
            self._idle.append(ticket)

    def _start(
        self, url: str, headers: list[str], body: bytes, deadline: float, on_answer: OnAnswer
    ) -> _Exchange | None:
        remaining_ms = int((deadline - self._loop.time()) * 1000)
        if remaining_ms <= 0:
            on_answer(Unprocessed("deadline passed before the request could start"))
            return None
        exchange = self._idle.pop() if self._idle else self._new_exchange()
        easy = exchange.easy
        # Options are sticky in libcurl: only what differs per request is set again.
        easy.setopt(pycurl.URL, url)
        easy.setopt(pycurl.HTTPHEADER, headers)
        easy.setopt(pycurl.POSTFIELDS, body)
        easy.setopt(pycurl.TIMEOUT_MS, remaining_ms)
        exchange.on_answer = on_answer
        self._active[easy] = exchange
        self._multi.add_handle(easy)
        return exchange

    def _new_exchange(self) -> _Exchange:
        exchange = _Exchange(pycurl.Curl())
        easy = exchange.easy
        # list.append as the callbacks: called from C without a Python frame per chunk.
        easy.setopt(pycurl.HEADERFUNCTION, exchange.lines.append)
        easy.setopt(pycurl.WRITEFUNCTION, exchange.chunks.append)
        easy.setopt(pycurl.HTTP_VERSION, self._http_version)
        easy.setopt(pycurl.PIPEWAIT, 1)  # multiplex on a connection being opened, not a new one
        easy.setopt(pycurl.NOSIGNAL, 1)
        easy.setopt(pycurl.USERAGENT, "pushgate")
        easy.setopt(pycurl.POST, 1)
        easy.setopt(pycurl.MAXFILESIZE, self._max_answer_bytes)
        easy.setopt(pycurl.FOLLOWLOCATION, 0)
        easy.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTPS | pycurl.PROTO_HTTP)
        easy.setopt(pycurl.SSL_VERIFYPEER, 1)
        easy.setopt(pycurl.SSL_VERIFYHOST, 2)
        defaults = ssl.get_default_verify_paths()
        # The system's roots plus PUSHGATE_PROVIDER_CA_FILE's (the fakes' CA), like
        # http.client_ssl_context: CAINFO names one bundle, CAPATH adds the system's.
        cafile = self._ca_file or defaults.cafile
        if cafile:
            easy.setopt(pycurl.CAINFO, cafile)
        if defaults.capath:
            easy.setopt(pycurl.CAPATH, defaults.capath)
        if self._client_certificate is not None and self._client_key is not None:
            # In-memory PEM (CURLOPT_SSLCERT_BLOB): the key never touches the disk.
            easy.setopt(pycurl.SSLCERT_BLOB, self._client_certificate)
            easy.setopt(pycurl.SSLCERTTYPE, "PEM")
            easy.setopt(pycurl.SSLKEY_BLOB, self._client_key)
            easy.setopt(pycurl.SSLKEYTYPE, "PEM")
            if self._client_key_password:
                easy.setopt(pycurl.KEYPASSWD, self._client_key_password)
        return exchange

    # -- libcurl -> loop ------------------------------------------------------------------

    def _on_socket(self, what: int, fd: int, _multi: Any, _data: Any) -> None:
        # Called by libcurl inside multi calls: only (un)register here, never call back in.
        old = self._watched.get(fd, pycurl.POLL_NONE)
        new = pycurl.POLL_NONE if what == pycurl.POLL_REMOVE else what
        if new == old:
            return
        loop = self._loop
        if old & pycurl.POLL_IN and not new & pycurl.POLL_IN:
            loop.remove_reader(fd)
        if old & pycurl.POLL_OUT and not new & pycurl.POLL_OUT:
            loop.remove_writer(fd)
        if new & pycurl.POLL_IN and not old & pycurl.POLL_IN:
            loop.add_reader(fd, self._act, fd, pycurl.CSELECT_IN)
        if new & pycurl.POLL_OUT and not old & pycurl.POLL_OUT:
            loop.add_writer(fd, self._act, fd, pycurl.CSELECT_OUT)
        if new == pycurl.POLL_NONE:
            self._watched.pop(fd, None)
        else:
            self._watched[fd] = new

    def _on_timer(self, timeout_ms: int) -> None:
        if timeout_ms == 0 and self._timer_soon:
            return  # a socket_action is already due on the next loop turn
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_soon = False
        if self._closed or timeout_ms < 0:
            return
        if timeout_ms == 0:
            self._timer = self._loop.call_soon(self._on_timeout)
            self._timer_soon = True
        else:
            self._timer = self._loop.call_later(timeout_ms / 1000, self._on_timeout)

    def _on_timeout(self) -> None:
        self._timer = None
        self._timer_soon = False
        self._act(pycurl.SOCKET_TIMEOUT, 0)

    def _act(self, fd: int, mask: int) -> None:
        if self._closed:
            return
        self._multi.socket_action(fd, mask)
        self._collect()

    def _collect(self) -> None:
        while True:
            queued, done, failed = self._multi.info_read()
            for easy in done:
                self._finish(easy, 0, "")
            for easy, errno, message in failed:
                self._finish(easy, errno, message)
            if not queued:
                break
        while self._waiting and len(self._active) < self._max_in_flight:
            item = self._waiting.popleft()
            if item.on_answer is not None:  # None: cancelled while queued
                self._start(item.url, item.headers, item.body, item.deadline, item.on_answer)

    def _finish(self, easy: pycurl.Curl, errno: int, message: str) -> None:
        self._multi.remove_handle(easy)
        exchange = self._active.pop(easy)
        on_answer = exchange.on_answer
        exchange.on_answer = None
        lines, chunks = exchange.lines, exchange.chunks
        answer: Answer
        if errno == 0:
            status = easy.getinfo(pycurl.RESPONSE_CODE)
            answer = HttpResponse(status, _parse_headers(lines), b"".join(chunks))
        else:
            started = easy.getinfo(pycurl.PRETRANSFER_TIME) > 0
            answer = transport_error(errno, message, started=started)
        lines.clear()
        chunks.clear()
        self._idle.append(exchange)
        if on_answer is not None:
            self._deliver(on_answer, answer)

    def _deliver(self, on_answer: OnAnswer, answer: Answer) -> None:
        try:
            on_answer(answer)
        except Exception:
            # A loop callback: an escaping error would lose the other answers of this round.
            logger.exception("answer callback failed")

    # -- closing --------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return len(self._active) + len(self._waiting)

    async def aclose(self) -> None:
        """Close every connection; open requests end with ConnectionLost, queued ones unsent."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending: list[tuple[OnAnswer, Answer]] = []
        for easy, exchange in list(self._active.items()):
            self._multi.remove_handle(easy)
            if exchange.on_answer is not None:
                pending.append((exchange.on_answer, ConnectionLost("transport closed")))
            easy.close()
        self._active.clear()
        for item in self._waiting:
            if item.on_answer is not None:
                pending.append((item.on_answer, Unprocessed("transport closed before sending")))
        self._waiting.clear()
        for idle in self._idle:
            idle.easy.close()
        self._idle.clear()
        self._multi.close()  # closes the connections; libcurl may still call _on_socket
        for fd in list(self._watched):
            self._loop.remove_reader(fd)
            self._loop.remove_writer(fd)
        self._watched.clear()
        for on_answer, answer in pending:
            self._deliver(on_answer, answer)
