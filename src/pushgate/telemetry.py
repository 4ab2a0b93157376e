"""Logging setup (structlog, JSON lines or console, one call at start-up) and the Prometheus
metric objects every layer records to.

Metrics live in the process's registry. `pushgate serve --workers N` (N > 1) runs prometheus
multiprocess mode: `serve` points PROMETHEUS_MULTIPROC_DIR at an emptied directory before
uvicorn spawns its workers, every worker writes its values there (memory-mapped files), and
whichever worker answers a scrape reports the sum of all of them (`exposition`). Gauges
sampled at scrape time (queue backlog, open adapters) are not stored at all: the scraping
process reads them from the database and its own state and renders them alongside.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Metric,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

# Counters' *_created series double the series for a timestamp no alert uses.
disable_created_metrics()  # type: ignore[no-untyped-call]

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# HTTP, by route template (never the raw path: ids would explode the series) and status.
HTTP_REQUESTS = Counter(
    "pushgate_http_requests_total",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "pushgate_http_request_duration_seconds",
    "Time from request to the end of the response, by method and route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
NOTIFICATIONS_ACCEPTED = Counter(
    "pushgate_notifications_accepted_total",
    "Notifications accepted (stored with their first job), by target kind",
    ["target"],
)
DELIVERIES = Counter(
    "pushgate_deliveries_total",
    "Delivery attempts by provider and outcome: the provider's answer (sent, retry, "
    "dead_token, rejected, auth) or why nothing was sent (unconfigured, too_large, "
    "rate_limited)",
    ["provider", "outcome"],
)
RETRIES = Counter(
    "pushgate_delivery_retries_total",
    "Deliveries scheduled for another attempt, by provider",
    ["provider"],
)
TOKEN_INVALIDATIONS = Counter(
    "pushgate_token_invalidations_total",
    "Provider answers that a device token is dead (its registration is deactivated unless "
    "the device registered again since), by provider",
    ["provider"],
)
CREDENTIALS_SUSPECT = Counter(
    "pushgate_credential_suspect_total",
    "Batches whose invalid-token answers marked the app's credential suspect, by provider",
    ["provider"],
)
PROVIDER_SEND_DURATION = Histogram(
    "pushgate_provider_send_duration_seconds",
    "Time one group of a batch spent in its provider adapter (all its requests), by provider",
    ["provider"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

# reliability.md F6: requests that may have reached the provider but got no answer (the
# connection broke after sending, or the deadline passed). They are retried, so a device may
# get them twice; requests provably never processed (refused streams, above a GOAWAY's last
# stream id) are resent without counting here.
PROVIDER_AMBIGUOUS = Counter(
    "pushgate_provider_ambiguous_total",
    "Requests sent without an answer (maybe delivered, retried), by provider and failure: "
    "connection_lost or timeout",
    ["provider", "failure"],
)

PROVIDER_ADAPTERS = Gauge(
    "pushgate_provider_adapters",
    "Open provider adapters, by provider: one per app and provider, each owning its "
    "connections (HTTP/2, multiplexed) and auth tokens",
    ["provider"],
    multiprocess_mode="livesum",
)


def multiprocess_mode() -> bool:
    """Metrics are kept in files shared by the workers of one server (serve --workers N)."""
    return bool(os.environ.get(MULTIPROCESS_ENV))


def exposition(sampled: Iterable[Metric] = ()) -> bytes:
    """The text a scrape gets: this process's metrics (every worker's, in multiprocess mode)
    and the families sampled for this scrape."""
    if multiprocess_mode():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    families = list(sampled)
    if not families:
        return text
    extra = CollectorRegistry(auto_describe=False)
    extra.register(_Sampled(families))
    return text + generate_latest(extra)


class _Sampled(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def forget_process(pid: int) -> None:
    """Multiprocess mode: drop a stopped worker's live gauges (its counters keep counting)."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def configure_logging(level: str = "INFO", log_format: str = "auto") -> None:
    """One JSON object a line on stderr (`auto`: console lines on a terminal), for structlog's
    loggers and the standard library's (uvicorn, SQLAlchemy) alike.

    Every line carries the time, level, logger and what is bound where it is known: the
    request id and app of the request being served, the job and notification of the job
    being delivered. Secrets are blanked and device tokens shortened on the way out
    (`_redact`), so a value that reaches a log call by mistake still never reaches the log.
    """
    json_lines = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer()
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        _request_context,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redact,
    ]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # start-up noise
    # aiosqlite's DEBUG lines are the repr of every statement it runs, parameters included:
    # device tokens, Web Push keys and notification text in the log at PUSHGATE_LOG_LEVEL=DEBUG
    # (reliability.md S5, tests/integration/api/test_canaries.py). SQLAlchemy keeps its own
    # statement log off unless asked; this keeps the driver's quiet too.
    logging.getLogger("aiosqlite").setLevel(max(root.level, logging.INFO))
    ACCESS.configure(enabled=root.isEnabledFor(logging.INFO), json_lines=json_lines)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        cache_logger_on_first_use=True,
    )


class AccessLog:
    """One line per HTTP request, written by the HTTP middleware.

    It is on the registration upsert's hot path: through structlog's processors and the
    logging module a line costs ~70 us (measured), a quarter of an upsert; written directly
    as the same JSON object it costs a few. Console output (a terminal) takes the logger.
    """

    def __init__(self) -> None:
        self.enabled = False
        self._json_lines = True
        self._logger = structlog.get_logger("pushgate.access")

    def configure(self, *, enabled: bool, json_lines: bool) -> None:
        self.enabled = enabled
        self._json_lines = json_lines

    def write(self, **fields: Any) -> None:
        if not self._json_lines:
            self._logger.info("request", **fields)
            return
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        line = {"event": "request", **{k: v for k, v in fields.items() if v is not None}}
        line.update(level="info", logger="pushgate.access", timestamp=now)
        sys.stderr.write(json.dumps(line) + "\n")


ACCESS = AccessLog()


# The request being served, set by the HTTP middleware (http/metrics.py) for the request's
# task: its id, and its ASGI scope, whose path parameters (the app) are known once routed.
_REQUEST: ContextVar[tuple[str, Mapping[str, Any]] | None] = ContextVar(
    "pushgate_request", default=None
)


def bind_request(request_id: str, scope: Mapping[str, Any]) -> Token[Any]:
    return _REQUEST.set((request_id, scope))


def unbind_request(token: Token[Any]) -> None:
    _REQUEST.reset(token)


def _request_context(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    current = _REQUEST.get()
    if current is not None:
        request_id, scope = current
        event.setdefault("request_id", request_id)
        app = scope.get("path_params", {}).get("app")
        if app:
            event.setdefault("app", app)
    return event


_SECRET_NAMES = ("secret", "password", "api_key", "private_key", "authorization", "cookie")
_TOKEN_NAMES = frozenset({"token", "device_token", "push_token", "registration_token"})
# pushgate's own keys and user tokens, JWTs and PEM blocks, wherever they appear in a line.
_SECRET_TEXT = re.compile(
    r"\bpg[akus]_[A-Za-z0-9_-]{8,}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
    r"|-----BEGIN [A-Z ]+-----[^-]*(-----END [A-Z ]+-----)?"
)
REDACTED = "[redacted]"


def short_token(token: str) -> str:
    """A device token as logs show it: enough to tell tokens apart, not to use one."""
    return token if len(token) <= 8 else f"{token[:6]}...({len(token)})"


def _redact(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for name, value in event.items():
        lowered = name.lower()
        if lowered == "key" or any(part in lowered for part in _SECRET_NAMES):
            event[name] = REDACTED
        elif lowered in _TOKEN_NAMES and isinstance(value, str):
            event[name] = short_token(value)
        elif isinstance(value, str) and _SECRET_TEXT.search(value):
            event[name] = _SECRET_TEXT.sub(REDACTED, value)
    return event
