"""Run the operator commands (`pushgate apps ...`) as a user does: a subprocess with
PUSHGATE_URL and PUSHGATE_KEY, talking HTTP to a live server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def cli_env(url: str, key: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHGATE_")}
    env["PUSHGATE_URL"] = url
    if key is not None:
        env["PUSHGATE_KEY"] = key
    env["COLUMNS"] = "200"  # rich tables unwrapped, so assertions read whole rows
    return env


def pushgate(
    url: str, key: str | None, *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`pushgate ARGS` run to its end."""
    return subprocess.run(  # noqa: S603 - our own interpreter and CLI
        [sys.executable, "-m", "pushgate.cli", *args],
        env=cli_env(url, key),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def json_of(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
