"""http_curl.py's connection health: how fast connections are opened, and which are dead.

Two faults libcurl does not handle by itself, one object per CurlTransport:

* Reconnect storms (reliability.md F6). A server that resets or GOAWAYs every connection at
  once would be reconnected to as fast as requests fail: libcurl resends each refused
  request on a fresh connection, up to 5 times (~10 connections a second measured, one TLS
  handshake each). New sockets come from a token bucket of 4 x max_connections, refilled at
  max_connections a second: a healthy pool opens max_connections once and keeps them, and a
  few GOAWAYs in a row fit in the burst. Past it libcurl's connect fails at once
  (CURLOPT_OPENSOCKETFUNCTION answering SOCKET_BAD): ConnectFailed, unsent, so the engine
  resends the request without counting an attempt.
* Dead connections (reliability.md F10). A blackholed or stuck connection looks alive to
  libcurl (no error, no FIN), and HTTP/2 multiplexes every later request onto it, the
  retries included, until the kernel gives up (~15 min of TCP retransmissions, or never when
  a middlebox still ACKs). A connection that stayed silent, not one byte readable, while a
  request of ours waited on it until its deadline (and for SILENT_CONNECTION_S at least) is
  shut down: libcurl finds it closed and opens a new one; what else waited on it comes back
  as a lost connection, or is resent by libcurl, having had no answer byte.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pycurl

SILENT_CONNECTION_S = 1.0


class ConnectionHealth:
    __slots__ = ("_at", "_loop", "_rate", "_size", "_tokens", "connects_refused", "heard")

    def __init__(self, loop: asyncio.AbstractEventLoop, max_connections: int) -> None:
        self._loop = loop
        self._size = 4.0 * max_connections
        self._rate = float(max_connections)
        self._tokens = self._size
        self._at: float | None = None
        # fd -> loop.time() it was last readable, written by the transport on each read
        # event. A number reused by a new connection keeps the old one's time: at worst one
        # silent connection is kept one deadline longer. Bounded by the process's fds.
        self.heard: dict[int, float] = {}
        self.connects_refused = 0

    def open_socket(self, _purpose: int, address: Any) -> Any:
        """CURLOPT_OPENSOCKETFUNCTION: a new connection's socket, within the budget.

        pycurl dup()s the descriptor returned (libcurl owns the copy), so this socket object
        is closed on the next loop turn, once the call has returned.
        """
        if not self._take(self._loop.time()):
            self.connects_refused += 1
            return pycurl.SOCKET_BAD
        family, socktype, protocol, _ = address
        sock = socket.socket(family, socktype, protocol)
        self._loop.call_soon(sock.close)
        return sock

    def _take(self, now: float) -> bool:
        if self._at is not None:
            self._tokens = min(self._size, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def drop_if_silent(self, fd: int, since: float) -> bool:
        """Shut connection `fd` down if nothing was read on it since `since` (a request's
        submit, its deadline now passed), for SILENT_CONNECTION_S at least."""
        if fd < 0 or self._loop.time() - since < SILENT_CONNECTION_S:
            return False
        if self.heard.get(fd, since - 1.0) >= since:
            return False
        # shutdown(), not close(): the descriptor stays libcurl's (closing it under libcurl
        # could let a new socket take its number).
        sock = socket.socket(fileno=fd)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed by the peer: libcurl finds that out by itself
        finally:
            sock.detach()
        self.heard[fd] = self._loop.time()  # readable now (EOF): once for all its requests
        return True
