"""http_curl.py's pieces: easy handles (options set once, answers read) and submissions.

An easy handle serves one request at a time and is reused (libcurl keeps options between
requests), so everything that does not change per request is set here, once per handle.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pycurl

from pushgate.providers.http import HttpResponse, TransportError

Answer = HttpResponse | TransportError
# How a transport hands answers back: (the request's tag, its answer or failure).
OnTagged = Callable[[int, Answer], None]
OnAnswer = Callable[[Answer], None]  # the same for one request (CurlTransport.submit)
# The URL (or, with an origin, the path on it), "name: value" lines, the body, the tag.
Request = tuple[str, Sequence[str | bytes], bytes, int]


def untagged(on_answer: OnAnswer, _tag: int, answer: Answer) -> None:
    on_answer(answer)


class Submission:
    """One submit or submit_batch: its requests, in order, and their common deadline."""

    __slots__ = ("deadline", "next", "on_answer", "open", "opened_at", "requests", "timer")

    def __init__(
        self, requests: Sequence[Request], opened_at: float, timeout_s: float, on_answer: OnTagged
    ) -> None:
        self.requests = requests
        self.opened_at = opened_at  # loop.time() of the submit
        self.next = 0  # requests[next:] are not started yet (the in-flight window is full)
        self.open = 0  # started and not answered
        self.deadline = opened_at + timeout_s
        self.on_answer: OnTagged | None = on_answer  # None: cancelled or past its deadline
        self.timer: asyncio.TimerHandle | None = None

    def left(self) -> int:
        """Requests not answered yet."""
        return len(self.requests) - self.next + self.open if self.on_answer is not None else 0


@dataclass(frozen=True, slots=True)
class EasyOptions:
    """What every handle of one transport is set up with."""

    http_version: int
    max_answer_bytes: int
    # False: no header callback (libcurl calls into Python once per header line, ~0.4 us
    # each, measured); answers then carry only Retry-After, read from libcurl (answer_of).
    answer_headers: bool = True
    ca_file: str | None = None
    client_certificate: bytes | None = None
    client_key: bytes | None = None
    client_key_password: str | None = None
    origin: str | None = None  # set: the handle's URL for good, requests give their path
    user_agent: str = "pushgate"  # "": no User-Agent header
    # CURLOPT_OPENSOCKETFUNCTION: opens each connection's socket, or refuses (SOCKET_BAD).
    open_socket: Callable[[int, Any], Any] | None = None


class Exchange:
    """One reusable easy handle and what its current request collects.

    Kept beside the handle rather than as attributes on it: pycurl's attribute access on a
    Curl object is a slow path (it showed in a native profile at ~3 % of a send).
    """

    __slots__ = ("batch", "body", "chunks", "easy", "lines", "tag")

    def __init__(self, options: EasyOptions) -> None:
        self.easy = easy = pycurl.Curl()
        self.lines: list[bytes] = []
        self.chunks: list[bytes] = []
        self.tag = 0
        self.batch: Submission | None = None  # what the open request belongs to
        self.body: bytes | None = None  # the CURLOPT_POSTFIELDS set (kept by libcurl)
        # list.append as the callbacks: called from C without a Python frame per chunk.
        if options.answer_headers:
            easy.setopt(pycurl.HEADERFUNCTION, self.lines.append)
        easy.setopt(pycurl.WRITEFUNCTION, self.chunks.append)
        easy.setopt(pycurl.HTTP_VERSION, options.http_version)
        easy.setopt(pycurl.PIPEWAIT, 1)  # multiplex on a connection being opened, not a new one
        easy.setopt(pycurl.NOSIGNAL, 1)
        easy.setopt(pycurl.USERAGENT, options.user_agent)
        easy.setopt(pycurl.POST, 1)
        if options.origin:
            easy.setopt(pycurl.URL, options.origin + "/")  # each request: REQUEST_TARGET
        easy.setopt(pycurl.MAXFILESIZE, options.max_answer_bytes)
        easy.setopt(pycurl.FOLLOWLOCATION, 0)
        if options.open_socket is not None:
            easy.setopt(pycurl.OPENSOCKETFUNCTION, options.open_socket)
        easy.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTPS | pycurl.PROTO_HTTP)
        easy.setopt(pycurl.SSL_VERIFYPEER, 1)
        easy.setopt(pycurl.SSL_VERIFYHOST, 2)
        defaults = ssl.get_default_verify_paths()
        # The system's roots plus PUSHGATE_PROVIDER_CA_FILE's (the fakes' CA), like
        # http.client_ssl_context: CAINFO names one bundle, CAPATH adds the system's.
        cafile = options.ca_file or defaults.cafile
        if cafile:
            easy.setopt(pycurl.CAINFO, cafile)
        if defaults.capath:
            easy.setopt(pycurl.CAPATH, defaults.capath)
        if options.client_certificate is not None and options.client_key is not None:
            # In-memory PEM (CURLOPT_SSLCERT_BLOB): the key never touches the disk.
            easy.setopt(pycurl.SSLCERT_BLOB, options.client_certificate)
            easy.setopt(pycurl.SSLCERTTYPE, "PEM")
            easy.setopt(pycurl.SSLKEY_BLOB, options.client_key)
            easy.setopt(pycurl.SSLKEYTYPE, "PEM")
            if options.client_key_password:
                easy.setopt(pycurl.KEYPASSWD, options.client_key_password)

    def clear(self) -> None:
        self.lines.clear()
        self.chunks.clear()


def answer_of(exchange: Exchange) -> HttpResponse:
    """The finished request's answer (consumes what the handle collected)."""
    easy, lines, chunks = exchange.easy, exchange.lines, exchange.chunks
    status = easy.getinfo(pycurl.RESPONSE_CODE)
    body = b"".join(chunks)
    chunks.clear()
    if lines:
        headers = parse_headers(lines)
        lines.clear()
    elif status >= 300:
        # No header callback (EasyOptions.answer_headers): CURLINFO_RETRY_AFTER has the
        # header's seconds, an HTTP-date already turned into seconds from now, and 0 when
        # it is absent (so a "Retry-After: 0" reads as absent too).
        seconds = easy.getinfo(pycurl.RETRY_AFTER)
        headers = [("retry-after", str(seconds))] if seconds > 0 else []
    else:
        headers = []
    return HttpResponse(status, headers, body)


def parse_headers(lines: list[bytes]) -> list[tuple[str, str]]:
    """libcurl's header lines as (lower-case name, value) pairs."""
    # lines[0] is the status line ("HTTP/2 200"); one decode for the rest (measured 40 %
    # cheaper than a decode per line: this runs once per request).
    headers = []
    for line in b"".join(lines[1:]).decode("latin-1").split("\r\n"):
        name, colon, value = line.partition(":")
        if colon:
            headers.append((name.lower(), value.strip()))
    return headers
