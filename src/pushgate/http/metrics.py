"""Observing HTTP: request metrics, request ids and access logs (one pure ASGI middleware), a
scrape's text with the gauges sampled for it, and the loopback listener of `--metrics-port`.

The middleware is on every request, the registration upsert's hot path included, so it does
the least it can: two clock reads, the status from the response start, the route template
Starlette leaves in the scope after matching (the labelled children cached), one context
variable for the request id, and an access log call that costs nothing below INFO.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from prometheus_client import Metric
from prometheus_client.core import GaugeMetricFamily
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pushgate.delivery.engine import DeliveryEngine
from pushgate.telemetry import (
    ACCESS,
    CONTENT_TYPE,
    HTTP_DURATION,
    HTTP_REQUESTS,
    bind_request,
    exposition,
    multiprocess_mode,
    unbind_request,
)

_log = structlog.get_logger("pushgate.metrics")
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
_PROCESS_PART = os.urandom(4).hex()
_SEQUENCE = itertools.count(1)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_UNMATCHED = "unmatched"  # no route: the raw path would let any caller mint series
_SAMPLE_S = 5.0  # the database read of a scrape; Prometheus' own timeout is 10 s by default


class MetricsMiddleware:
    """Per request: the metrics, a request id (the caller's X-Request-ID when it is a sane
    one, else a new one; answered in X-Request-ID and bound to every log line of the
    request) and one access log line naming the route template, never the raw path (paths
    carry device ids, and some vendor paths tokens)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        status = 500  # what the server answers when the application fails before responding

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        bound = bind_request(request_id, scope)
        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            template = _template(scope)
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            key = (method, template, status)
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = (
                    HTTP_REQUESTS.labels(method, template, str(status)),
                    HTTP_DURATION.labels(method, template),
                )
            children[0].inc()
            children[1].observe(elapsed)
            if ACCESS.enabled:
                ACCESS.write(
                    request_id=request_id,
                    app=scope.get("path_params", {}).get("app"),
                    method=method,
                    route=template,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            unbind_request(bound)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and _REQUEST_ID.fullmatch(value):
            return bytes(value).decode()
    # Unique without a system call per request: this process's random part and a counter.
    return f"{_PROCESS_PART}{next(_SEQUENCE):08x}"


def _template(scope: Scope) -> str:
    """The matched route's path template, with the prefix it was included under.

    FastAPI leaves the route as declared in its router (without the router's prefix) in the
    scope; a prefix is literal, so it is the request path's leading segments beyond the
    template's own. A template with a {name:path} parameter spans any number of segments
    and is taken as it is (the dialects' catch-all routes, mounted at the root).
    """
    route = scope.get("route")
    template: str | None = getattr(route, "path_format", None)
    if not template:
        return _UNMATCHED
    if ":path}" in getattr(route, "path", ""):
        return template
    path: str = scope["path"]
    extra = path.count("/") - template.count("/")
    cut = 0
    for _ in range(extra):
        cut = path.index("/", cut + 1)
    return path[:cut] + template


async def scrape(engine: DeliveryEngine) -> bytes:
    """The text of one scrape: the process's (or every worker's) metrics, and the queue
    backlog read from the queue and the database now."""
    return exposition(await _backlog(engine))


async def _backlog(engine: DeliveryEngine) -> list[Metric]:
    jobs = GaugeMetricFamily(
        "pushgate_queue_jobs",
        "Jobs due or being worked on, by lane (fast, bulk; retry: deliveries waiting for "
        "another attempt), read at scrape time",
        labels=["lane"],
    )
    age = GaugeMetricFamily(
        "pushgate_queue_oldest_job_age_seconds",
        "Age of the oldest due job of the lane (0 when none), read at scrape time",
        labels=["lane"],
    )
    try:
        async with asyncio.timeout(_SAMPLE_S):
            backlog = await engine.backlog()
    except Exception:  # a scrape must answer; the failure is the operator's signal
        _log.warning("queue backlog not read for /metrics", exc_info=True)
        return []
    now = engine.clock()
    for lane in backlog:
        jobs.add_metric([lane.lane], lane.jobs)
        waited = (now - lane.oldest_due_at).total_seconds() if lane.oldest_due_at else 0.0
        age.add_metric([lane.lane], max(waited, 0.0))
    return [jobs, age]


class MetricsListener:
    """GET /metrics without credentials on 127.0.0.1:PORT (`--metrics-port`).

    In multiprocess mode (`serve --workers N`) every worker binds the port (SO_REUSEPORT);
    the kernel hands each scrape to one of them, and each answers with the sum of all
    workers (telemetry.py).
    """

    def __init__(self, port: int, render: Callable[[], Awaitable[bytes]]) -> None:
        self._port = port
        self._render = render
        self._server: asyncio.Server | None = None

    async def start(self) -> bool:
        try:
            # Shared only by the workers of one `serve` (multiprocess mode): two separate
            # processes on one port would each answer with their own counts, alternately.
            self._server = await asyncio.start_server(
                self._answer, "127.0.0.1", self._port, reuse_port=multiprocess_mode()
            )
        except OSError as exc:
            _log.error("metrics port not opened", port=self._port, error=str(exc))
            return False
        return True

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                head = await reader.readuntil(b"\r\n\r\n")
                method, _, rest = head.partition(b" ")
                path = rest.split(b" ", 1)[0].split(b"?", 1)[0]
                if method not in (b"GET", b"HEAD"):
                    status, body = b"405 Method Not Allowed", b"GET /metrics\n"
                elif path != b"/metrics":
                    status, body = b"404 Not Found", b"GET /metrics\n"
                else:
                    status, body = b"200 OK", await self._render()
                writer.write(
                    b"HTTP/1.1 "
                    + status
                    + b"\r\nContent-Type: "
                    + CONTENT_TYPE.encode()
                    + b"\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\nConnection: close\r\n\r\n"
                    + (body if method != b"HEAD" else b"")
                )
                await writer.drain()
        except (
            TimeoutError,
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ):
            pass  # a client that went away or sent no request: nothing to answer
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
