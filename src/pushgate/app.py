"""Composition root of the HTTP process: builds the runtime and the FastAPI application."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import redis.asyncio as redis_async
from fastapi import Depends, FastAPI

from pushgate import __version__
from pushgate.api import health
from pushgate.api import metrics as metrics_api
from pushgate.api.v1 import PREFIX, ROUTERS
from pushgate.config import Settings
from pushgate.console.routes import ROUTERS as CONSOLE_ROUTERS
from pushgate.delivery.engine import DeliveryConfig, DeliveryEngine
from pushgate.delivery.limiter import RateLimiter, RedisLimiter
from pushgate.delivery.queue import Queue
from pushgate.delivery.queue_db import DbQueue
from pushgate.delivery.queue_redis import RedisQueue
from pushgate.delivery.webhook_sender import SenderConfig, WebhookSender
from pushgate.delivery.worker import Worker
from pushgate.dialects import ROUTERS as DIALECT_ROUTERS
from pushgate.http.deps import Runtime
from pushgate.http.errors import install_error_handlers
from pushgate.http.limits import BodyLimitMiddleware
from pushgate.http.metrics import MetricsListener, MetricsMiddleware, scrape
from pushgate.http.openapi import document_security
from pushgate.http.rate_limits import (
    CallerBuckets,
    RedisCallerBuckets,
    RequestLimits,
    SignInFailures,
    refuse_locked_out,
)
from pushgate.providers.base import ProviderOptions
from pushgate.providers.http_httpx import HttpxTransport
from pushgate.providers.registry import ProviderRegistry, default_kinds
from pushgate.services.auth import Authenticator, CallerLimit, ensure_admin_key
from pushgate.services.credential_checks import CheckedCredential, check_credential
from pushgate.services.user_auth import UserAuthenticator
from pushgate.services.users import set_password_cost
from pushgate.services.vault import Vault, load_master_key
from pushgate.store.engine import Database
from pushgate.telemetry import configure_logging, forget_process


def utc_now() -> datetime:
    return datetime.now(UTC)


def process_owner() -> str:
    """This process's lease-owner id: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()[:32]}-{os.getpid()}-{secrets.token_hex(4)}"


def build_engine(
    settings: Settings,
    db: Database,
    vault: Vault,
    *,
    registry: ProviderRegistry | None = None,
    clock: Callable[[], datetime] = utc_now,
    config: DeliveryConfig | None = None,
) -> DeliveryEngine:
    """The delivery engine: queue back end, provider adapters, delivery settings."""
    if registry is None:
        options = ProviderOptions(
            ca_file=str(settings.provider_ca_file) if settings.provider_ca_file else None,
            endpoints=dict(settings.provider_endpoints),
            send_timeout_s=settings.send_timeout_s,
            allow_private_addresses=settings.endpoint_allow_private,
            allowed_hosts=frozenset(h.lower() for h in settings.endpoint_allow_hosts),
        )
        registry = ProviderRegistry(default_kinds(), options)
    config = config or DeliveryConfig(
        lease_s=settings.lease_s,
        send_timeout_s=settings.send_timeout_s,
        inline_deadline_s=settings.inline_deadline_s,
        stall_s=settings.stall_s,
    )
    queue: Queue
    limiter: RateLimiter | None = None
    if settings.redis_url:
        # Rate limits are shared by every worker whenever there is a Redis to share them in.
        limiter = RedisLimiter(
            redis_async.from_url(settings.redis_url), prefix=settings.redis_prefix
        )
    if settings.queue == "redis":
        assert settings.redis_url is not None  # noqa: S101 - Settings refuses redis without it
        queue = RedisQueue(
            settings.redis_url,
            owner=process_owner(),
            lease_s=config.lease_s,
            clock=clock,
            prefix=settings.redis_prefix,
        )
    else:
        queue = DbQueue(db, owner=process_owner(), lease_s=config.lease_s, clock=clock)
    return DeliveryEngine(
        db,
        queue,
        registry,
        vault.open,
        config=config,
        clock=clock,
        limiter=limiter,
        fallback_credentials=load_fallback_credentials(settings.fake_credentials),
    )


def build_webhook_sender(
    settings: Settings,
    db: Database,
    vault: Vault,
    *,
    clock: Callable[[], datetime] = utc_now,
    config: SenderConfig | None = None,
) -> WebhookSender:
    """The webhook sender of a process (`serve` with its worker, or `worker`)."""
    config = config or SenderConfig(
        timeout_s=settings.send_timeout_s,
        allow_private=settings.endpoint_allow_private,
        allow_hosts=frozenset(h.lower() for h in settings.endpoint_allow_hosts),
    )
    ca_file = str(settings.provider_ca_file) if settings.provider_ca_file else None
    return WebhookSender(
        db,
        vault.open,
        HttpxTransport(ca_file=ca_file),
        owner=process_owner(),
        clock=clock,
        config=config,
    )


def load_fallback_credentials(path: Path | None) -> dict[str, CheckedCredential]:
    """{provider: credential} for apps that have none (fake-provider mode), checked as usual."""
    if path is None:
        return {}
    raw = json.loads(path.read_text())
    return {provider: check_credential(provider, fields) for provider, fields in raw.items()}


async def build_runtime(
    settings: Settings,
    *,
    db: Database | None = None,
    clock: Callable[[], datetime] = utc_now,
    registry: ProviderRegistry | None = None,
    delivery: DeliveryConfig | None = None,
) -> tuple[Runtime, str | None]:
    """Open the database and secrets; returns the runtime and a just-generated admin key."""
    if db is None:
        db = Database(settings.resolved_database_url(), pool_size=settings.db_pool_size)
    master = settings.master_key.get_secret_value() if settings.master_key else None
    vault = Vault(load_master_key(master, settings.data_dir))
    admin = settings.admin_key.get_secret_value() if settings.admin_key else None
    admin_hash, generated = await ensure_admin_key(db, admin, clock())
    limits = build_limits(settings, clock)
    auth = Authenticator(
        db,
        admin_key_hash=admin_hash,
        signing_key=vault.derive("oauth-token-signing"),
        token_ttl_s=settings.oauth_token_ttl_s,
        cache_ttl_s=settings.auth_cache_ttl_s,
        clock=clock,
        caller_limit=limits.callers,
    )
    engine = build_engine(settings, db, vault, registry=registry, clock=clock, config=delivery)
    set_password_cost(settings.password_hash_memory_kib, settings.password_hash_passes)
    users = UserAuthenticator(
        db,
        vault,
        cache_ttl_s=settings.auth_cache_ttl_s,
        clock=clock,
        caller_limit=limits.callers,
    )
    return Runtime(settings, db, vault, auth, clock, engine, users, limits), generated


def build_limits(settings: Settings, clock: Callable[[], datetime]) -> RequestLimits:
    """Per-caller buckets (in Redis whenever there is one, as the send limits) and the
    per-address count of failed sign-ins (in this process)."""
    callers: CallerLimit | None = None
    rate, burst = settings.api_rate_per_s, settings.api_burst
    if rate > 0 and settings.redis_url:
        client = redis_async.from_url(settings.redis_url)
        prefix = settings.redis_prefix
        callers = RedisCallerBuckets(
            client, prefix=prefix, rate_per_s=rate, burst=burst, clock=clock
        )
    elif rate > 0:
        callers = CallerBuckets(rate, burst, clock)
    failures = SignInFailures(
        settings.auth_failure_limit,
        settings.auth_failure_window_s,
        clock,
        exempt=settings.auth_failure_exempt,
    )
    return RequestLimits(callers, failures)


def create_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    """The ASGI app. Without a runtime, the lifespan builds one (and disposes of it)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            yield
            return
        built, _ = await build_runtime(settings)
        app.state.runtime = built
        listener = _metrics_listener(settings, built.engine)
        if listener is not None:
            await listener.start()
        worker = Worker(built.engine) if settings.worker else None
        worker_task = asyncio.create_task(worker.run()) if worker else None
        hooks = build_webhook_sender(settings, built.db, built.vault) if settings.worker else None
        hooks_task = asyncio.create_task(hooks.run()) if hooks else None
        # A stop signal starts one grace for everything (reliability.md F3): the worker stops
        # claiming at once while the server drains its requests (cli.py bounds that too).
        asked = asyncio.Event()
        stopped = asyncio.create_task(_stop_when_asked(asked, worker, settings.shutdown_grace_s))
        loop = asyncio.get_running_loop()
        undo_signals = _on_stop_signal(lambda: loop.call_soon_threadsafe(asked.set))
        # Everything built so far lives as long as the process: move it out of the cyclic
        # collector's reach, so a full collection walks request garbage only (measured:
        # p99 of registration upserts on PostgreSQL, see bench/registrations.py).
        gc.freeze()
        # Each request leaves a few hundred container objects; the default threshold of 700
        # runs a young collection every couple of requests.
        gc.set_threshold(50_000, 20, 20)
        try:
            yield
        finally:
            undo_signals()
            asked.set()
            deadline = await stopped
            if worker_task is not None:
                await worker_task
            if hooks is not None and hooks_task is not None:
                await hooks.stop()
                await hooks_task
                await hooks.aclose()
            if listener is not None:
                await listener.stop()
            # Inline deliveries still running get what is left of the same grace.
            await built.engine.aclose(max(0.0, deadline - time.monotonic()))
            await built.limits.aclose()
            await built.db.dispose()
            forget_process(os.getpid())

    app = FastAPI(
        title="pushgate",
        version=__version__,
        description="Self-hosted push notifications: native API.",
        lifespan=lifespan,
        # FastAPI's built-in OpenTelemetry hook reads the environment on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    if runtime is not None:
        app.state.runtime = runtime
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware)  # added last: outermost, times everything
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(metrics_api.router)
    # Every API route checks the caller's address first: one locked out by failed sign-ins
    # is refused before any credential is looked at (http/rate_limits.py).
    locked_out = [Depends(refuse_locked_out)]
    for router in ROUTERS:
        app.include_router(router, prefix=PREFIX, dependencies=locked_out)
    for router in DIALECT_ROUTERS:
        app.include_router(router, dependencies=locked_out)
    # The admin console (/console): HTML pages, left out of the OpenAPI document.
    for router in CONSOLE_ROUTERS:
        app.include_router(router)
    document_security(app, PREFIX)
    return app


async def _stop_when_asked(asked: asyncio.Event, worker: Worker | None, grace_s: float) -> float:
    """Once asked, stop the worker within `grace_s` (running jobs finish, the rest is given
    back: leases released); returns the deadline (monotonic) the whole shutdown shares."""
    await asked.wait()
    deadline = time.monotonic() + grace_s
    if worker is not None:
        await worker.stop(grace_s)
    return deadline


def _on_stop_signal(callback: Callable[[], object]) -> Callable[[], None]:
    """Call `callback` on SIGTERM or SIGINT before the server's own handler; returns the undo.

    uvicorn's handler only starts draining requests, and runs the lifespan's shutdown once
    they are done: without this, deliveries would get their grace only after the drain.
    Python handlers can be chained in the main thread only; elsewhere nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    chained: dict[int, Callable[[int, FrameType | None], Any]] = {
        sig: handler
        for sig in (signal.SIGTERM, signal.SIGINT)
        if callable(handler := signal.getsignal(sig))
    }

    def on_signal(sig: int, frame: FrameType | None) -> None:
        callback()
        chained[sig](sig, frame)

    for sig in chained:
        signal.signal(sig, on_signal)

    def undo() -> None:
        for sig, handler in chained.items():
            signal.signal(sig, handler)

    return undo


def _metrics_listener(settings: Settings, engine: DeliveryEngine) -> MetricsListener | None:
    """--metrics-port: /metrics on 127.0.0.1 without credentials, in this process."""
    if settings.metrics_port is None:
        return None
    return MetricsListener(settings.metrics_port, lambda: scrape(engine))


def app_factory() -> FastAPI:
    """uvicorn --factory entry: settings from the environment (PUSHGATE_*)."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)  # each worker process's own
    return create_app(settings)


async def run_worker(
    settings: Settings,
    *,
    registry: ProviderRegistry | None = None,
    delivery: DeliveryConfig | None = None,
    grace_s: float | None = None,
) -> None:
    """`pushgate worker`: deliver until SIGTERM or SIGINT, then stop within `grace_s`
    (settings.shutdown_grace_s unless given).

    Running jobs may finish during the grace; what is still running then is given back
    (its lease released) so another worker takes it over at once.
    """
    db = Database(settings.resolved_database_url(), pool_size=settings.db_pool_size)
    master = settings.master_key.get_secret_value() if settings.master_key else None
    vault = Vault(load_master_key(master, settings.data_dir))
    engine = build_engine(settings, db, vault, registry=registry, config=delivery)
    worker = Worker(engine)
    hooks = build_webhook_sender(settings, db, vault)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    listener = _metrics_listener(settings, engine)
    if listener is not None:
        await listener.start()
    task = asyncio.create_task(worker.run())
    hooks_task = asyncio.create_task(hooks.run())
    try:
        await stopping.wait()
    finally:
        if listener is not None:
            await listener.stop()
        await worker.stop(settings.shutdown_grace_s if grace_s is None else grace_s)
        await task
        await hooks.stop()
        await hooks_task
        await hooks.aclose()
        await engine.aclose()
        await db.dispose()
