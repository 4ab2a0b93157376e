"""Private PostgreSQL servers for destructive tests (reliability.md, Harness).

Started and crashed by the tests themselves, never the shared server. PostgreSQL's tools
refuse to run as root, so they run as the postgres user (`runuser -u postgres --`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
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
