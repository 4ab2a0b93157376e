"""One client connection of the fake APNs: h2 state, stream limit, GOAWAY, resets.

See fakes/apns.py for the behaviour; this module only holds the per-connection protocol.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import TYPE_CHECKING

from h2.config import H2Configuration
from h2.errors import ErrorCodes
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    RequestReceived,
    StreamEnded,
    StreamReset,
)
from h2.exceptions import ProtocolError, StreamClosedError
from h2.settings import SettingCodes, Settings
from hyperframe.frame import GoAwayFrame

from pushgate.fakes.h2_server import FakeH2Connection

if TYPE_CHECKING:
    from pushgate.fakes.apns import FakeApns

_H2_CONFIG = H2Configuration(
    client_side=False,
    header_encoding=None,  # bytes in and out: no per-header decoding on the hot path
    validate_inbound_headers=False,
    normalize_inbound_headers=False,
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
)
_BIG_WINDOW = 2**31 - 1  # flow control never throttles a fake: payloads are <= 5 KiB
_WINDOW_TOP_UP = 1 << 24
_SHUTDOWN = b'{"reason":"Shutdown"}'


class Stream:
    __slots__ = ("body", "headers")

    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.headers = headers
        self.body = b""


class ApnsConnection(asyncio.Protocol):
    """One client connection: h2 state, stream limit, binding to one team key."""

    def __init__(self, fake: FakeApns, environment: str, number: int) -> None:
        self.fake = fake
        self.environment = environment
        self.number = number
        self.transport: asyncio.Transport | None = None
        self.h2 = FakeH2Connection(config=_H2_CONFIG)
        self.streams: dict[int, Stream] = {}
        self.stream_count = 0
        self.limit = fake.plan.initial_max_streams
        self.bound_key: str | None = None  # first valid push binds the connection to a key
        self.certificate_name: str | None = None
        self.last_stream_id: int | None = None  # set once GOAWAY was sent
        self.consumed = 0

    # -- asyncio --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # noqa: S101 - create_server gives one
        self.transport = transport
        self.fake.connections.add(self)
        self.fake.max_connections_open = max(
            self.fake.max_connections_open, len(self.fake.connections)
        )
        ssl_object = transport.get_extra_info("ssl_object")
        peer = ssl_object.getpeercert() if ssl_object is not None else None
        if peer:
            # The bundle the certificate is for: its CN (Apple's "UID" too), else its first
            # DNS name (fakes/tls.py issues client certificates with the name as a SAN).
            names = dict(item[0] for item in peer.get("subject", ()))
            alt = [value for kind, value in peer.get("subjectAltName", ()) if kind == "DNS"]
            self.certificate_name = str(names.get("commonName") or (alt[0] if alt else ""))
            self.fake.certificate_names.append(self.certificate_name)
        advertised = {
            SettingCodes.MAX_CONCURRENT_STREAMS: self.limit,
            SettingCodes.INITIAL_WINDOW_SIZE: _BIG_WINDOW,
        }
        self.h2.local_settings = Settings(client=False, initial_values=advertised)
        self.h2.initiate_connection()
        self.h2.increment_flow_control_window(_BIG_WINDOW - 65535)
        # h2 would kill the whole connection on a stream over its local limit; this fake
        # enforces the advertised limit itself, per stream (REFUSED_STREAM), so h2 gets none.
        lenient = dict(advertised)
        lenient[SettingCodes.MAX_CONCURRENT_STREAMS] = _BIG_WINDOW
        self.h2.local_settings = Settings(client=False, initial_values=lenient)
        transport.write(self.h2.data_to_send())

    def connection_lost(self, exc: Exception | None) -> None:
        self.streams.clear()
        self.transport = None  # answers still due (delayed ones) are dropped, not written
        self.fake.connection_gone(self)

    def data_received(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return  # aborted or closing: nothing more is processed
        try:
            events = self.h2.receive_data(data)
        except ProtocolError:
            self.abort()
            return
        for event in events:
            kind = type(event)
            if kind is DataReceived:
                self._on_data(event)  # type: ignore[arg-type]
            elif kind is RequestReceived:
                self._on_request(event)  # type: ignore[arg-type]
            elif kind is StreamEnded:
                stream = self.streams.get(event.stream_id)  # type: ignore[attr-defined]
                if stream is not None:
                    self.fake.handle(self, event.stream_id, stream)  # type: ignore[attr-defined]
            elif kind is StreamReset:
                self.streams.pop(event.stream_id, None)  # type: ignore[attr-defined]
            elif kind is ConnectionTerminated:
                self.close()
                return
            if self.transport.is_closing():
                return  # aborted by a scripted reset: what is left is lost, like on a real RST
        self.flush()

    # -- streams --------------------------------------------------------------------------

    def _on_request(self, event: RequestReceived) -> None:
        stream_id = event.stream_id
        if self.last_stream_id is not None and stream_id > self.last_stream_id:
            return  # after GOAWAY: never processed; the client resends it elsewhere
        plan = self.fake.plan
        if plan.reset_after_streams is not None and self.stream_count >= plan.reset_after_streams:
            self.abort(reset=True)
            return
        if len(self.streams) >= self.limit:
            self.fake.refused_streams += 1
            self.h2.reset_stream(stream_id, ErrorCodes.REFUSED_STREAM)
            return
        self.stream_count += 1
        self.streams[stream_id] = Stream(list(event.headers or ()))
        self.fake.max_open_streams = max(self.fake.max_open_streams, len(self.streams))
        if plan.goaway_after_streams is not None and self.stream_count >= plan.goaway_after_streams:
            self.last_stream_id = stream_id
            self.flush()
            frame = GoAwayFrame(0)
            frame.last_stream_id = stream_id
            frame.error_code = ErrorCodes.NO_ERROR
            frame.additional_data = _SHUTDOWN
            self.write(frame.serialize())
            self.fake.goaways_sent += 1

    def _on_data(self, event: DataReceived) -> None:
        stream = self.streams.get(event.stream_id)
        if stream is not None:
            stream.body += event.data or b""
        self.consumed += event.flow_controlled_length or 0
        if self.consumed >= _WINDOW_TOP_UP:
            self.h2.increment_flow_control_window(self.consumed)
            self.consumed = 0

    def raise_limit(self) -> None:
        wanted = self.fake.plan.max_streams
        if wanted != self.limit:
            self.limit = wanted
            self.h2.update_settings({SettingCodes.MAX_CONCURRENT_STREAMS: wanted})

    def answer(self, stream_id: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bool:
        """Send the answer; False when the stream is gone (reset by the client, or closed)."""
        if self.streams.pop(stream_id, None) is None or self.transport is None:
            return False
        try:
            self.h2.send_headers(stream_id, headers, end_stream=not body)
            if body:
                # One DATA frame with the whole JSON and END_STREAM, like APNs.
                self.h2.send_data(stream_id, body, end_stream=True)
        except StreamClosedError:
            return False
        except ProtocolError:
            return False  # the whole connection is closed (the client's GOAWAY): nothing is sent
        if self.last_stream_id is not None and not self.streams:
            self.flush()
            self.close()
        return True

    # -- output ---------------------------------------------------------------------------

    def flush(self) -> None:
        out = self.h2.data_to_send()
        if out:
            self.write(out)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self, *, reset: bool = False) -> None:
        if self.transport is None:
            return
        if reset:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                # SO_LINGER 0: close() sends a TCP RST, a connection reset as the client sees it.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.fake.resets_sent += 1
        self.transport.abort()
