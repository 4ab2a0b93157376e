"""A TCP fault proxy on loopback, put between an adapter and a fake (reliability.md "Harness").

Toxiproxy cannot be installed and `tc netem` is missing here, so network faults are made by
this proxy: bytes are relayed as they are (TLS and HTTP/2 pass through untouched), and the
current Faults decide what happens to them on the way:

| fault | what the peer sees |
|---|---|
| `first_byte_delay_s`, `chunk_delay_s` | latency before a connection's first byte / each chunk |
| `reset_after_bytes` | a TCP RST (SO_LINGER 0) on both sides once that many bytes passed |
| `blackhole` | the connection is accepted and read, and nothing ever comes through |
| `trickle_s` | one byte every `trickle_s` seconds |
| `refuse()` | the listener is closed: connects are refused until `accept()` |

Faults are read for every chunk, so `set()` changes them on open connections at once, with
one exception: a connection that was blackholed stays so (bytes were dropped mid-stream, so
anything relayed later would be garbage to TLS). Delays and trickling hold bytes back, never
drop them: clearing a trickle flushes the rest. Byte counts for `reset_after_bytes` start
again at every `set()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass, field
from enum import Flag, auto
from types import TracebackType
from typing import Self

_CHUNK = 65536
_CLOSE_S = 5.0  # aclose() waits this long for connection tasks to end


class Direction(Flag):
    UP = auto()  # client -> upstream: requests
    DOWN = auto()  # upstream -> client: answers
    BOTH = UP | DOWN


@dataclass(frozen=True, slots=True)
class Faults:
    """What the proxy does to the bytes it relays now; the default relays them untouched."""

    first_byte_delay_s: float = 0.0  # before the first byte of each connection, per direction
    chunk_delay_s: float = 0.0  # before every chunk
    delay: Direction = Direction.DOWN  # which way the two delays apply
    reset_after_bytes: int | None = None  # per connection, counted since set()
    reset: Direction = Direction.DOWN  # which way's bytes are counted for the reset
    blackhole: bool = False  # new connections accepted and swallowed, open ones go dark
    trickle_s: float | None = None  # then one byte every trickle_s seconds
    trickle: Direction = Direction.DOWN


@dataclass(slots=True)
class ConnectionRecord:
    """One client connection, for tests' ledgers (times are loop.time())."""

    number: int
    opened_at: float
    closed_at: float | None = None
    bytes_up: int = 0  # relayed client -> upstream
    bytes_down: int = 0  # relayed upstream -> client
    blackholed: bool = False
    reset: bool = False  # ended by the proxy's RST


@dataclass(slots=True, eq=False)  # hashed by identity: the proxy keeps a set of them
class _Link:
    record: ConnectionRecord
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    started: set[Direction] = field(default_factory=set)  # directions past their first byte
    epoch: int = 0  # the set() these counts belong to
    counted: dict[Direction, int] = field(default_factory=dict)  # bytes since that set()

    def count(self, direction: Direction, size: int, epoch: int) -> int:
        """Add `size` bytes relayed `direction`; the count since the last set()."""
        if self.epoch != epoch:
            self.epoch, self.counted = epoch, {}
        self.counted[direction] = self.counted.get(direction, 0) + size
        if direction is Direction.UP:
            self.record.bytes_up += size
        else:
            self.record.bytes_down += size
        return self.counted[direction]

    def sent_since(self, direction: Direction, epoch: int) -> int:
        return self.counted.get(direction, 0) if self.epoch == epoch else 0

    def abort(self, *, reset: bool) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                _abort(writer, reset=reset)


def _no_delay(writer: asyncio.StreamWriter) -> None:
    """TCP_NODELAY: a relayed chunk (or a trickled byte) leaves at once, before any RST."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _abort(writer: asyncio.StreamWriter, *, reset: bool) -> None:
    if reset:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # SO_LINGER 0: close() sends a TCP RST, which the peer reads as a connection reset.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    """`async with FaultProxy(host, port) as proxy:` relays 127.0.0.1:`proxy.port` there."""

    def __init__(
        self, upstream_host: str, upstream_port: int, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._faults = Faults()
        self._epoch = 0
        self._changed = asyncio.Event()  # set (and replaced) by set()
        self._closing = False
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.records: list[ConnectionRecord] = []
        self.resets = 0  # RSTs the proxy sent (reset_after_bytes)

    # -- control --------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        return self._faults

    def set(self, faults: Faults | None = None) -> None:
        """Replace the faults (None: relay untouched); open connections follow at once."""
        self._faults = faults or Faults()
        self._epoch += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()  # wakes the delays and trickles waiting under the old faults

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the proxy is not started")
        return self._port

    def url(self, scheme: str = "https") -> str:
        return f"{scheme}://{self._host}:{self.port}"

    @property
    def connections(self) -> int:
        """Client connections accepted so far."""
        return len(self.records)

    @property
    def open_connections(self) -> int:
        return sum(1 for record in self.records if record.closed_at is None)

    async def refuse(self, *, reset_open: bool = False) -> None:
        """Stop listening: connects are refused (RST) until accept(); the port is kept."""
        if self._server is not None:
            self._server.close()
            self._server = None
        if reset_open:
            for link in list(self._links):
                link.abort(reset=True)

    async def accept(self) -> None:
        """Listen (again) on the proxy's port."""
        if self._server is None:
            self._server = await asyncio.start_server(
                self._serve, self._host, self._port, reuse_address=True
            )
            self._port = self._server.sockets[0].getsockname()[1]

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.accept()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop listening and close every connection (held bytes are dropped)."""
        await self.refuse()
        self._closing = True
        self.set(self._faults)  # wakes what waits in a delay or a trickle
        for link in list(self._links):
            link.abort(reset=False)
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=_CLOSE_S)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)

    # -- relaying -------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # noqa: S101 - a connection callback runs in a task
        self._tasks.add(task)
        loop = asyncio.get_running_loop()
        record = ConnectionRecord(len(self.records) + 1, loop.time())
        self.records.append(record)
        link = _Link(record, writer)
        self._links.add(link)
        try:
            if self._faults.blackhole:
                record.blackholed = True  # accepted, read, never connected on
                while await reader.read(_CHUNK):
                    pass
                return
            try:
                up_reader, link.upstream = await asyncio.open_connection(*self._upstream)
            except OSError:
                link.abort(reset=True)  # the upstream refused: so does the proxy
                return
            _no_delay(writer)
            _no_delay(link.upstream)
            await asyncio.gather(
                self._pump(link, Direction.UP, reader, link.upstream),
                self._pump(link, Direction.DOWN, up_reader, writer),
            )
        except (ConnectionError, OSError):
            link.abort(reset=True)
        except asyncio.CancelledError:
            # Only aclose() cancels, and only a task that outlived its wait: end quietly, as
            # asyncio's stream callback would report a cancelled connection task as an error.
            pass
        finally:
            link.abort(reset=False)  # a no-op when already closed
            record.closed_at = loop.time()
            self._links.discard(link)
            self._tasks.discard(task)

    async def _pump(
        self,
        link: _Link,
        direction: Direction,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        try:
            while data := await reader.read(_CHUNK):
                if not await self._forward(link, direction, data, writer):
                    return
        except (ConnectionError, OSError):
            link.abort(reset=True)  # the other side sees what this one saw: a reset
            return
        if link.record.blackholed:
            if direction is Direction.UP:
                link.abort(reset=False)  # the client hung up on its dark connection
            # the upstream hung up: the client, in the dark, is told nothing
        elif writer.can_write_eof() and not writer.is_closing():
            with contextlib.suppress(OSError):
                writer.write_eof()  # half-close: the other way may still be answering

    async def _forward(
        self, link: _Link, direction: Direction, data: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        """Relay one chunk under the current faults; False once the connection was reset."""
        await self._hold(link, direction)
        link.started.add(direction)
        while data:
            faults = self._faults  # read again: the faults may change while bytes wait
            if self._closing:
                return False
            if faults.blackhole or link.record.blackholed:
                link.record.blackholed = True
                return True  # dropped
            piece = data
            trickling = faults.trickle_s is not None and direction in faults.trickle
            if trickling:
                piece = data[:1]
                if not await self._wait(faults.trickle_s or 0.0):
                    continue  # the faults changed meanwhile: look again
            budget = self._reset_budget(link, direction, faults)
            cut = budget is not None and len(piece) >= budget
            if cut:
                piece = piece[:budget]  # the rest is never relayed
            if piece:
                writer.write(piece)
                await writer.drain()
                link.count(direction, len(piece), self._epoch)
            if cut:
                self.resets += 1
                link.record.reset = True
                link.abort(reset=True)
                return False
            data = data[len(piece) :]
        return True

    async def _hold(self, link: _Link, direction: Direction) -> None:
        """The delays of the current faults before a chunk; a change of faults counts at once
        (a lifted delay releases what it holds)."""
        start = asyncio.get_running_loop().time()
        while True:
            faults = self._faults
            wait = 0.0
            if direction in faults.delay and not link.record.blackholed:
                wait = faults.chunk_delay_s
                if direction not in link.started:
                    wait += faults.first_byte_delay_s
            left = start + wait - asyncio.get_running_loop().time()
            if left <= 0 or self._closing or await self._wait(left):
                return

    async def _wait(self, seconds: float) -> bool:
        """Sleep `seconds`; False when set() changed the faults before that."""
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), seconds)
        except TimeoutError:
            return True
        return False

    def _reset_budget(self, link: _Link, direction: Direction, faults: Faults) -> int | None:
        """Bytes `direction` may still relay on this connection before the RST, or None."""
        if faults.reset_after_bytes is None or direction not in faults.reset:
            return None
        return max(0, faults.reset_after_bytes - link.sent_since(direction, self._epoch))
