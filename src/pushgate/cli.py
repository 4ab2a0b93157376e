"""The `pushgate` command: serve, migrate."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console

from pushgate.app import run_worker, utc_now
from pushgate.config import Settings
from pushgate.services.auth import ensure_admin_key
from pushgate.store.engine import Database
from pushgate.store.migrations import current_revision, head_revision, upgrade
from pushgate.telemetry import configure_logging

app = typer.Typer(help="pushgate: self-hosted push notifications.", no_args_is_help=True)
_err = Console(stderr=True, soft_wrap=True)  # no hard wraps: logs and scripts read lines
_out = Console(soft_wrap=True)


def _settings(**overrides: object) -> Settings:
    try:
        return Settings.model_validate({k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        for error in exc.errors():
            name = "PUSHGATE_" + "_".join(str(p) for p in error["loc"]).upper()
            _err.print(f"[red]error:[/] {name}: {error['msg']}")
        raise typer.Exit(2) from None


async def _migrate(settings: Settings) -> str | None:
    db = Database(settings.resolved_database_url())
    try:
        await upgrade(db)
        return await current_revision(db)
    finally:
        await db.dispose()


async def _prepare(settings: Settings) -> str | None:
    """Migrate, then make sure an admin key exists; returns it when generated just now."""
    await _migrate(settings)
    db = Database(settings.resolved_database_url())
    try:
        admin = settings.admin_key.get_secret_value() if settings.admin_key else None
        _, generated = await ensure_admin_key(db, admin, utc_now())
        return generated
    finally:
        await db.dispose()


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema to the latest revision."""
    settings = _settings()
    revision = asyncio.run(_migrate(settings))
    _out.print(f"database at revision {revision}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [8080]")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="HTTP worker processes")] = 1,
) -> None:
    """Migrate the database and serve the API (SQLite under ./data unless configured)."""
    settings = _settings(host=host, port=port)
    configure_logging(settings.log_level)
    generated = asyncio.run(_prepare(settings))
    if generated is not None:
        _err.print(
            "[bold yellow]Admin key generated; it is shown this once, store it now:[/]\n"
            f"  {generated}\n(set PUSHGATE_ADMIN_KEY to choose your own)"
        )
    # Workers rebuild Settings from the environment, so pass the overrides through it.
    os.environ["PUSHGATE_HOST"] = settings.host
    os.environ["PUSHGATE_PORT"] = str(settings.port)
    _err.print(f"pushgate listening on http://{settings.host}:{settings.port}")
    uvicorn.run(
        "pushgate.app:app_factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        proxy_headers=False,
        server_header=False,
    )


@app.command()
def worker() -> None:
    """Run the delivery worker alone: any number of them, on any machines, one database."""
    settings = _settings()
    configure_logging(settings.log_level)
    revision, head = asyncio.run(_revision(settings)), head_revision()
    if revision != head:
        _err.print(
            f"[red]error:[/] the database is at revision {revision or 'none'}, this worker needs "
            f"{head}: run `pushgate migrate` (or start `pushgate serve`) first"
        )
        raise typer.Exit(2)
    _err.print(f"pushgate worker delivering from {settings.queue} queue")
    asyncio.run(run_worker(settings))


async def _revision(settings: Settings) -> str | None:
    db = Database(settings.resolved_database_url())
    try:
        return await current_revision(db)
    finally:
        await db.dispose()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
