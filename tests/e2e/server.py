"""A real `pushgate serve` subprocess on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    def __init__(self, base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.base_url = base_url
        self.process = process
        self.log = log

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - our own loopback server
            self.base_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None


def _wait_until_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pushgate serve exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(base_url + "/readyz", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)  # polling another process's socket: nothing to await here
    raise RuntimeError(f"pushgate serve not ready in 60 s:\n{log.read_text()[-3000:]}")


@contextmanager
def live_server(data_dir: Path, env: dict[str, str], *args: str) -> Iterator[LiveServer]:
    """Start `pushgate serve` with the given PUSHGATE_* environment; stop it afterwards."""
    port = free_port()
    # Beside the data directory, which pushgate itself must create (private, 0700).
    log = data_dir.parent / f"{data_dir.name}-serve-{port}.log"
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PUSHGATE_")},
        "PUSHGATE_DATA_DIR": str(data_dir),
        **env,
    }
    command = [sys.executable, "-m", "pushgate.cli", "serve", "--port", str(port), *args]
    with log.open("wb") as sink:
        # Our own interpreter running our own CLI: no untrusted input.
        process = subprocess.Popen(  # noqa: S603
            command, env=full_env, stdout=sink, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(base_url, process, log)
        yield LiveServer(base_url, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
