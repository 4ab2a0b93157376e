"""The fault proxy's faults over real loopback sockets (reliability.md "Harness").

Each fault is observed from the outside: a client protocol records what arrived and when, and
an echo server behind the proxy records what reached it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pushgate.fakes.fault_proxy import Direction, FaultProxy, Faults
from tests.conftest import wait_for

pytestmark = pytest.mark.anyio


class Peer(asyncio.Protocol):
    """One end of a connection: what arrived, when, and how the connection ended."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.data = bytearray()
        self.arrivals: list[tuple[float, int]] = []  # (loop time, bytes)
        self.lost: asyncio.Future[Exception | None] = self.loop.create_future()
        self.transport: asyncio.Transport | None = None
        self._grew = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.data += data
        self.arrivals.append((self.loop.time(), len(data)))
        self._grew.set()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)
        self._grew.set()

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    async def received(self, size: int, timeout_s: float = 5.0) -> bytes:
        """Wait until `size` bytes arrived (or the connection ended); what arrived."""
        async with asyncio.timeout(timeout_s):
            while len(self.data) < size and not self.lost.done():
                self._grew.clear()
                await self._grew.wait()
        return bytes(self.data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Echo(Peer):
    """The upstream's side: answers every byte with itself."""

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        assert self.transport is not None
        self.transport.write(data)


class EchoServer:
    def __init__(self) -> None:
        self.peers: list[Echo] = []
        self.server: asyncio.Server | None = None

    def _peer(self) -> Echo:
        self.peers.append(Echo())
        return self.peers[-1]

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.sockets[0].getsockname()[1]
        return port


@pytest.fixture
async def upstream() -> AsyncIterator[EchoServer]:
    echo = EchoServer()
    echo.server = await asyncio.get_running_loop().create_server(echo._peer, "127.0.0.1", 0)
    yield echo
    for peer in echo.peers:
        peer.close()
    echo.server.close()


@pytest.fixture
async def proxy(upstream: EchoServer) -> AsyncIterator[FaultProxy]:
    async with FaultProxy("127.0.0.1", upstream.port) as running:
        yield running


async def connect(proxy: FaultProxy) -> Peer:
    _, peer = await asyncio.get_running_loop().create_connection(Peer, "127.0.0.1", proxy.port)
    return peer


async def test_relays_both_ways_and_counts_connections(
    proxy: FaultProxy, upstream: EchoServer
) -> None:
    first, second = await connect(proxy), await connect(proxy)
    first.send(b"hello")
    second.send(b"there!")
    assert await first.received(5) == b"hello"
    assert await second.received(6) == b"there!"
    assert proxy.connections == 2 == len(upstream.peers)
    assert [(r.bytes_up, r.bytes_down) for r in proxy.records] == [(5, 5), (6, 6)]
    first.close()
    second.close()
    await asyncio.wait_for(asyncio.gather(*(p.lost for p in upstream.peers)), 5)
    await wait_closed(proxy)
    assert proxy.open_connections == 0


async def wait_closed(proxy: FaultProxy) -> None:
    async def closed() -> bool:
        return proxy.open_connections == 0

    await wait_for(closed, timeout_s=5, what="the proxy's connections to close")


async def test_first_byte_latency_delays_only_a_connections_first_answer(
    proxy: FaultProxy,
) -> None:
    proxy.set(Faults(first_byte_delay_s=0.3))
    peer = await connect(proxy)
    loop = asyncio.get_running_loop()
    start = loop.time()
    peer.send(b"a")
    await peer.received(1)
    first = loop.time() - start
    start = loop.time()
    peer.send(b"b")
    await peer.received(2)
    second = loop.time() - start
    print(f"first answer after {first:.3f} s, second after {second:.3f} s")  # noqa: T201
    assert first >= 0.3
    assert second < 0.25
    peer.close()


async def test_chunk_latency_delays_every_chunk_and_can_be_lifted(proxy: FaultProxy) -> None:
    peer = await connect(proxy)
    proxy.set(Faults(chunk_delay_s=0.2, delay=Direction.UP))  # on an open connection
    loop = asyncio.get_running_loop()
    times = []
    for size in (1, 2):
        start = loop.time()
        peer.send(b"x")
        await peer.received(size)
        times.append(loop.time() - start)
    proxy.set(Faults(chunk_delay_s=30.0, delay=Direction.UP))
    peer.send(b"y")
    with pytest.raises(TimeoutError):
        await peer.received(3, timeout_s=0.2)  # held by the proxy
    start = loop.time()
    proxy.set()  # lifting the delay releases what it holds
    await peer.received(3)
    lifted = loop.time() - start
    print(  # noqa: T201 - the test's figures
        f"round trips {times[0]:.3f} s, {times[1]:.3f} s; released in {lifted:.3f} s"
    )
    assert min(times) >= 0.2
    assert lifted < 0.15
    peer.close()


async def test_reset_after_n_bytes_of_answer(proxy: FaultProxy, upstream: EchoServer) -> None:
    proxy.set(Faults(reset_after_bytes=10, reset=Direction.DOWN))
    peer = await connect(proxy)
    peer.send(bytes(range(100)))
    lost = await asyncio.wait_for(peer.lost, 5)
    assert isinstance(lost, ConnectionResetError)  # a RST, not an orderly close
    assert bytes(peer.data) == bytes(range(10))
    assert isinstance(await asyncio.wait_for(upstream.peers[0].lost, 5), ConnectionResetError)
    assert proxy.resets == 1
    assert proxy.records[0].reset


async def test_reset_after_n_bytes_of_request(proxy: FaultProxy, upstream: EchoServer) -> None:
    peer = await connect(proxy)
    peer.send(b"warm")
    await peer.received(4)
    proxy.set(Faults(reset_after_bytes=10, reset=Direction.UP))  # counted from now on
    peer.send(bytes(100))
    assert isinstance(await asyncio.wait_for(peer.lost, 5), ConnectionResetError)
    assert isinstance(await asyncio.wait_for(upstream.peers[0].lost, 5), ConnectionResetError)
    assert len(upstream.peers[0].data) == 4 + 10


async def test_blackhole_accepts_reads_and_never_answers(
    proxy: FaultProxy, upstream: EchoServer
) -> None:
    proxy.set(Faults(blackhole=True))
    peer = await connect(proxy)  # the connect succeeds
    peer.send(b"anyone there?")
    with pytest.raises(TimeoutError):
        await peer.received(1, timeout_s=0.3)
    assert not peer.data
    assert not peer.lost.done()  # not closed either: silence
    assert not upstream.peers  # never connected on
    assert proxy.connections == 1
    assert proxy.records[0].blackholed
    peer.close()


async def test_blackhole_darkens_open_connections(proxy: FaultProxy, upstream: EchoServer) -> None:
    peer = await connect(proxy)
    peer.send(b"a")
    await peer.received(1)
    proxy.set(Faults(blackhole=True))
    peer.send(b"b")
    with pytest.raises(TimeoutError):
        await peer.received(2, timeout_s=0.3)
    proxy.set()  # lifting it does not revive a connection that lost bytes
    peer.send(b"c")
    with pytest.raises(TimeoutError):
        await peer.received(2, timeout_s=0.2)
    assert bytes(upstream.peers[0].data) == b"a"
    fresh = await connect(proxy)  # new connections are relayed again
    fresh.send(b"d")
    assert await fresh.received(1) == b"d"
    peer.close()
    fresh.close()


async def test_refuse_closes_the_listener_until_accept(proxy: FaultProxy) -> None:
    port = proxy.port
    await proxy.refuse()
    with pytest.raises(ConnectionRefusedError):
        await connect(proxy)
    assert proxy.connections == 0
    await proxy.accept()
    assert proxy.port == port
    peer = await connect(proxy)
    peer.send(b"back")
    assert await peer.received(4) == b"back"
    peer.close()


async def test_trickle_sends_one_byte_every_interval_and_flushes_when_lifted(
    proxy: FaultProxy,
) -> None:
    proxy.set(Faults(trickle_s=0.1))
    peer = await connect(proxy)
    peer.send(b"0123456789" * 5)
    await peer.received(4)
    gaps = [b[0] - a[0] for a, b in zip(peer.arrivals, peer.arrivals[1:], strict=False)]
    assert all(size == 1 for _, size in peer.arrivals)
    assert min(gaps) >= 0.09  # timer granularity
    loop = asyncio.get_running_loop()
    proxy.set()
    start = loop.time()
    assert await peer.received(50) == b"0123456789" * 5
    flushed = loop.time() - start
    print(  # noqa: T201 - the test's figures
        f"trickled gaps {[round(g, 3) for g in gaps]} s; rest flushed in {flushed:.3f} s"
    )
    assert flushed < 0.5
    peer.close()


async def test_a_refused_upstream_is_a_reset(upstream: EchoServer) -> None:
    assert upstream.server is not None
    port = upstream.port
    upstream.server.close()
    await upstream.server.wait_closed()
    async with FaultProxy("127.0.0.1", port) as proxy:
        peer = await connect(proxy)
        assert isinstance(await asyncio.wait_for(peer.lost, 5), ConnectionResetError)
