"""The `pushgate` command: serve, migrate."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console

from pushgate import cli_fakes, cli_tls
from pushgate.app import run_worker, utc_now
from pushgate.config import Settings
from pushgate.fakes.control import DEFAULT_PORT as DEFAULT_FAKES_PORT
from pushgate.fakes.deployment import FakeDeployment
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
    fake_providers: Annotated[
        bool,
        typer.Option(
            "--fake-providers",
            help="Start the fake APNs/FCM/Web Push/WNS/SMS in-process and deliver to them",
        ),
    ] = False,
    fakes_port: Annotated[
        int, typer.Option(min=1, max=65535, help="The fakes' control API port [8099]")
    ] = DEFAULT_FAKES_PORT,
    tls_cert: Annotated[
        Path | None, typer.Option(help="Serve HTTPS with this certificate chain (PEM)")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="The private key of --tls-cert")] = None,
    tls_client_ca: Annotated[
        Path | None,
        typer.Option(help="Request client certificates, verified against these CAs (X.509 keys)"),
    ] = None,
) -> None:
    """Migrate the database and serve the API (SQLite under ./data unless configured)."""
    overrides = {
        "host": host,
        "port": port,
        "tls_cert_file": tls_cert,
        "tls_key_file": tls_key,
        "tls_client_ca_file": tls_client_ca,
    }
    settings = _settings(**overrides)
    configure_logging(settings.log_level)
    if fake_providers:
        _start_fakes((settings.data_dir / "fakes").resolve(), fakes_port)
        settings = _settings(**overrides)  # now with the fakes' PUSHGATE_* settings
    try:
        tls = cli_tls.tls_options(settings)
    except FileNotFoundError as exc:
        _err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    generated = asyncio.run(_prepare(settings))
    if generated is not None:
        _err.print(
            "[bold yellow]Admin key generated; it is shown this once, store it now:[/]\n"
            f"  {generated}\n(set PUSHGATE_ADMIN_KEY to choose your own)"
        )
    # Workers rebuild Settings from the environment, so pass the overrides through it.
    os.environ["PUSHGATE_HOST"] = settings.host
    os.environ["PUSHGATE_PORT"] = str(settings.port)
    for name, path in (("TLS_CERT_FILE", tls_cert), ("TLS_KEY_FILE", tls_key),
                       ("TLS_CLIENT_CA_FILE", tls_client_ca)):  # fmt: skip
        if path is not None:
            os.environ["PUSHGATE_" + name] = str(path)
    _err.print(f"pushgate listening on {tls.scheme}://{settings.host}:{settings.port}")
    uvicorn.run(
        "pushgate.app:app_factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        proxy_headers=False,
        server_header=False,
        **tls.kwargs,
    )


def _start_fakes(directory: Path, port: int) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    endpoints = cli_fakes.start_in_thread(directory, port)
    _err.print(
        "[bold]fake providers[/] (their CA: " + endpoints.ca_file + ")\n"
        f"  APNs {endpoints.apns} (sandbox {endpoints.apns_sandbox})\n"
        f"  FCM {endpoints.fcm}  Web Push {endpoints.webpush}  WNS {endpoints.wns}\n"
        f"  SMS {endpoints.sms}\n"
        f"  control API {endpoints.control} (GET /received, PUT /behaviour, "
        "POST /webpush/subscriptions)\n"
        "  apps without credentials deliver to them with test credentials"
    )


@app.command()
def fakes(
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="The control API's port [8099]")
    ] = DEFAULT_FAKES_PORT,
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the CA and fakes.json are written")
    ] = Path("./data/fakes"),
    json_output: Annotated[
        bool, typer.Option("--json", help="Print endpoints and credentials as JSON")
    ] = False,
) -> None:
    """Run the fake providers alone (develop without Apple or Google accounts)."""
    directory = directory.resolve()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def announce(deployment: FakeDeployment) -> None:
        if json_output:  # one line, for scripts
            sys.stdout.write(json.dumps(deployment.describe()) + "\n")
            sys.stdout.flush()
            return
        endpoints = deployment.endpoints()
        _err.print(f"fake providers running; everything a client needs: {directory / 'fakes.json'}")
        for name in ("apns", "apns_sandbox", "fcm", "fcm_token", "webpush", "wns", "sms"):
            _err.print(f"  {name:13} {getattr(endpoints, name)}")
        _err.print(f"  control API   {endpoints.control}\n  CA file       {endpoints.ca_file}")

    asyncio.run(cli_fakes.run_forever(directory, port, announce))


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
