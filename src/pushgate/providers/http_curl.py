"""HttpTransport on pycurl's multi interface, driven from the asyncio loop: the hot path.

One CurlTransport = one libcurl multi handle = one pool of HTTP/2 connections to one host for
one credential (providers.md, "Transport decision"). libcurl does the HTTP/2 work in C
(nghttp2): multiplexing, SETTINGS_MAX_CONCURRENT_STREAMS, PING, GOAWAY. Python only wires
libcurl's socket and timer callbacks onto the loop and completes requests: per request three
setopt calls, adding and removing the handle, one callback into the adapter. Adapters hand
whole batches to submit_batch and may drop the header callbacks (answer_headers=False); then
libcurl's own work (one TLS record and one send() per request) is most of a send's CPU.

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
from collections import deque
from collections.abc import Sequence
from functools import partial
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
from pushgate.providers.http_curl_easy import (
    Answer,
    EasyOptions,
    Exchange,
    OnAnswer,
    OnTagged,
    Request,
    Submission,
    answer_of,
    untagged,
)
from pushgate.providers.http_curl_errors import transport_error
from pushgate.providers.http_curl_health import ConnectionHealth

__all__ = ["DEFAULT_STREAMS_PER_CONNECTION", "Answer", "CurlTransport", "OnTagged", "Request"]

logger = logging.getLogger(__name__)


MAX_ANSWER_BYTES = 1024 * 1024  # provider answers are small JSON; a larger one is refused
# Our cap on streams per connection (CURLMOPT_MAX_CONCURRENT_STREAMS); the server's
# SETTINGS_MAX_CONCURRENT_STREAMS lowers it further (APNs: 1 until a valid token). 100, not
# APNs' 1000: measured against nginx, one connection with 100 in flight did ~20k sends/s and
# one with 1000 ~11k at more CPU per send, because libcurl runs every transfer of a
# connection on each socket event; past 100 in flight, more connections are opened instead.
DEFAULT_STREAMS_PER_CONNECTION = 100


class CurlTransport:
    """HTTP/2 requests multiplexed by libcurl over at most `max_connections` connections.

    Deadlines are kept here, one loop timer per submission, not by libcurl: its per-request
    CURLOPT_TIMEOUT_MS cost ~2 us a request (measured against nginx). With `origin`
    ("https://host:port") every request goes there and names only its path (its request
    target): libcurl then parses one short URL per request, ~1 us less (measured).
    """

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
        answer_headers: bool = True,
        origin: str | None = None,
        user_agent: str = "pushgate",
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._origin = origin
        version = pycurl.CURL_HTTP_VERSION_2TLS
        if prior_knowledge:
            version = pycurl.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
        self._health = ConnectionHealth(self._loop, max_connections)
        # answer_headers=False: answers carry only Retry-After (http_curl_easy.py).
        self._easy_options = EasyOptions(
            version, max_answer_bytes, answer_headers, ca_file, client_certificate,
            client_key, client_key_password, origin, user_agent, self._health.open_socket,
        )  # fmt: skip
        self._target = pycurl.REQUEST_TARGET if origin else pycurl.URL
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
        self._idle: list[Exchange] = []
        self._active: dict[pycurl.Curl, Exchange] = {}
        self._queue: deque[Submission] = deque()  # batches with requests not started yet
        self._batches: set[Submission] = set()  # with a request not answered yet
        # Answers without headers or body are shared (read-only) per status: no allocation
        # per request on the hot path (APNs' 200).
        self._bare: dict[int, HttpResponse] = {}
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
        if self._origin:
            if not url.startswith(self._origin + "/"):
                raise ConnectFailed(f"this transport sends to {self._origin} only")
            url = url[len(self._origin) :]
        future: asyncio.Future[Answer] = self._loop.create_future()
        lines: Sequence[str | bytes] = [f"{k}: {v}" for k, v in headers]
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
        self,
        url: str,
        headers: Sequence[str | bytes],
        body: bytes,
        timeout_s: float,
        on_answer: OnAnswer,
    ) -> Submission | None:
        """Start a POST; `on_answer` is called once, from the loop, with the answer or error.

        No coroutine or future per request. `url`: with `origin`, the path. `headers` are
        "name: value" lines (bytes go to libcurl as they are, str is encoded). `timeout_s`
        bounds the whole exchange, waiting included. The ticket (None when answered at
        once) can be given to cancel().
        """
        return self._enqueue([(url, headers, body, 0)], timeout_s, partial(untagged, on_answer))

    def submit_batch(
        self, requests: Sequence[Request], timeout_s: float, on_answer: OnTagged
    ) -> None:
        """Start many POSTs, the adapters' hot path: `on_answer(tag, answer)` once for each.

        What submit() does for one, without an object, a callback, a timer or a clock reading
        per request: the requests past the in-flight window wait in the sequence, in order.
        """
        self._enqueue(requests, timeout_s, on_answer)

    def _enqueue(
        self, requests: Sequence[Request], timeout_s: float, on_answer: OnTagged
    ) -> Submission | None:
        if self._closed or not requests:
            for *_, tag in requests:
                self._deliver(on_answer, tag, ConnectFailed("transport closed"))
            return None
        batch = Submission(requests, self._loop.time(), timeout_s, on_answer)
        batch.timer = self._loop.call_at(batch.deadline, self._expire, batch)
        self._batches.add(batch)
        self._queue.append(batch)
        self._pump()
        return batch

    def cancel(self, ticket: Submission | None) -> None:
        """Drop what submit() started and is not answered yet: on_answer is not called for
        it any more, a transfer under way is aborted, a waiting one never starts."""
        if ticket is not None and ticket.on_answer is not None:
            self._expire(ticket, answer=False)

    def _pump(self) -> None:
        """Start waiting requests, oldest first, while the in-flight window has room."""
        free = self._max_in_flight - len(self._active)
        queue, idle, active, target = self._queue, self._idle, self._active, self._target
        add_handle, now = self._multi.add_handle, self._loop.time()
        while free > 0 and queue:
            batch = queue[0]
            requests, start = batch.requests, batch.next
            stop = min(len(requests), start + free)
            if batch.on_answer is None or start >= stop or batch.deadline <= now:
                queue.popleft()  # all started, or given up (its timer answers what is left)
                continue
            batch.next, batch.open, free = stop, batch.open + stop - start, free - stop + start
            for index in range(start, stop):
                url, headers, body, tag = requests[index]
                exchange = idle.pop() if idle else Exchange(self._easy_options)
                easy = exchange.easy
                # Options are sticky in libcurl: only what differs per request is set again
                # (a round's requests share one body object).
                easy.setopt(target, url)
                easy.setopt(pycurl.HTTPHEADER, headers)
                if exchange.body is not body:
                    easy.setopt(pycurl.POSTFIELDS, body)
                    exchange.body = body
                exchange.tag = tag
                exchange.batch = batch
                active[easy] = exchange
                add_handle(easy)

    def _expire(self, batch: Submission, *, answer: bool = True) -> None:
        """The batch's deadline (or cancel()): what is still open of it ends here."""
        on_answer, batch.on_answer = batch.on_answer, None
        self._batches.discard(batch)
        if batch.timer is not None:
            batch.timer.cancel()
        pending: list[tuple[int, Answer]] = []
        for easy, exchange in list(self._active.items()):
            if exchange.batch is batch:
                # As libcurl's own timeout would: TimedOut once the request may have left.
                started = easy.getinfo(pycurl.PRETRANSFER_TIME) > 0
                fd = easy.getinfo(pycurl.ACTIVESOCKET) if started else -1
                late = transport_error(pycurl.E_OPERATION_TIMEDOUT, "deadline", started=started)
                pending.append((exchange.tag, late))
                del self._active[easy]
                self._multi.remove_handle(easy)
                self._release(exchange)
                self._health.drop_if_silent(fd, batch.opened_at)  # a dead connection (F10)
        for *_, tag in batch.requests[batch.next :]:
            pending.append((tag, Unprocessed("deadline passed before sending")))
        batch.next = len(batch.requests)
        if on_answer is not None and answer:
            for tag, failure in pending:
                self._deliver(on_answer, tag, failure)
        self._pump()

    def _release(self, exchange: Exchange) -> None:
        """The handle is out of the multi: back to the idle ones, its batch told."""
        batch, exchange.batch = exchange.batch, None
        if exchange.lines or exchange.chunks:
            exchange.clear()
        self._idle.append(exchange)
        if batch is not None:
            batch.open -= 1
            if not batch.open and batch.next >= len(batch.requests) and batch.timer:
                batch.timer.cancel()  # all answered
                self._batches.discard(batch)

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
        if mask == pycurl.CSELECT_IN:
            self._health.heard[fd] = self._loop.time()  # alive (http_curl_health.py)
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
        if self._queue:
            self._pump()

    def _finish(self, easy: pycurl.Curl, errno: int, message: str) -> None:
        self._multi.remove_handle(easy)
        exchange = self._active.pop(easy)
        batch, tag = exchange.batch, exchange.tag
        answer: Answer
        if errno:
            started = easy.getinfo(pycurl.PRETRANSFER_TIME) > 0
            answer = transport_error(errno, message, started=started)
        elif exchange.lines or exchange.chunks:
            answer = answer_of(exchange)
        else:  # no header collected (answer_headers=False), no body: APNs' 200, the hot path
            status = easy.getinfo(pycurl.RESPONSE_CODE)
            answer = self._bare.get(status) or self._bare_answer(exchange)
        self._release(exchange)
        if batch is not None and batch.on_answer is not None:
            self._deliver(batch.on_answer, tag, answer)

    def _bare_answer(self, exchange: Exchange) -> HttpResponse:
        if not (answer := answer_of(exchange)).headers:
            self._bare[answer.status] = answer  # shared from now on: answers are read-only
        return answer

    def _deliver(self, on_answer: OnTagged, tag: int, answer: Answer) -> None:
        try:
            on_answer(tag, answer)
        except Exception:
            # A loop callback: an escaping error would lose the other answers of this round.
            logger.exception("answer callback failed")

    @property
    def in_flight(self) -> int:
        return sum(batch.left() for batch in self._batches)

    async def aclose(self) -> None:
        """Close every connection; open requests end with ConnectionLost, queued ones unsent."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending: list[tuple[OnTagged, int, Answer]] = []
        for easy, exchange in self._active.items():
            self._multi.remove_handle(easy)
            if exchange.batch is not None and exchange.batch.on_answer is not None:
                lost = ConnectionLost("transport closed")
                pending.append((exchange.batch.on_answer, exchange.tag, lost))
            easy.close()
        self._active.clear()
        for batch in self._batches:
            if batch.timer is not None:
                batch.timer.cancel()
            if batch.on_answer is not None:
                for *_, tag in batch.requests[batch.next :]:
                    unsent = Unprocessed("transport closed before sending")
                    pending.append((batch.on_answer, tag, unsent))
        self._batches.clear()
        self._queue.clear()
        for idle in self._idle:
            idle.easy.close()
        self._idle.clear()
        self._multi.close()  # closes the connections; libcurl may still call _on_socket
        for fd in list(self._watched):
            self._loop.remove_reader(fd)
            self._loop.remove_writer(fd)
        self._watched.clear()
        for on_answer, tag, answer in pending:
            self._deliver(on_answer, tag, answer)
