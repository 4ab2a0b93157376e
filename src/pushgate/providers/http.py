"""The HTTP client interface adapters send through, so the transport can be swapped and measured.

Two implementations: http_curl.py (pycurl's multi interface on the event loop: the hot path
of APNs, FCM and Web Push) and http_httpx.py (httpx2: OAuth token endpoints, WNS, SMS,
webhooks). Transport failures are raised as TransportError subclasses; adapters turn them
into RETRY results at their edge.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

Headers = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]  # names lower-cased, in the order received
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None


class TransportError(Exception):
    """The request failed below HTTP: no usable answer arrived."""

    # True when the request provably never reached the server (refused stream, unprocessed
    # after GOAWAY, connection refused): resending it does not count as another attempt.
    unsent: bool = False


class ConnectFailed(TransportError):
    unsent = True


class Unprocessed(TransportError):
    """GOAWAY with a last-stream-id below ours, or REFUSED_STREAM: the server never saw it."""

    unsent = True


class TimedOut(TransportError):
    """The total deadline passed before the whole answer arrived."""


class ConnectionLost(TransportError):
    """The connection broke after the request was (maybe) sent: ambiguous."""


class HttpTransport(Protocol):
    async def request(
        self,
        method: str,
        url: str,
        headers: Headers,
        body: bytes,
        *,
        timeout_s: float,
    ) -> HttpResponse:
        """Send one request; the answer, or a TransportError."""
        ...

    async def aclose(self) -> None: ...


def client_ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """The system's roots, plus PUSHGATE_PROVIDER_CA_FILE's (the fakes' CA) when given."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context
