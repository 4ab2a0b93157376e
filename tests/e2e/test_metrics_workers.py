"""`pushgate serve --workers 2 --metrics-port P`: whichever worker answers a scrape, on the
loopback port or on /metrics with the admin key, it reports the sum of both workers."""

from __future__ import annotations

import secrets
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import MASTER_KEY
from tests.e2e.server import free_port, live_server

ADMIN_KEY = "pga_metrics-" + secrets.token_hex(16)
ADMIN = {"X-API-Key": ADMIN_KEY}
ROUTE = "/v1/apps/{app}/registrations"


def _registrations_counted(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "pushgate_http_requests_total"
                and labels.get("route") == ROUTE
                and labels.get("status") == "201"
            ):
                return float(sample.value)
    return 0.0


def _scrape(url: str, headers: dict[str, str] | None = None) -> str:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - our loopback
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text: str = response.read().decode()
        return text


def test_every_scrape_sums_all_workers(tmp_path: Path) -> None:
    metrics_port = free_port()
    env = {"PUSHGATE_ADMIN_KEY": ADMIN_KEY, "PUSHGATE_MASTER_KEY": MASTER_KEY}
    data_dir = tmp_path / "data"
    args = ("--workers", "2", "--metrics-port", str(metrics_port))
    with live_server(data_dir, env, *args) as server:
        assert server.request("POST", "/v1/apps", {"name": "news"}, ADMIN)[0] == 201

        def workers_written() -> set[str]:
            return {path.name.rsplit("_", 1)[-1] for path in (data_dir / "metrics").glob("*.db")}

        # The server is ready as soon as one worker is: register until both have answered
        # (the kernel spreads connections over them), so that the sums below mean something.
        registrations = 0
        deadline = time.monotonic() + 60
        while registrations < 40 or len(workers_written()) < 2:
            assert time.monotonic() < deadline, f"one worker answered all: {workers_written()}"
            status, _ = server.request(
                "POST",
                "/v1/apps/news/registrations",
                {"platform": "ios", "token": f"t{registrations}"},
                ADMIN,
            )
            assert status == 201
            registrations += 1
        # The kernel spreads connections over both workers (SO_REUSEPORT): every answer
        # must be the sum, whichever worker gives it.
        counted = {
            _registrations_counted(_scrape(f"http://127.0.0.1:{metrics_port}/metrics"))
            for _ in range(8)
        }
        assert counted == {registrations}
        with_key = _scrape(server.base_url + "/metrics", ADMIN)
        assert _registrations_counted(with_key) == registrations
        assert "pushgate_queue_jobs" in with_key
        assert server.request("GET", "/metrics")[0] == 401
        assert len(workers_written()) >= 2  # one set of files per worker process
