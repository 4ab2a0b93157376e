"""Request body limit, enforced while reading: a declared or streamed oversize is never buffered.

Both cases raise an HTTPException subclass from the body reader (the first read when
Content-Length already declares too much, before a byte is taken; the read that crosses the
limit when streamed), so FastAPI passes it to the handler of whichever front door the route
belongs to: the native envelope for /v1, the vendor's shape for a dialect (http/dialect.py).
Starlette's own limiter would answer in plain text, and answering here, before routing,
would always be the native envelope.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLargeError(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared_over = any(
            name == b"content-length" and (not value.isdigit() or int(value) > self.limit)
            for name, value in scope["headers"]
        )
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if declared_over:
                raise BodyTooLargeError(self.limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLargeError(self.limit)
            return message

        await self.app(scope, limited_receive, send)
