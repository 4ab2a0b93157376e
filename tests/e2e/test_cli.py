"""The `pushgate` command as a user runs it: serve on the embedded default, migrate, bad config."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from pushgate.store.migrations import head_revision
from tests.e2e.server import live_server

KEY_PATTERN = re.compile(r"pga_[A-Za-z0-9_-]{40,}")


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHGATE_")}
    return {**env, "PUSHGATE_DATA_DIR": str(data_dir), **extra}


def _cli(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`pushgate ARGS` run to its end with a clean PUSHGATE_* environment."""
    return subprocess.run(  # noqa: S603 - our own interpreter and CLI
        [sys.executable, "-m", "pushgate.cli", *args],
        env=_env(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_generates_the_admin_key_once_and_keeps_secrets_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with live_server(data_dir, {}) as server:
        printed = KEY_PATTERN.findall(server.log.read_text())
        assert len(printed) == 1, "the generated admin key is printed exactly once"
        admin = {"X-API-Key": printed[0]}
        status, app = server.request("POST", "/v1/apps", {"name": "shop"}, admin)
        assert status == 201, app
        assert isinstance(app["company_id"], int)
    # The embedded default: a SQLite file and a master key only its owner can read.
    assert (data_dir / "pushgate.db").exists()
    assert stat.S_IMODE((data_dir / "master.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    database_bytes = (data_dir / "pushgate.db").read_bytes()
    assert printed[0].encode() not in database_bytes  # only its hash is stored

    with live_server(data_dir, {}) as again:
        assert KEY_PATTERN.findall(again.log.read_text()) == []  # not generated twice
        status, body = again.request("GET", "/v1/apps", headers=admin)
        assert status == 200
        assert [a["name"] for a in body["items"]] == ["shop"]


def test_migrate_reports_the_revision(tmp_path: Path) -> None:
    result = _cli(tmp_path / "data", "migrate")
    assert result.returncode == 0, result.stderr
    assert f"revision {head_revision()}" in result.stdout


def test_bad_configuration_names_the_variable_and_exits_2(tmp_path: Path) -> None:
    result = _cli(tmp_path / "data", "serve", PUSHGATE_PORT="eighty", PUSHGATE_ADMIN_KEY="changeme")
    assert result.returncode == 2
    assert "PUSHGATE_PORT" in result.stderr
    assert "PUSHGATE_ADMIN_KEY" in result.stderr
    assert "changeme" not in result.stderr  # a rejected secret is not echoed


def test_host_and_port_options_choose_the_address(tmp_path: Path) -> None:
    with live_server(tmp_path / "data", {}, "--host", "127.0.0.1") as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert server.request("GET", "/healthz")[0] == 200


def test_worker_refuses_a_database_behind_the_code(tmp_path: Path) -> None:
    result = _cli(tmp_path / "data", "worker")
    assert result.returncode == 2
    assert "pushgate migrate" in result.stderr


def test_worker_delivers_and_stops_on_sigterm(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _env(data_dir)
    assert _cli(data_dir, "migrate").returncode == 0
    with live_server(data_dir, {"PUSHGATE_WORKER": "false"}) as server:
        admin_key = KEY_PATTERN.findall(server.log.read_text())[0]
        admin = {"X-API-Key": admin_key}
        server.request("POST", "/v1/apps", {"name": "shop"}, admin)
        server.request(
            "POST",
            "/v1/apps/shop/registrations",
            {"platform": "ios", "token": "abcd", "topics": ["all"]},
            admin,
        )
        status, sent = server.request(
            "POST",
            "/v1/apps/shop/notifications",
            {"target": {"topics": ["all"]}, "notification": {"alert": "hi"}},
            admin,
        )
        assert status == 202, sent
        log = tmp_path / "worker.log"
        with log.open("wb") as sink:
            worker = subprocess.Popen(
                [sys.executable, "-m", "pushgate.cli", "worker"],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 30
            state = "queued"
            while state != "done" and time.monotonic() < deadline:
                _, found = server.request("GET", f"/v1/apps/shop/notifications/{sent['id']}",
                                          headers=admin)  # fmt: skip
                state = found["state"]
                time.sleep(0.1)  # another process's progress: polled with a deadline
            assert state == "done", log.read_text()[-2000:]
            # Delivered by the worker alone (the server runs none): no APNs credential yet.
            assert found["counts"]["ERROR"] == 1
        finally:
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(timeout=30)
    assert code == 0, log.read_text()[-2000:]
