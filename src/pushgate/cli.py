"""The `pushgate` command: serve, worker, migrate, fakes; and the operator commands (apps,
keys, credentials, registrations, send, status), which talk to a server over HTTP."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from pushgate import cli_admin, cli_import, cli_send

# The server side is imported by the commands that run it: the operator commands (HTTP
# clients) then start in a fraction of a second instead of loading the whole server.
if TYPE_CHECKING:
    from pushgate.config import Settings
    from pushgate.fakes.deployment import FakeDeployment

app = typer.Typer(help="pushgate: self-hosted push notifications.", no_args_is_help=True)
_WORKER_HEALTHCHECK_S = 60
_err = Console(stderr=True, soft_wrap=True)  # no hard wraps: logs and scripts read lines
_out = Console(soft_wrap=True)
# The operator commands: HTTP clients of a running server (cli_http.py).
app.add_typer(cli_admin.apps, name="apps")
app.add_typer(cli_admin.keys, name="keys")
app.add_typer(cli_admin.credentials, name="credentials")
app.add_typer(cli_import.registrations, name="registrations")
app.command("send")(cli_send.send)
app.command("status")(cli_send.status)


def _settings(**overrides: object) -> Settings:
    from pydantic import ValidationError

    from pushgate.config import Settings

    try:
        return Settings.model_validate({k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        for error in exc.errors():
            name = "PUSHGATE_" + "_".join(str(p) for p in error["loc"]).upper()
            _err.print(f"[red]error:[/] {name}: {error['msg']}")
        raise typer.Exit(2) from None


async def _migrate(settings: Settings) -> str | None:
    from pushgate.store.engine import Database
    from pushgate.store.migrations import current_revision, upgrade

    db = Database(settings.resolved_database_url())
    try:
        await upgrade(db)
        return await current_revision(db)
    finally:
        await db.dispose()


async def _prepare(settings: Settings) -> str | None:
    """Migrate, then make sure an admin key exists; returns it when generated just now."""
    # Not pushgate.app (~3 s of CPU to import): `serve --workers N` never loads the app in
    # this process, each worker process does.
    from pushgate.services.auth import ensure_admin_key
    from pushgate.store.engine import Database

    await _migrate(settings)
    db = Database(settings.resolved_database_url())
    try:
        admin = settings.admin_key.get_secret_value() if settings.admin_key else None
        _, generated = await ensure_admin_key(db, admin, datetime.now(UTC))
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
        int | None, typer.Option(min=1, max=65535, help="The fakes' control API port [8099]")
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option(help="Serve HTTPS with this certificate chain (PEM)")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="The private key of --tls-cert")] = None,
    tls_client_ca: Annotated[
        Path | None,
        typer.Option(help="Request client certificates, verified against these CAs (X.509 keys)"),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Also serve /metrics on 127.0.0.1 without a key"),
    ] = None,
) -> None:
    """Migrate the database and serve the API (SQLite under ./data unless configured)."""
    import uvicorn

    from pushgate import cli_tls
    from pushgate.http.protocol import BoundedHttpToolsProtocol
    from pushgate.telemetry import configure_logging

    overrides = {
        "host": host,
        "port": port,
        "tls_cert_file": tls_cert,
        "tls_key_file": tls_key,
        "tls_client_ca_file": tls_client_ca,
        "metrics_port": metrics_port,
    }
    settings = _settings(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    if fake_providers:
        _start_fakes((settings.data_dir / "fakes").resolve(), fakes_port or _fakes_port())
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
    if settings.metrics_port is not None:
        os.environ["PUSHGATE_METRICS_PORT"] = str(settings.metrics_port)
    if workers > 1:
        _multiprocess_metrics(settings.data_dir)
    for name, path in (("TLS_CERT_FILE", tls_cert), ("TLS_KEY_FILE", tls_key),
                       ("TLS_CLIENT_CA_FILE", tls_client_ca)):  # fmt: skip
        if path is not None:
            os.environ["PUSHGATE_" + name] = str(path)
    _err.print(f"pushgate listening on {tls.scheme}://{settings.host}:{settings.port}")
    # uvicorn re-raises the SIGTERM it handled once it has shut down gracefully; under the
    # default handler that killed the process by the signal (status 143, which supervisors
    # count as a crash) after a clean stop. This handler makes that a normal exit 0.
    signal.signal(signal.SIGTERM, _exit_stopped)
    uvicorn.run(
        "pushgate.app:app_factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        # pushgate's JSON logs for uvicorn's loggers too (telemetry.py), and its own access
        # line naming the route template instead of uvicorn's, which names the raw path.
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        # Requests in flight at SIGTERM may finish within the grace (app.py gives delivery
        # the same one, from the same signal); then their connections are cut.
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_s),
        # --workers N: uvicorn pings each worker process every 0.5 s and kills (and restarts)
        # one silent for this long. A new one answers only once its interpreter has started
        # and imported this module (spawn); on a busy 2-core machine that took over uvicorn's
        # default 5 s, and workers were killed and respawned in a loop, never serving.
        timeout_worker_healthcheck=_WORKER_HEALTHCHECK_S,
        # httptools with a bound on the request head (431 past 32 KiB; uvicorn's own has
        # none); TLS names its subclass, which adds the client certificate to the scope.
        **{"http": BoundedHttpToolsProtocol, **tls.kwargs},
    )


def _exit_stopped(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def _multiprocess_metrics(data_dir: Path) -> None:
    """Several workers: each writes its metrics to files here and any one answers a scrape
    with the sum (prometheus multiprocess mode, telemetry.py). Emptied at every start, so
    counters begin at zero with the server."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return  # the operator's own directory (and their job to empty it)
    directory = (data_dir / "metrics").resolve()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def _fakes_port() -> int:
    from pushgate.fakes.control import DEFAULT_PORT

    return DEFAULT_PORT


def _start_fakes(directory: Path, port: int) -> None:
    from pushgate import cli_fakes

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
        int | None, typer.Option(min=1, max=65535, help="The control API's port [8099]")
    ] = None,
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the CA and fakes.json are written")
    ] = Path("./data/fakes"),
    json_output: Annotated[
        bool, typer.Option("--json", help="Print endpoints and credentials as JSON")
    ] = False,
) -> None:
    """Run the fake providers alone (develop without Apple or Google accounts)."""
    from pushgate import cli_fakes

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

    asyncio.run(cli_fakes.run_forever(directory, port or _fakes_port(), announce))


@app.command()
def worker(
    metrics_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Serve /metrics on 127.0.0.1 at this port"),
    ] = None,
) -> None:
    """Run the delivery worker alone: any number of them, on any machines, one database."""
    from pushgate.app import run_worker
    from pushgate.store.migrations import head_revision
    from pushgate.telemetry import configure_logging

    settings = _settings(metrics_port=metrics_port)
    configure_logging(settings.log_level, settings.log_format)
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
    from pushgate.store.engine import Database
    from pushgate.store.migrations import current_revision

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
