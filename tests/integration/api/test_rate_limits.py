"""Rate limits (reliability.md S4, S7): a token bucket per key, 429 with Retry-After beyond it,
other keys untouched; failed sign-ins lock out their address, and only it, for a window."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis_async

from pushgate.app import build_runtime
from pushgate.errors import RateLimited
from pushgate.http.deps import Runtime
from pushgate.http.rate_limits import RedisCallerBuckets
from pushgate.store.engine import Database
from tests.conftest import REDIS_URL, FixedClock, make_settings, shared_app
from tests.integration.api.helpers import ADMIN, key_header, make_app, make_key
from tests.integration.console.helpers import sign_in

pytestmark = pytest.mark.anyio
SAP_REGISTRATIONS = "/mobileservices/push/v2/backend/registrations?username=user1"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


async def limited_runtime(
    database: Database, tmp_path: Path, clock: FixedClock, **overrides: Any
) -> Runtime:
    built, _ = await build_runtime(make_settings(tmp_path, **overrides), db=database, clock=clock)
    return built


@asynccontextmanager
async def connect(runtime: Runtime, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from `address` (request.client.host)."""
    transport = httpx.ASGITransport(app=shared_app(runtime), client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://pushgate.test") as http:
        yield http


async def statuses(client: httpx.AsyncClient, app: str, key: str, count: int) -> list[int]:
    return [
        (await client.get(f"/v1/apps/{app}/topics", headers=key_header(key))).status_code
        for _ in range(count)
    ]


async def test_burst_beyond_the_limit_gets_exactly_the_excess_429_and_the_bucket_refills(
    database: Database, tmp_path: Path, clock: FixedClock
) -> None:
    runtime = await limited_runtime(database, tmp_path, clock, api_rate_per_s=0.5, api_burst=5)
    async with connect(runtime, "10.0.0.1") as client:
        await make_app(client, "a")
        await make_app(client, "b")
        first = await make_key(client, "a", "app_admin", alias="first")
        second = await make_key(client, "a", "app_admin", alias="second")
        other_app = await make_key(client, "b", "app_admin", alias="first")

        answers = []
        for _ in range(5 + 10):
            answers.append(await client.get("/v1/apps/a/topics", headers=key_header(first)))
        refused = [r for r in answers if r.status_code == 429]
        assert [r.status_code for r in answers[:5]] == [200] * 5
        assert len(refused) == 10
        for response in refused:
            # An empty bucket holds a token again after 1 / 0.5 s.
            assert response.headers["retry-after"] == "2"
            assert response.json()["error"]["code"] == "rate_limited"
        # Another key of the same app, a key of another app and the admin: unaffected.
        assert await statuses(client, "a", second, 5) == [200] * 5
        assert await statuses(client, "b", other_app, 5) == [200] * 5
        assert (await client.get("/v1/apps/a/topics", headers=ADMIN)).status_code == 200

        clock.advance(2)
        assert await statuses(client, "a", first, 2) == [200, 429]


async def test_failed_sign_ins_lock_out_their_address_until_the_window_ends(
    database: Database, tmp_path: Path, clock: FixedClock
) -> None:
    runtime = await limited_runtime(
        database, tmp_path, clock, auth_failure_limit=3, auth_failure_window_s=60
    )
    async with connect(runtime, "10.0.0.1") as attacker, connect(runtime, "10.0.0.2") as other:
        await make_app(other, "a")
        key = await make_key(other, "a", "app_admin")
        # Missing credentials are not a failed sign-in: they do not count.
        for _ in range(5):
            assert (await attacker.get("/v1/apps/a/topics")).status_code == 401
        assert await statuses(attacker, "a", "pga_wrong", 3) == [401] * 3
        clock.advance(10)

        locked = await attacker.get("/v1/apps/a/topics", headers=key_header(key))
        assert locked.status_code == 429, locked.text
        assert locked.headers["retry-after"] == "50"
        # A valid key is refused alike: nothing is checked for a locked-out address.
        assert await statuses(attacker, "a", key, 2) == [429, 429]
        assert await statuses(other, "a", key, 3) == [200] * 3

        clock.advance(50)
        assert await statuses(attacker, "a", key, 1) == [200]

    # Loopback (a reverse proxy on this host, by default) is never locked out.
    async with connect(runtime, "127.0.0.1") as proxy:
        assert await statuses(proxy, "a", "pga_wrong", 4) == [401] * 4
        assert await statuses(proxy, "a", key, 1) == [200]


async def test_console_sign_ins_count_and_honour_the_same_lockout(
    database: Database, tmp_path: Path, clock: FixedClock
) -> None:
    runtime = await limited_runtime(
        database, tmp_path, clock, auth_failure_limit=2, auth_failure_window_s=60
    )
    async with connect(runtime, "10.0.0.3") as browser, connect(runtime, "10.0.0.4") as other:
        await make_app(other, "a")
        key = await make_key(other, "a", "app_admin")
        assert (await sign_in(browser, "pga_wrong-1")).status_code == 401
        assert (await sign_in(browser, "pga_wrong-2")).status_code == 401
        locked = await sign_in(browser, key)  # the right key, too late
        assert locked.status_code == 429
        assert locked.headers["retry-after"] == "60"
        assert (await browser.get("/v1/apps/a/topics", headers=key_header(key))).status_code == 429
        assert (await sign_in(other, key)).status_code == 303


async def test_sap_and_servicenow_answer_429_in_their_own_shape(
    database: Database, tmp_path: Path, clock: FixedClock
) -> None:
    runtime = await limited_runtime(
        database, tmp_path, clock, api_rate_per_s=1, api_burst=1, auth_failure_limit=1
    )
    async with connect(runtime, "10.0.0.1") as client, connect(runtime, "10.0.0.2") as guesser:
        await make_app(client, "news")
        key = await make_key(client, "news", "pushregistrations_read")
        first = await client.get(SAP_REGISTRATIONS, headers=key_header(key))
        assert first.status_code != 429, first.text
        over = await client.get(SAP_REGISTRATIONS, headers=key_header(key))
        assert over.status_code == 429, over.text
        assert over.headers["retry-after"] == "1"
        status = over.json()["status"]
        assert status["notification"].startswith("too many requests")
        assert isinstance(status["code"], int)

        # ServiceNow: one wrong password (argon2 paid once) locks the address out.
        path = "/api/now/push/news/installation"
        wrong = {"Authorization": "Basic bm9ib2R5Ondyb25n", "content-type": "application/json"}
        assert (await guesser.post(path, json={}, headers=wrong)).status_code == 401
        refused = await guesser.post(path, json={}, headers=wrong)
        assert refused.status_code == 429, refused.text
        assert refused.headers["retry-after"] == "60"
        assert refused.json() == {
            "error": {"message": "Too Many Requests", "detail": refused.json()["error"]["detail"]},
            "status": "failure",
        }


async def test_with_redis_every_process_draws_from_one_bucket(
    redis_prefix: str, clock: FixedClock
) -> None:
    """Two processes' limiters (two clients, as two `serve` workers have) share a key's burst."""
    processes = [
        RedisCallerBuckets(
            redis_async.from_url(REDIS_URL),
            prefix=redis_prefix,
            rate_per_s=0.25,
            burst=4,
            clock=clock,
        )
        for _ in range(2)
    ]
    try:
        for turn in range(4):
            await processes[turn % 2].admit("1:2:3")
        for limiter in processes:
            with pytest.raises(RateLimited) as refused:
                await limiter.admit("1:2:3")
            assert refused.value.retry_after_s == 4
        await processes[0].admit("1:2:4")  # another key: a bucket of its own
        clock.advance(4)
        await processes[1].admit("1:2:3")
    finally:
        for limiter in processes:
            await limiter.aclose()
