"""The fakes' HTTP server closes at once, whatever its clients still hold open."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx2
import pytest

from pushgate.fakes.http_server import FakeHttpServer, FakeRequest, FakeResponse
from pushgate.fakes.tls import FakeCertificates

pytestmark = pytest.mark.anyio


async def test_close_with_an_idle_keep_alive_client_is_prompt(tmp_path: Path) -> None:
    certs = FakeCertificates(tmp_path / "ca")

    async def answer(_request: FakeRequest) -> FakeResponse:
        return FakeResponse(200, body=b"ok")

    server = FakeHttpServer(answer, ssl_context=certs.server_context(alpn=("http/1.1",)))
    await server.start()
    async with httpx2.AsyncClient(verify=certs.client_context(), trust_env=False) as client:
        assert (await client.get(server.url + "/")).text == "ok"
        loop = asyncio.get_running_loop()
        start = loop.time()
        await server.aclose()  # the client still holds its TLS connection
        assert loop.time() - start < 0.5


async def test_close_ends_a_paused_answer(tmp_path: Path) -> None:
    entered = asyncio.Event()

    async def slow(_request: FakeRequest) -> FakeResponse:
        entered.set()
        await server.pause(30)
        return FakeResponse(200)

    server = FakeHttpServer(slow, ssl_context=None)
    await server.start()
    async with httpx2.AsyncClient(trust_env=False) as client:
        request = asyncio.create_task(client.get(server.url + "/"))
        await asyncio.wait_for(entered.wait(), 5)
        await server.aclose()
        with pytest.raises(httpx2.TransportError):
            await request  # the connection was aborted: the client sees it at once
