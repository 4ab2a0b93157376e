"""With Redis configured, every worker draws from one token bucket per app and provider."""

from __future__ import annotations

import pytest
import redis.asyncio as redis_async

from pushgate.delivery.limiter import RedisLimiter
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_two_workers_share_one_bucket(redis_prefix: str) -> None:
    clock = Clock()
    first = RedisLimiter(redis_async.from_url(REDIS_URL), prefix=redis_prefix, clock=clock)
    second = RedisLimiter(redis_async.from_url(REDIS_URL), prefix=redis_prefix, clock=clock)
    try:
        assert await first.take((1, "apns"), 10, 8) == (8, 0.0)
        granted, wait_s = await second.take((1, "apns"), 10, 8)  # the other worker
        assert granted == 2  # only what the first left in the shared bucket
        assert 0 < wait_s <= 1.0
        assert (await second.take((2, "apns"), 10, 8))[0] == 8  # another app: its own bucket
        clock.now += 0.5  # half a second refills half the rate
        assert (await first.take((1, "apns"), 10, 8))[0] == 5
    finally:
        await first.aclose()
        await second.aclose()


async def test_without_redis_each_worker_keeps_its_own_bucket() -> None:
    unreachable = redis_async.from_url("redis://127.0.0.1:1/0")
    limiter = RedisLimiter(unreachable, prefix="x", clock=Clock())
    try:
        assert (await limiter.take((1, "fcm"), 5, 8))[0] == 5  # the local fallback's burst
    finally:
        await limiter.aclose()
