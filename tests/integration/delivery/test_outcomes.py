"""Provider answers drive the state: retries with backoff, expiry, dead tokens, limits."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushgate.delivery.worker import Worker
from pushgate.http.deps import Runtime
from pushgate.providers.recording import Recorder
from pushgate.store.uow import unit_of_work
from tests.conftest import FixedClock
from tests.integration.api.helpers import ADMIN
from tests.integration.delivery.conftest import register, send, status_of, wait_done, wait_for

pytestmark = pytest.mark.anyio


async def deliveries(
    client: httpx.AsyncClient, headers: dict[str, str], notification_id: str
) -> list[dict[str, object]]:
    response = await client.get(
        f"/v1/apps/news/notifications/{notification_id}/deliveries", headers=headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def test_rate_limited_once_is_queued_then_sent_after_retry_after(
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    recorder: Recorder,
    clock: FixedClock,
    worker: Worker,
) -> None:
    rid = await register(client, app_key, "429-tok")
    response = await send(client, app_key, {"registrations": [rid]})
    assert response.status_code == 202  # not every target answered yet
    result = response.json()["results"][0]
    assert (result["status"], result["code"]) == ("QUEUED", -1)
    queued = (await deliveries(client, app_key, response.json()["id"]))[0]
    assert queued["status"] == "QUEUED"
    assert queued["attempts"] == 1
    assert recorder.tokens() == []
    clock.advance(0.5)  # Retry-After is 1 s: not yet
    assert await runtime_due(worker) == 0
    clock.advance(2)
    status = await wait_done(client, app_key, response.json()["id"])
    assert status["counts"]["SENT"] == 1
    assert recorder.tokens() == ["429-tok"]
    sent = (await deliveries(client, app_key, response.json()["id"]))[0]
    assert sent["attempts"] == 2
    assert sent["code"] == 0


async def runtime_due(worker: Worker) -> int:
    """Retries due now, claimed by nobody (the worker's own loop may be between rounds)."""
    return len(worker.in_flight)


async def test_failing_provider_ends_in_error_when_the_ttl_runs_out(
    client: httpx.AsyncClient, app_key: dict[str, str], clock: FixedClock, worker: Worker
) -> None:
    rid = await register(client, app_key, "fail-tok")
    response = await send(client, app_key, {"registrations": [rid]}, ttl=60)
    nid = response.json()["id"]
    for _ in range(20):
        clock.advance(10)
        state = await status_of(client, app_key, nid)
        if state["state"] == "done":
            break
        await wait_for(lambda: _attempted(client, app_key, nid), what="a retry")
    status = await wait_done(client, app_key, nid)
    assert status["counts"]["ERROR"] == 1
    (failed,) = await deliveries(client, app_key, nid)
    assert failed["code"] == 12
    assert "expired" in str(failed["message"])


async def _attempted(client: httpx.AsyncClient, headers: dict[str, str], nid: str) -> bool:
    return bool(await deliveries(client, headers, nid))


async def test_ttl_zero_means_one_attempt(
    client: httpx.AsyncClient, app_key: dict[str, str], recorder: Recorder
) -> None:
    rid = await register(client, app_key, "500-tok")
    response = await send(client, app_key, {"registrations": [rid]}, ttl=0)
    assert response.status_code == 200
    result = response.json()["results"][0]
    assert result["status"] == "ERROR"
    assert "one attempt" in result["message"]
    assert recorder.attempts["500-tok"] == 1


async def test_dead_token_deactivates_unless_renewed_after_the_provider_timestamp(
    client: httpx.AsyncClient, app_key: dict[str, str], clock: FixedClock
) -> None:
    dead = await register(client, app_key, "dead-1")
    renewed = await register(client, app_key, "dead-2")
    response = await send(client, app_key, {"registrations": [dead]})
    assert response.json()["results"][0]["code"] == 6
    gone = await client.get(f"/v1/apps/news/registrations/{dead}", headers=app_key)
    assert gone.json()["active"] is False
    assert gone.json()["deactivation_reason"] == "Unregistered"
    # The provider says the token died a minute before the device last registered it.
    clock.advance(-60)
    answer = await send(client, app_key, {"registrations": [renewed]})
    assert answer.json()["results"][0]["code"] == 6
    kept = await client.get(f"/v1/apps/news/registrations/{renewed}", headers=app_key)
    assert kept.json()["active"] is True
    again = await send(client, app_key, {"registrations": [dead]})
    assert again.json()["results"][0]["code"] == 2  # inactive: never targeted


async def test_payload_too_large_is_a_per_target_error_never_sent(
    client: httpx.AsyncClient, app_key: dict[str, str], recorder: Recorder
) -> None:
    rid = await register(client, app_key, "tok-big")
    data = {f"k{i}": "x" * 10 for i in range(100)}
    huge = {"alert": "a" * 2048, "title": "t" * 2048, "data": data}
    response = await send(client, app_key, {"registrations": [rid]}, huge)
    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    assert (result["status"], result["code"]) == ("ERROR", 9)
    assert recorder.attempts == {}


async def test_mass_invalid_tokens_keep_registrations_and_flag_the_credential(
    client: httpx.AsyncClient, app_key: dict[str, str], runtime: Runtime
) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    credential = {
        "key_id": "ABC123DEFG",
        "team_id": "TEAM123456",
        "key": key.decode(),
        "topic": "t",
    }
    put = await client.put("/v1/apps/news/credentials/apns", json=credential, headers=ADMIN)
    assert put.status_code == 200, put.text
    ids = [await register(client, app_key, f"bad-{i}", user="u") for i in range(25)]
    response = await send(client, app_key, {"users": ["u"]})
    assert {r["code"] for r in response.json()["results"]} == {6}
    listed = await client.get("/v1/apps/news/registrations?active=true", headers=app_key)
    assert len(listed.json()["items"]) == len(ids)  # nobody deactivated
    async with unit_of_work(runtime.db, readonly=True) as uow:
        reason = (
            await uow.conn.exec_driver_sql(
                "SELECT suspect_reason FROM credentials WHERE provider = 'apns'"
            )
        ).scalar_one()
    assert "25 of 25" in reason
    assert "sandbox/production" in reason
    shown = (await client.get("/v1/apps/news/credentials/apns", headers=ADMIN)).json()
    assert shown["suspect_reason"] == reason
    assert shown["suspect_at"] is not None
    suspect = "/v1/apps/news/events?kind=credential.suspect"  # messages have events too
    events = (await client.get(suspect, headers=ADMIN)).json()["items"]
    assert [(e["kind"], e["subject"]) for e in events] == [("credential.suspect", "apns")]
    assert events[0]["data"]["reason"] == reason
    assert events[0]["data"]["notification_id"] == response.json()["id"]
    # Judged again on the next batch, but the event is raised once, for the first evidence.
    again = await send(client, app_key, {"users": ["u"]})
    assert {r["code"] for r in again.json()["results"]} == {6}
    events = (await client.get(suspect, headers=ADMIN)).json()["items"]
    assert len(events) == 1
    # A new credential starts trusted again.
    put = await client.put("/v1/apps/news/credentials/apns", json=credential, headers=ADMIN)
    assert put.json()["suspect_at"] is None


async def test_a_few_invalid_tokens_among_many_are_deactivated(
    client: httpx.AsyncClient, app_key: dict[str, str]
) -> None:
    for i in range(25):
        await register(client, app_key, f"ok-{i}", user="u")
    bad = await register(client, app_key, "bad-x", user="u")
    response = await send(client, app_key, {"users": ["u"]})
    assert response.status_code == 200
    found = await client.get(f"/v1/apps/news/registrations/{bad}", headers=app_key)
    assert found.json()["active"] is False


async def test_app_rate_limit_spreads_sends_without_counting_attempts(
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    recorder: Recorder,
    clock: FixedClock,
    worker: Worker,
) -> None:
    import time

    patch = await client.patch("/v1/apps/news", json={"rate_limits": {"apns": 50}}, headers=ADMIN)
    assert patch.status_code == 200, patch.text
    assert patch.json()["rate_limits"] == {"apns": 50}
    for i in range(120):
        await register(client, app_key, f"tok-{i}", topics=["t"])
    started = time.perf_counter()
    response = await send(client, app_key, {"topics": ["t"]})
    nid = response.json()["id"]

    async def all_sent() -> bool:
        clock.advance(0.5)  # retries of held sends come due on the runtime's clock
        return len(recorder.tokens()) == 120

    await wait_for(all_sent, what="every send to pass the rate limit")
    elapsed = time.perf_counter() - started
    # 50 at once (a second of burst), then 50 a second: 120 need more than 1.4 s.
    assert elapsed >= 1.4
    status = await wait_done(client, app_key, nid)
    assert status["counts"]["SENT"] == 120
    items = await deliveries(client, app_key, nid)
    assert {d["attempts"] for d in items} == {1}  # waiting for the limit is no attempt


async def test_rate_limits_name_known_providers_and_positive_rates(
    client: httpx.AsyncClient, app_key: dict[str, str]
) -> None:
    unknown = await client.patch("/v1/apps/news", json={"rate_limits": {"pager": 5}}, headers=ADMIN)
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (400, "rate_limits.pager")
    zero = await client.patch("/v1/apps/news", json={"rate_limits": {"fcm": 0}}, headers=ADMIN)
    assert (zero.status_code, zero.json()["error"]["field"]) == (400, "rate_limits.fcm")
    cleared = await client.patch("/v1/apps/news", json={"rate_limits": {}}, headers=ADMIN)
    assert cleared.json()["rate_limits"] == {}


async def test_a_target_that_misses_the_inline_deadline_is_reported_queued(
    client: httpx.AsyncClient, app_key: dict[str, str], recorder: Recorder, runtime: Runtime
) -> None:
    rid = await register(client, app_key, "tok-slow")
    runtime.engine.config = replace(runtime.engine.config, inline_deadline_s=0.3)
    recorder.delay_s = 1.0  # the provider answers after the request's inline deadline
    response = await send(client, app_key, {"registrations": [rid]})
    assert response.status_code == 202, response.text
    (result,) = response.json()["results"]
    assert (result["registration_id"], result["status"], result["code"]) == (rid, "QUEUED", -1)
    status = await wait_done(client, app_key, response.json()["id"])  # it went on, inline
    assert status["counts"]["SENT"] == 1
