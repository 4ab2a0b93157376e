"""A `pushgate serve` whose clock is wrong, under libfaketime, against a fake APNs on the real
time (reliability.md F12).

APNs refuses a provider token whose `iat` is over an hour old or ahead of its own clock, and
answers 429 TooManyProviderTokenUpdates when a key signs more than two tokens in 20 minutes.
Pass: a clock hours behind ends the deliveries in one clear error instead of a burst of tokens
(one token however many sends), and once a live jump of +3 h fixes the clock the token is
renewed once and deliveries succeed again. (A clock ahead of Apple's meets the same path:
InvalidProviderToken, reported by the same line.)
`FAKETIME_DONT_FAKE_MONOTONIC=1` keeps asyncio's timers on the real monotonic clock.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pushgate.cli_fakes import environment_for
from pushgate.fakes.deployment import FakeDeployment
from tests.e2e.server import LiveServer, free_port, live_server

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
SENDS = 3

pytestmark = pytest.mark.slow


@contextmanager
def fakes_in_thread(directory: Path) -> Iterator[FakeDeployment]:
    """The fakes on an event loop of their own, so blocking HTTP calls of the test don't stall
    them; they run on the real clock."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fakes", daemon=True)
    thread.start()
    fakes = FakeDeployment(directory, control_port=free_port())
    asyncio.run_coroutine_threadsafe(fakes.__aenter__(), loop).result(timeout=60)
    try:
        yield fakes
    finally:
        asyncio.run_coroutine_threadsafe(fakes.__aexit__(None, None, None), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@contextmanager
def skewed_server(tmp_path: Path, fakes: FakeDeployment, offset: str) -> Iterator[LiveServer]:
    if not LIBFAKETIME.exists():
        pytest.fail(
            f"{LIBFAKETIME} is missing: run scripts/ensure-package {LIBFAKETIME} faketime (as root)"
        )
    clock_file = tmp_path / "faketime"
    clock_file.write_text(offset + "\n")
    env = {
        **environment_for(fakes, tmp_path),
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME_TIMESTAMP_FILE": str(clock_file),
        "FAKETIME_CACHE_DURATION": "1",  # the file is read again every second: live jumps
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "PUSHGATE_LOG_FORMAT": "json",
    }
    with live_server(tmp_path / "data", env) as server:
        yield server


def _admin(server: LiveServer) -> dict[str, str]:
    for line in server.log.read_text().splitlines():
        if "pga_" in line:
            key = next(word for word in line.replace('"', " ").split() if word.startswith("pga_"))
            return {"X-API-Key": key}
    raise AssertionError("no admin key in the log")


def _send_and_wait(server: LiveServer, admin: dict[str, str], alert: str) -> dict[str, Any]:
    status, sent = server.request(
        "POST",
        "/v1/apps/news/notifications",
        {"target": {"topics": ["all"]}, "notification": {"alert": alert}},
        admin,
    )
    assert status in (200, 202), sent
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # another process's progress: polled with a deadline
        _, found = server.request("GET", f"/v1/apps/news/notifications/{sent['id']}", None, admin)
        if found["state"] == "done":
            return dict(found)
        time.sleep(0.1)
    raise AssertionError(f"{alert}: not done in 60 s")


def _setup(server: LiveServer, admin: dict[str, str]) -> None:
    assert server.request("POST", "/v1/apps", {"name": "news"}, admin)[0] == 201
    device = {"platform": "ios", "token": "ab" * 32, "topics": ["all"]}
    status, body = server.request("POST", "/v1/apps/news/registrations", device, admin)
    assert status == 201, body


def _log_events(server: LiveServer) -> list[dict[str, Any]]:
    events = []
    for line in server.log.read_text().splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    return events


def test_a_clock_hours_behind_fails_clearly_without_a_burst_and_recovers_after_a_live_jump(
    tmp_path: Path,
) -> None:
    with (
        fakes_in_thread(tmp_path / "fakes") as fakes,
        skewed_server(tmp_path, fakes, "-3h") as server,
    ):
        admin = _admin(server)
        _setup(server, admin)
        behind = [_send_and_wait(server, admin, f"behind {i}") for i in range(SENDS)]
        tokens_behind = fakes.apns.verifier.tokens_seen
        clock_errors = [e for e in _log_events(server) if "clock" in str(e.get("event", ""))]
        # The operator fixes the clock: a live jump of +3 h. The process reads the clock file
        # again once its cache (1 s) runs out: sends go on until one is delivered.
        (tmp_path / "faketime").write_text("+0\n")
        fixed = [_send_and_wait(server, admin, "fixed 0")]
        deadline = time.monotonic() + 60
        while fixed[-1]["counts"]["SENT"] != 1 and time.monotonic() < deadline:
            fixed.append(_send_and_wait(server, admin, f"fixed {len(fixed)}"))
        tokens_total = fakes.apns.verifier.tokens_seen
    print(  # noqa: T201 - the fault test's figures
        f"\nclock 3 h behind: {SENDS} sends end {[r['counts']['ERROR'] for r in behind]} ERROR, "
        f"{tokens_behind} provider token(s) seen by APNs, clock errors logged: "
        f"{len(clock_errors)} ({clock_errors[0]['event'] if clock_errors else None!r}); after a "
        f"live jump of +3 h: SENT {[r['counts']['SENT'] for r in fixed]}, {tokens_total} tokens"
    )
    assert all(r["counts"]["ERROR"] == 1 and not r["counts"]["SENT"] for r in behind), behind
    assert tokens_behind == 1  # no renewal burst: one token, refused, not re-signed per batch
    assert len(clock_errors) == 1, clock_errors  # one clear line, not one per delivery
    assert fixed[-1]["counts"]["SENT"] == 1, fixed
    assert tokens_total == 2  # one renewal: the old token was 3 h old by the fixed clock
