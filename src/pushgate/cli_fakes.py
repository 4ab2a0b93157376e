"""The fake providers for the CLI: `pushgate fakes`, and `pushgate serve --fake-providers`.

Serve mode runs the fakes on an event loop of their own in a thread of the server's process
and hands their addresses to the server through its PUSHGATE_* environment (so uvicorn's
worker processes inherit them): the adapters trust the fakes' CA, every app without
endpoints of its own is pointed at them, and apps without credentials get test credentials
the fakes accept.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from pushgate.fakes.deployment import FakeDeployment, FakeEndpoints

DESCRIPTION = "fakes.json"
CREDENTIALS = "fake-credentials.json"


def environment_for(fakes: FakeDeployment, directory: Path) -> dict[str, str]:
    """The PUSHGATE_* settings that point a server at `fakes` (and writes their files)."""
    credentials = directory / CREDENTIALS
    credentials.touch(mode=0o600, exist_ok=True)  # test secrets, but secrets
    credentials.write_text(json.dumps(fakes.credentials(), indent=2) + "\n")
    endpoints = fakes.endpoints()
    return {
        "PUSHGATE_PROVIDER_CA_FILE": endpoints.ca_file,
        "PUSHGATE_PROVIDER_ENDPOINTS": json.dumps(endpoints.provider_endpoints()),
        "PUSHGATE_ENDPOINT_ALLOW_PRIVATE": "true",
        "PUSHGATE_FAKE_CREDENTIALS": str(credentials),
    }


def start_in_thread(directory: Path, control_port: int) -> FakeEndpoints:
    """Start the fakes on a daemon thread's own loop; their endpoints once they listen."""
    ready = threading.Event()
    found: list[FakeEndpoints | BaseException] = []

    async def run() -> None:
        try:
            async with FakeDeployment(directory, control_port=control_port) as fakes:
                fakes.write(directory / DESCRIPTION)
                os.environ.update(environment_for(fakes, directory))
                found.append(fakes.endpoints())
                ready.set()
                await asyncio.Event().wait()  # until the process exits
        except BaseException as exc:
            found.append(exc)
            ready.set()
            raise

    thread = threading.Thread(target=asyncio.run, args=(run(),), name="pushgate-fakes", daemon=True)
    thread.start()
    if not ready.wait(timeout=60):
        raise RuntimeError("the fake providers did not start within 60 s")
    result = found[0]
    if isinstance(result, BaseException):
        raise RuntimeError(f"the fake providers did not start: {result}") from result
    return result


async def run_forever(
    directory: Path, control_port: int, announce: Callable[[FakeDeployment], None]
) -> None:
    """`pushgate fakes`: serve until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with FakeDeployment(directory, control_port=control_port) as fakes:
        fakes.write(directory / DESCRIPTION)
        environment_for(fakes, directory)
        announce(fakes)
        await stop.wait()
