"""`pushgate serve --fake-providers`: a new user delivers to every fake without accounts."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.e2e.server import free_port, live_server

KEY_PATTERN = re.compile(r"pga_[A-Za-z0-9_-]{40,}")


def control(url: str, method: str = "GET", body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def test_an_app_without_credentials_delivers_to_every_fake(tmp_path: Path) -> None:
    fakes_port = free_port()
    data_dir = tmp_path / "data"
    with live_server(data_dir, {}, "--fake-providers", "--fakes-port", str(fakes_port)) as server:
        admin = {"X-API-Key": KEY_PATTERN.findall(server.log.read_text())[0]}
        fakes = f"http://127.0.0.1:{fakes_port}"
        subscription = control(f"{fakes}/webpush/subscriptions", "POST", {})
        server.request("POST", "/v1/apps", {"name": "news"}, admin)
        devices = [
            {"platform": "ios", "token": "a1b2c3d4"},
            {"platform": "apns_internal", "token": "a1b2c3d5"},  # the sandbox listener
            {"platform": "android", "token": "fcm-token-1"},
            {"platform": "webpush", "token": subscription["endpoint"],
             "keys": subscription["keys"]},
            {"platform": "sms", "token": "+15550001234"},
            {"platform": "ios", "token": "dead0001"},  # the fake answers 410 Unregistered
        ]  # fmt: skip
        for device in devices:
            status, body = server.request(
                "POST", "/v1/apps/news/registrations", {**device, "topics": ["sport"]}, admin
            )
            assert status == 201, body
        status, sent = server.request(
            "POST",
            "/v1/apps/news/notifications",
            {"target": {"topics": ["sport"]}, "notification": {"title": "Goal!", "alert": "2:1"}},
            admin,
        )
        assert status == 202, sent
        deadline = time.monotonic() + 30
        found: dict[str, Any] = {}
        while time.monotonic() < deadline:  # another process's progress: polled
            _, found = server.request("GET", f"/v1/apps/news/notifications/{sent['id']}",
                                      headers=admin)  # fmt: skip
            if found["state"] == "done":
                break
            time.sleep(0.1)
        assert found["counts"]["SENT"] == 5, found
        assert found["counts"]["ERROR"] == 1
        received = control(f"{fakes}/received")
        by_provider = sorted(item["provider"] for item in received)
        assert by_provider == ["apns", "apns", "fcm", "sms", "webpush"]
        webpush = next(item for item in received if item["provider"] == "webpush")
        assert webpush["payload"] == {"title": "Goal!", "body": "2:1"}  # decrypted by the fake
    description = json.loads((data_dir / "fakes" / "fakes.json").read_text())
    assert set(description["credentials"]) == {"apns", "fcm", "webpush", "wns", "sms"}
    assert (data_dir / "fakes" / "fakes.json").stat().st_mode & 0o077 == 0


def test_pushgate_fakes_prints_what_a_client_needs_and_stops_on_sigterm(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHGATE_")}
    command = [sys.executable, "-m", "pushgate.cli", "fakes", "--json", "--port", str(port),
               "--dir", str(tmp_path / "fakes")]  # fmt: skip
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # --json: one line
        assert line, "pushgate fakes exited before printing"
        described = json.loads(line)
        assert described["endpoints"]["control"] == f"http://127.0.0.1:{port}"
        assert control(f"http://127.0.0.1:{port}/received") == []
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=30)  # also closes its pipes
    assert process.returncode == 0, errors
    assert set(described["credentials"]["apns"]) == {"key_id", "team_id", "key", "topic"}
