"""Provider answers end to end: the real engine and adapters against the fake providers.

reliability.md F4: 429/500/503 with Retry-After in seconds and as an HTTP-date are SENT after
the scripted attempts, never before Retry-After (the fake's ledger timestamps) nor before the
first backoff; Retry-After past the expiry is ERROR expired at once; 400/403/410 are not
retried; 410 deactivates unless the device re-registered after the provider's timestamp.
The backoff's cap and jitter are unit tests (tests/unit/delivery/test_retry.py,
test_retry_faults.py); the harness is test_delivery_faults_harness.py.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pushgate.delivery.worker import Worker
from pushgate.domain.statuses import ResultCode
from pushgate.fakes.behaviour import TokenBehaviour
from tests.integration.delivery.test_delivery_faults_harness import (
    APP,
    WIRE,
    Fakes,
    ShiftedClock,
    accepted,
    apns_token,
    app_key,
    certs,
    clock,
    deliveries,
    delivery_config,
    fakes,
    http_date,
    kinds,
    register,
    register_browser,
    runtime,
    send,
    wait_final,
    whole_second_after,
    with_fcm,
)

pytestmark = pytest.mark.anyio

# Fixtures, imported by name so that pytest finds them here.
__all__ = ["app_key", "certs", "clock", "delivery_config", "fakes", "kinds", "runtime", "with_fcm"]


RETRIED = [
    pytest.param(429, "seconds", id="429-retry-after-seconds"),
    pytest.param(429, "date", id="429-retry-after-http-date"),
    pytest.param(500, None, id="500-backoff"),
    pytest.param(503, "date", id="503-retry-after-http-date"),
]


@pytest.mark.parametrize(("status", "retry_after"), RETRIED)
async def test_retryable_answer_is_sent_after_retry_after_or_the_backoff(
    status: int,
    retry_after: str | None,
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    fakes: Fakes,
    worker: Worker,
) -> None:
    token = apns_token()
    rid = await register(client, app_key, "ios", token)
    plan = fakes.plans["apns"]
    before = datetime.now(UTC)
    if retry_after == "seconds":
        plan.fail_retry_after, not_before = "2", before + timedelta(seconds=2)
    elif retry_after == "date":
        not_before = whole_second_after(2)
        plan.fail_retry_after = http_date(not_before)
    else:  # the first backoff: equal jitter over [base/2, base] = [0.5 s, 1 s]
        not_before = before + timedelta(seconds=WIRE.retry.base_s / 2)
    plan.fail_status = status
    answer = await send(client, app_key, [rid])
    # The first attempt was answered inside the request: queued for a retry, not before.
    assert (answer["results"][0]["status"], fakes.inbox.attempts[token]) == ("QUEUED", 1)
    queued = (await deliveries(client, app_key, answer["id"]))[rid]
    assert datetime.fromisoformat(queued["next_attempt_at"]) >= not_before
    plan.fail_status = plan.fail_retry_after = None  # the provider recovers

    done = (
        await wait_final(client, app_key, answer["id"], after=lambda: bool(accepted(fakes, token)))
    )[rid]
    (received,) = accepted(fakes, token)
    gap = (received.received_at - before).total_seconds()
    print(  # noqa: T201 - the test's figures
        f"\n{status} Retry-After={retry_after}: attempts={done['attempts']}"
        f" sent {gap:.2f} s after the first attempt; not before"
        f" {(not_before - before).total_seconds():.2f} s"
    )
    assert (done["status"], done["code"], done["attempts"]) == ("SENT", 0, 2)
    assert fakes.inbox.attempts[token] == 2
    assert received.received_at >= not_before


@pytest.mark.parametrize("form", ["seconds", "date"])
async def test_retry_after_beyond_the_expiry_ends_in_error_expired_at_once(
    form: str, client: httpx.AsyncClient, app_key: dict[str, str], fakes: Fakes
) -> None:
    token = apns_token()
    rid = await register(client, app_key, "ios", token)
    plan = fakes.plans["apns"]
    plan.fail_status = 429
    later = whole_second_after(7200)
    plan.fail_retry_after = "7200" if form == "seconds" else http_date(later)
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer = await send(client, app_key, [rid], ttl=600)
    elapsed = loop.time() - started
    (result,) = answer["results"]
    print(  # noqa: T201 - the test's figures
        f"\nRetry-After ({form}) 2 h, TTL 10 min: {result['status']} after {elapsed:.2f} s"
    )
    # Decided on the first answer: no retry is queued that could only come after the expiry.
    assert (result["status"], result["code"]) == ("ERROR", int(ResultCode.PROVIDER_FAILED))
    assert "expired" in result["message"]
    assert fakes.inbox.attempts[token] == 1
    assert elapsed < 3.0
    (done,) = (await deliveries(client, app_key, answer["id"])).values()
    assert (done["status"], done["attempts"], done["next_attempt_at"]) == ("ERROR", 1, None)


@pytest.mark.parametrize(
    ("status", "deactivated"),
    [(400, True), (403, False), (410, True)],  # BadDeviceToken, Forbidden, Unregistered
)
async def test_permanent_answers_are_never_retried(
    status: int,
    deactivated: bool,
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    fakes: Fakes,
    worker: Worker,
) -> None:
    token = apns_token()
    rid = await register(client, app_key, "ios", token)
    # A witness on another fake, failing once: its retry shows the retry loop ran meanwhile.
    witness, endpoint = await register_browser(
        client, app_key, fakes, behaviour=TokenBehaviour.SERVER_ERROR_ONCE
    )
    fakes.plans["apns"].fail_status = status
    answer = await send(client, app_key, [rid, witness])
    done = await wait_final(
        client, app_key, answer["id"], after=lambda: bool(accepted(fakes, endpoint))
    )
    print(  # noqa: T201 - the test's figures
        f"\nAPNs {status}: {done[rid]['status']} code {done[rid]['code']}"
    )
    assert (done[witness]["status"], done[witness]["attempts"]) == ("SENT", 2)
    assert (done[rid]["status"], done[rid]["attempts"]) == ("ERROR", 1)
    assert fakes.inbox.attempts[token] == 1
    registration = await client.get(f"/v1/apps/{APP}/registrations/{rid}", headers=app_key)
    assert registration.json()["active"] is not deactivated


async def test_410_deactivates_unless_re_registered_after_the_providers_timestamp(
    client: httpx.AsyncClient, app_key: dict[str, str], fakes: Fakes, clock: ShiftedClock
) -> None:
    # "dead" tokens get 410 Unregistered with the fake's timestamp (its wall clock, now).
    stale = await register(client, app_key, "ios", apns_token("dead1"))
    clock.advance(120)  # this device registers again after the provider's timestamp
    renewed = await register(client, app_key, "ios", apns_token("dead2"))
    answer = await send(client, app_key, [stale, renewed])
    results = {r["registration_id"]: r for r in answer["results"]}
    assert {r["code"] for r in results.values()} == {int(ResultCode.TOKEN_REJECTED)}
    stale_now = (await client.get(f"/v1/apps/{APP}/registrations/{stale}", headers=app_key)).json()
    renewed_now = await client.get(f"/v1/apps/{APP}/registrations/{renewed}", headers=app_key)
    assert (stale_now["active"], stale_now["deactivation_reason"]) == (False, "Unregistered")
    assert renewed_now.json()["active"] is True
    assert fakes.inbox.attempts[apns_token("dead1")] == fakes.inbox.attempts[apns_token("dead2")]
