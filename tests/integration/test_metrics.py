"""/metrics on SQLite and PostgreSQL: request metrics by route template, who may read them,
the queue backlog sampled at scrape time, and the unauthenticated loopback listener."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pushgate.http.deps import Runtime
from pushgate.http.metrics import MetricsListener, scrape
from tests.conftest import ADMIN_KEY
from tests.e2e.server import free_port
from tests.integration.api.helpers import key_header, make_app, make_key

pytestmark = pytest.mark.anyio
ADMIN = {"X-API-Key": ADMIN_KEY}
REGISTRATIONS = "/v1/apps/{app}/registrations"


def value(text: str, name: str, **labels: str) -> float:
    """The sample `name{labels}` of a scrape (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


async def _metrics(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics", headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    await make_app(client, "news")
    before = await _metrics(client)
    created = await client.post(
        "/v1/apps/news/registrations", json={"platform": "ios", "token": "t1"}, headers=ADMIN
    )
    assert created.status_code == 201
    missing = await client.get("/v1/apps/news/registrations/" + "0" * 32, headers=ADMIN)
    assert missing.status_code == 404
    assert (await client.get("/no/such/path", headers=ADMIN)).status_code == 404
    after = await _metrics(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert (
        grew("pushgate_http_requests_total", method="POST", route=REGISTRATIONS, status="201") == 1
    )
    by_id = REGISTRATIONS + "/{registration_id}"
    assert grew("pushgate_http_requests_total", method="GET", route=by_id, status="404") == 1
    assert grew("pushgate_http_requests_total", route="unmatched", status="404") == 1
    assert (
        grew("pushgate_http_request_duration_seconds_count", method="POST", route=REGISTRATIONS)
        == 1
    )
    # Labels name templates, never values: no id, token or app name becomes a series.
    assert created.json()["id"] not in after
    assert "/no/such/path" not in after


async def test_only_the_admin_key_reads_metrics(client: httpx.AsyncClient) -> None:
    await make_app(client, "news")
    app_admin = key_header(await make_key(client, "news", "app_admin"))
    assert (await client.get("/metrics", headers=app_admin)).status_code == 403
    assert (await client.get("/metrics")).status_code == 401
    bearer = {"Authorization": f"Bearer {ADMIN_KEY}"}  # Prometheus' authorization: credentials
    assert (await client.get("/metrics", headers=bearer)).status_code == 200


async def test_queue_backlog_is_read_at_scrape_time(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    text = await _metrics(client)
    for lane in ("fast", "bulk", "retry"):
        assert value(text, "pushgate_queue_jobs", lane=lane) == 0
        assert value(text, "pushgate_queue_oldest_job_age_seconds", lane=lane) == 0
    await make_app(client, "news")
    await client.post(
        "/v1/apps/news/registrations",
        json={"platform": "ios", "token": "t1", "topics": ["sport"]},
        headers=ADMIN,
    )
    sent = await client.post(
        "/v1/apps/news/notifications",
        json={"target": {"topics": ["sport"]}, "notification": {"alert": "Goal"}},
        headers=ADMIN,
    )
    assert sent.status_code == 202, sent.text  # no worker runs here: the job waits
    text = (await scrape(runtime.engine)).decode()
    assert value(text, "pushgate_queue_jobs", lane="bulk") == 1
    assert value(text, "pushgate_queue_oldest_job_age_seconds", lane="bulk") >= 0
    assert value(text, "pushgate_notifications_accepted_total", target="topics") >= 1


async def test_the_metrics_port_answers_without_credentials_on_loopback(
    runtime: Runtime,
) -> None:
    port = free_port()
    listener = MetricsListener(port, lambda: scrape(runtime.engine))
    assert await listener.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            found = await http.get("/metrics")
            assert found.status_code == 200
            assert "pushgate_queue_jobs" in found.text
            assert "pushgate_http_requests_total" in found.text
            assert (await http.get("/other")).status_code == 404
            assert (await http.post("/metrics")).status_code == 405
    finally:
        await listener.stop()


async def test_a_provider_without_credentials_counts_as_unconfigured(
    client: httpx.AsyncClient,
) -> None:
    await make_app(client, "news")
    await client.post(
        "/v1/apps/news/registrations",
        json={"platform": "ios", "token": "t1", "user": "alice"},
        headers=ADMIN,
    )
    before = await _metrics(client)
    sent = await client.post(
        "/v1/apps/news/notifications",
        json={"target": {"users": ["alice"]}, "notification": {"alert": "Hi"}},
        headers=ADMIN,
    )
    assert sent.status_code == 200, sent.text
    after = await _metrics(client)
    labels = {"provider": "apns", "outcome": "unconfigured"}
    grown = value(after, "pushgate_deliveries_total", **labels)
    assert grown - value(before, "pushgate_deliveries_total", **labels) == 1


async def test_each_answer_carries_a_request_id(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "lb-7f3a:1"})
    assert given.headers["x-request-id"] == "lb-7f3a:1"  # the caller's, to follow it here
    made = await client.get("/healthz")
    other = await client.get("/healthz", headers={"X-Request-ID": "no spaces <allowed>"})
    ids = {made.headers["x-request-id"], other.headers["x-request-id"]}
    assert len(ids) == 2
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
