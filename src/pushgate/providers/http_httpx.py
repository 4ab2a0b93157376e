"""HttpTransport on httpx2, for the low-volume calls (token endpoints, WNS, SMS, webhooks).

httpx2 rather than httpx: httpx over HTTP/2 fails concurrent requests while a server allows
one stream (providers.md section 5, observed); httpx2 passed the same test.
"""

from __future__ import annotations

import asyncio

import httpx2

from pushgate.providers.http import (
    ConnectFailed,
    ConnectionLost,
    Headers,
    HttpResponse,
    TimedOut,
    TransportError,
    client_ssl_context,
)

MAX_ANSWER_BYTES = 1024 * 1024  # a provider's answer is small; a huge one is refused


class HttpxTransport:
    def __init__(
        self, *, ca_file: str | None = None, http2: bool = False, max_connections: int = 10
    ) -> None:
        self._client = httpx2.AsyncClient(
            http2=http2,
            verify=client_ssl_context(ca_file),
            limits=httpx2.Limits(max_connections=max_connections),
            follow_redirects=False,
            trust_env=False,  # proxies and netrc from the environment must not apply here
        )

    async def request(
        self, method: str, url: str, headers: Headers, body: bytes, *, timeout_s: float
    ) -> HttpResponse:
        timeout = httpx2.Timeout(timeout_s)
        try:
            # httpx2's timeouts bound each phase; this bounds the whole exchange, so a server
            # that trickles one byte every few seconds still ends the attempt on time.
            async with (
                asyncio.timeout(timeout_s),
                self._client.stream(
                    method, url, headers=list(headers), content=body, timeout=timeout
                ) as response,
            ):
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_ANSWER_BYTES:
                        raise ConnectionLost(f"answer larger than {MAX_ANSWER_BYTES} bytes")
                    chunks.append(chunk)
                return HttpResponse(
                    response.status_code,
                    [(k.lower(), v) for k, v in response.headers.multi_items()],
                    b"".join(chunks),
                )
        except httpx2.ConnectError as exc:
            raise ConnectFailed(str(exc) or "connection failed") from exc
        except (httpx2.TimeoutException, TimeoutError) as exc:
            raise TimedOut(str(exc) or f"no complete answer within {timeout_s} s") from exc
        except httpx2.TransportError as exc:
            raise ConnectionLost(str(exc) or type(exc).__name__) from exc
        except TransportError:
            raise

    async def aclose(self) -> None:
        await self._client.aclose()
