"""Per-app, per-provider send rate limits: token buckets, one second of burst.

A batch takes what the bucket holds; the rest waits as unsent retries (no attempt counted),
so a rate-limited app holds no worker slot while it waits and other apps go on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


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
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(rate_per_s, now)
        bucket.tokens = min(rate_per_s, bucket.tokens + (now - bucket.updated) * rate_per_s)
        bucket.updated = now
        granted = min(wanted, int(bucket.tokens))
        bucket.tokens -= granted
        if granted == wanted:
            return granted, 0.0
        # The bucket refills in a second; what it holds by then goes, the rest waits again.
        return granted, max(1.0 - bucket.tokens / rate_per_s, 1.0 / rate_per_s)
