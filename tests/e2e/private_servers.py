"""Private PostgreSQL and Redis servers for destructive tests (reliability.md, Harness).

Started and crashed by the tests themselves, never the shared server. PostgreSQL's tools
refuse to run as root, so they run as the postgres user (`runuser -u postgres --`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import service_unavailable
from tests.e2e.server import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(*command: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


class PrivatePostgres:
    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=on"
        subprocess.run(  # noqa: S603 - our own fixed command line
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.directory / "data"),
                         "-o", options, "-l", str(self.directory / "log"), "-w", *args),
            check=True,
            capture_output=True,
            timeout=60,
        )  # fmt: skip

    def start(self) -> None:
        self._ctl("start")

    def crash_restart(self) -> None:
        """An immediate-mode restart: what a crash and a supervisor restart look like."""
        self._ctl("-m", "immediate", "restart")

    def stop(self) -> None:
        self._ctl("-m", "immediate", "stop")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A new PostgreSQL cluster on a free port, trust auth; removed afterwards."""
    if not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
        service_unavailable("a private PostgreSQL", f"no {PG_BIN / 'initdb'} or runuser")
    directory = Path(tempfile.mkdtemp(prefix="pushgate-pg-"))
    shutil.chown(directory, "postgres", "postgres")
    server = PrivatePostgres(directory, free_port())
    subprocess.run(  # noqa: S603 - our own fixed command line
        _as_postgres(str(PG_BIN / "initdb"), "-D", str(directory / "data"), "-A", "trust",
                     "-U", "postgres"),
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(directory, ignore_errors=True)


class PrivateRedis:
    def __init__(self, directory: Path, port: int, *, appendonly: bool) -> None:
        self.directory = directory
        self.port = port
        self.appendonly = appendonly
        self.url = f"redis://127.0.0.1:{port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.directory), "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "always",
        ]  # fmt: skip
        with (self.directory / "redis.log").open("ab") as log:  # the child keeps its own copy
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # another process's port: polled, not awaited
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not listen on {self.port}")

    def kill(self) -> None:
        """kill -9: no shutdown save; only what the append-only file holds survives."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


@contextmanager
def private_redis(*, appendonly: bool) -> Iterator[PrivateRedis]:
    """A redis-server of the test's own on a free port (the shared one keeps nothing on disk)."""
    if shutil.which("redis-server") is None:
        service_unavailable("a private Redis", "no redis-server on PATH")
    directory = Path(tempfile.mkdtemp(prefix="pushgate-redis-"))
    server = PrivateRedis(directory, free_port(), appendonly=appendonly)
    server.start()
    try:
        yield server
    finally:
        server.kill()
        shutil.rmtree(directory, ignore_errors=True)
