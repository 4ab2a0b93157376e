"""Per-app, per-provider send rate limits: token buckets, one second of burst.

A batch takes what the bucket holds; the rest waits as unsent retries (no attempt counted),
so a rate-limited app holds no worker slot while it waits and other apps go on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as redis_async
from redis.exceptions import RedisError


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[tuple[int, str], _Bucket] = {}

    def take(self, key: tuple[int, str], rate_per_s: float, wanted: int) -> tuple[int, float]:
        """(granted, seconds until the rest could be granted) for `wanted` sends."""
        now = self._clock()
        # A second of burst, and room for at least one whole send: below one send a second
        # the bucket must still fill up to a token (0.5/s: one send every two seconds).
        capacity = max(rate_per_s, 1.0)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(capacity, now)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate_per_s)
        bucket.updated = now
        granted = min(wanted, int(bucket.tokens))
        bucket.tokens -= granted
        if granted == wanted:
            return granted, 0.0
        # The bucket refills in a second; what it holds by then goes, the rest waits again.
        return granted, max(1.0 - bucket.tokens / rate_per_s, 1.0 / rate_per_s)


class RateLimiter(Protocol):
    async def take(self, key: tuple[int, str], rate_per_s: float, wanted: int) -> tuple[int, float]:
        """(granted, seconds until the rest could be granted) for `wanted` sends."""
        ...

    async def aclose(self) -> None: ...


class LocalLimiter:
    """Buckets of this process only: the default, and the fallback when Redis is away."""

    def __init__(self, buckets: TokenBuckets | None = None) -> None:
        self._buckets = buckets or TokenBuckets()

    async def take(self, key: tuple[int, str], rate_per_s: float, wanted: int) -> tuple[int, float]:
        return self._buckets.take(key, rate_per_s, wanted)

    async def aclose(self) -> None:
        return None


# The same bucket as TokenBuckets.take, in Redis, atomically: every worker of a deployment
# draws from one bucket per (app, provider). KEYS[1] the bucket; ARGV rate, wanted, now (s).
_TAKE = """
local rate, wanted, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens, updated = tonumber(state[1]), tonumber(state[2])
local capacity = math.max(rate, 1)
if tokens == nil then tokens, updated = capacity, now end
tokens = math.min(capacity, tokens + math.max(0, now - updated) * rate)
local granted = math.min(wanted, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
return {granted, tostring(tokens)}
"""


class RedisLimiter:
    """Token buckets shared by every worker through Redis (PUSHGATE_REDIS_URL set)."""

    def __init__(
        self,
        client: redis_async.Redis,
        *,
        prefix: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._script = client.register_script(_TAKE)
        self._prefix = prefix
        self._clock = clock
        self._fallback = LocalLimiter()

    async def take(self, key: tuple[int, str], rate_per_s: float, wanted: int) -> tuple[int, float]:
        bucket = f"{self._prefix}:rate:{key[0]}:{key[1]}"
        try:
            granted, left = await self._script(
                keys=[bucket], args=[rate_per_s, wanted, self._clock()]
            )
        except RedisError:
            # Without Redis each worker keeps its own bucket: sending goes on, each worker
            # at the app's rate, rather than stopping.
            return await self._fallback.take(key, rate_per_s, wanted)
        granted = int(granted)
        if granted == wanted:
            return granted, 0.0
        return granted, max(1.0 - float(left) / rate_per_s, 1.0 / rate_per_s)

    async def aclose(self) -> None:
        await self._client.aclose()
