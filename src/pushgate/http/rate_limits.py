"""Request rate limits of the API front doors (native /v1 and every dialect).

Two limits, both answered with 429 and Retry-After (whole seconds, at least 1) in the shape
of the front door the route belongs to:

- Per caller: a token bucket per API key (Principal.key_ref; OAuth access tokens share
  their key's bucket), per OAuth client and per app user, `api_rate_per_s` sustained with
  `api_burst` of burst. The services admit the caller once it is authenticated (the
  CallerLimit port of services/auth.py); the admin key is exempt. With PUSHGATE_REDIS_URL
  the buckets live in Redis and hold across processes; otherwise each process has its own,
  so `serve --workers N` admits N times the rate.
- Per client address (request.client.host: behind a proxy, the proxy's): after
  `auth_failure_limit` rejected credentials within `auth_failure_window_s`, every request of
  that address gets 429 until the window ends, before any credential is checked (no argon2
  for a locked-out address). Counted in each process. Addresses in `auth_failure_exempt`
  (loopback by default: a reverse proxy on the same host) are never counted.

The in-process checks are a dict lookup and a little arithmetic: no database, no I/O.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as redis_async
from fastapi import Request
from redis.exceptions import RedisError

from pushgate.errors import CredentialRejected, RateLimited
from pushgate.services.auth import CallerLimit

# Bounds of the in-process tables. A dropped bucket comes back full and a dropped failure
# count at zero: only lenient, and only for callers idle longer than this many others.
_MAX_CALLERS = 100_000
_MAX_ADDRESSES = 100_000
_OVER_RATE = "too many requests for this key; retry after Retry-After seconds"
_LOCKED_OUT = "too many failed sign-ins from this address; retry after Retry-After seconds"


def retry_after(seconds: float) -> int:
    """Whole seconds for Retry-After: rounded up, at least 1."""
    return max(1, math.ceil(seconds))


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class CallerBuckets:
    """One token bucket per caller in this process: `burst` requests, refilled at `rate_per_s`."""

    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], datetime]) -> None:
        self._rate = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    async def admit(self, caller: str) -> None:
        wait = self.take(caller)
        if wait > 0:
            raise RateLimited(_OVER_RATE, retry_after_s=retry_after(wait))

    def take(self, caller: str) -> float:
        """0 when one request of `caller` is admitted, else the seconds until one would be."""
        now = self._clock().timestamp()
        bucket = self._buckets.get(caller)
        if bucket is None:
            if len(self._buckets) >= _MAX_CALLERS:
                self._buckets.popitem(last=False)
            bucket = self._buckets[caller] = _Bucket(self._burst, now)
        else:
            self._buckets.move_to_end(caller)
            if now > bucket.updated:  # a clock stepped back refills nothing
                bucket.tokens = min(
                    self._burst, bucket.tokens + (now - bucket.updated) * self._rate
                )
                bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self._rate

    async def aclose(self) -> None:
        return None


# CallerBuckets.take in Redis, atomically, so every process draws from one bucket per caller.
# KEYS[1] the bucket; ARGV rate, burst, now (s), expiry (s: the time to refill completely,
# after which an absent bucket and a full one are the same). Returns the wait, as text
# (Redis truncates Lua numbers to integers).
_TAKE = """
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens, updated = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, updated = burst, now end
if now > updated then
  tokens = math.min(burst, tokens + (now - updated) * rate)
  updated = now
end
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(updated))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return tostring(wait)
"""


class RedisCallerBuckets:
    """The buckets of CallerBuckets in Redis: one limit for every process of a deployment.

    Costs one Redis round trip per authenticated request. While Redis is unreachable each
    process falls back to its own buckets (requests go on, at the rate per process).
    """

    def __init__(
        self,
        client: redis_async.Redis,
        *,
        prefix: str,
        rate_per_s: float,
        burst: int,
        clock: Callable[[], datetime],
    ) -> None:
        self._client = client
        self._script = client.register_script(_TAKE)
        self._prefix = prefix
        self._rate = rate_per_s
        self._burst = burst
        self._clock = clock
        self._expiry_s = max(1, math.ceil(burst / rate_per_s) + 1)
        self._fallback = CallerBuckets(rate_per_s, burst, clock)

    async def admit(self, caller: str) -> None:
        args = [self._rate, self._burst, self._clock().timestamp(), self._expiry_s]
        try:
            wait = float(await self._script(keys=[f"{self._prefix}:api:{caller}"], args=args))
        except RedisError:
            wait = self._fallback.take(caller)
        if wait > 0:
            raise RateLimited(_OVER_RATE, retry_after_s=retry_after(wait))

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass(slots=True)
class _Failures:
    started: float
    count: int


class SignInFailures:
    """Rejected credentials per client address, in fixed windows from the first failure.

    Addresses in `exempt` are never counted, so never locked out (and cost nothing more).
    """

    def __init__(
        self,
        limit: int,
        window_s: float,
        clock: Callable[[], datetime],
        exempt: Sequence[str] = (),
    ) -> None:
        self._limit = limit
        self._window_s = window_s
        self._clock = clock
        self._exempt = [ipaddress.ip_network(n, strict=False) for n in exempt]
        self._by_address: OrderedDict[str, _Failures] = OrderedDict()

    def check(self, address: str) -> None:
        """RateLimited when `address` used up its failures and its window has not ended."""
        entry = self._by_address.get(address)
        if entry is None or entry.count < self._limit:
            return
        left = entry.started + self._window_s - self._clock().timestamp()
        if left > 0:
            raise RateLimited(_LOCKED_OUT, retry_after_s=retry_after(left))

    def failed(self, address: str) -> None:
        if self._limit <= 0 or self._is_exempt(address):
            return
        now = self._clock().timestamp()
        entry = self._by_address.get(address)
        if entry is None or now >= entry.started + self._window_s:
            self._by_address.pop(address, None)
            if len(self._by_address) >= _MAX_ADDRESSES:
                self._by_address.popitem(last=False)
            self._by_address[address] = _Failures(now, 1)
        else:
            entry.count += 1

    def _is_exempt(self, address: str) -> bool:
        try:
            peer = ipaddress.ip_address(address)
        except ValueError:  # no address (a Unix socket, a test transport): counted as given
            return False
        return any(peer in network for network in self._exempt)


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """What a runtime limits requests with: per caller (None: off) and per address."""

    callers: CallerLimit | None
    failures: SignInFailures

    async def aclose(self) -> None:
        if self.callers is not None:
            await self.callers.aclose()


def client_address(request: Request) -> str:
    """The peer's address: behind a reverse proxy, the proxy's (one bucket for all)."""
    return request.client.host if request.client is not None else ""


async def refuse_locked_out(request: Request) -> None:
    """Dependency of every API route, first of all: a locked-out address gets 429 before
    its credentials are checked."""
    _limits(request).failures.check(client_address(request))


def count_failure(request: Request, exc: Exception) -> None:
    """Count a rejected credential against the request's address (other errors: nothing)."""
    if isinstance(exc, CredentialRejected):
        _limits(request).failures.failed(client_address(request))


def _limits(request: Request) -> RequestLimits:
    limits: RequestLimits = request.app.state.runtime.limits
    return limits
