"""Composition root of the HTTP process: builds the runtime and the FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI

from pushgate import __version__
from pushgate.api import health
from pushgate.api.v1 import router as v1_router
from pushgate.config import Settings
from pushgate.http.deps import Runtime
from pushgate.http.errors import install_error_handlers
from pushgate.http.limits import BodyLimitMiddleware
from pushgate.services.auth import Authenticator, ensure_admin_key
from pushgate.services.vault import Vault, load_master_key
from pushgate.store.engine import Database


def utc_now() -> datetime:
    return datetime.now(UTC)


async def build_runtime(
    settings: Settings, *, db: Database | None = None, clock: Callable[[], datetime] = utc_now
) -> tuple[Runtime, str | None]:
    """Open the database and secrets; returns the runtime and a just-generated admin key."""
    if db is None:
        db = Database(settings.resolved_database_url(), pool_size=settings.db_pool_size)
    master = settings.master_key.get_secret_value() if settings.master_key else None
    vault = Vault(load_master_key(master, settings.data_dir))
    admin = settings.admin_key.get_secret_value() if settings.admin_key else None
    admin_hash, generated = await ensure_admin_key(db, admin, clock())
    auth = Authenticator(
        db,
        admin_key_hash=admin_hash,
        signing_key=vault.derive("oauth-token-signing"),
        token_ttl_s=settings.oauth_token_ttl_s,
        cache_ttl_s=settings.auth_cache_ttl_s,
        clock=clock,
    )
    return Runtime(settings, db, vault, auth, clock), generated


def create_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    """The ASGI app. Without a runtime, the lifespan builds one (and disposes of it)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            yield
            return
        built, _ = await build_runtime(settings)
        app.state.runtime = built
        try:
            yield
        finally:
            await built.db.dispose()

    app = FastAPI(
        title="pushgate",
        version=__version__,
        description="Self-hosted push notifications: native API.",
        lifespan=lifespan,
    )
    if runtime is not None:
        app.state.runtime = runtime
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(v1_router)
    return app


def app_factory() -> FastAPI:
    """uvicorn --factory entry: settings from the environment (PUSHGATE_*)."""
    return create_app(Settings())
