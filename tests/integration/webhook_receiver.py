"""A webhook receiver for tests: a real HTTP server on loopback that records what it gets,
checks every signature, and can be told to fail its first requests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pushgate.domain.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from pushgate.fakes.http_server import FakeHttpServer, FakeRequest, FakeResponse


class Receiver:
    def __init__(self, *, fail_first: int = 0, fail_status: int = 500) -> None:
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.requests: list[FakeRequest] = []
        self.secrets: dict[str, str] = {}  # webhook name -> its signing secret
        self.url = ""

    async def handle(self, request: FakeRequest) -> FakeResponse:
        self.requests.append(request)
        if len(self.requests) <= self.fail_first:
            return FakeResponse(self.fail_status, [], b"not now")
        return FakeResponse(204)

    def signed_correctly(self, request: FakeRequest) -> bool:
        secret = self.secrets[request.header("x-pushgate-webhook") or ""]
        timestamp = int(request.header(TIMESTAMP_HEADER) or "0")
        return verify(secret, timestamp, request.body, request.header(SIGNATURE_HEADER) or "")

    def events(self, *, accepted_only: bool = True) -> list[dict[str, Any]]:
        """The bodies received (only those answered 2xx, by default), in order."""
        chosen = self.requests[self.fail_first :] if accepted_only else self.requests
        return [json.loads(r.body) for r in chosen]

    def kinds(self) -> list[str]:
        return [e["kind"] for e in self.events()]


@asynccontextmanager
async def receiving(**options: Any) -> AsyncIterator[Receiver]:
    receiver = Receiver(**options)
    server = FakeHttpServer(receiver.handle, ssl_context=None)
    await server.start()
    receiver.url = server.url + "/hooks/pushgate"
    try:
        yield receiver
    finally:
        await server.aclose()
