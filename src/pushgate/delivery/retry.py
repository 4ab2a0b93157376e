"""When to try a delivery again, and when to stop: backoff, Retry-After, expiry, attempts.

Pure: the random source and the instant are passed in, so tests pin both.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from pushgate.domain.statuses import ResultCode


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_s: float = 1.0
    cap_s: float = 900.0  # 15 min between attempts at most (Apple: 5xx "after 15 minutes")
    max_attempts: int = 12
    unsent_delay_s: float = 0.2  # resend of a request that never reached the provider


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Either the next attempt's time, or the final code and reason of giving up."""

    next_attempt_at: datetime | None
    give_up_code: ResultCode | None = None
    give_up_reason: str | None = None


def backoff_s(policy: RetryPolicy, attempts: int, rng: random.Random) -> float:
    """Exponential with equal jitter: half fixed, half random, so retries spread out."""
    exponent = min(attempts - 1, 30)
    ceiling = min(policy.cap_s, policy.base_s * float(1 << exponent))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def unreachable_backoff_s(policy: RetryPolicy, unreachable_s: float, rng: random.Random) -> float:
    """The wait before resending to a provider that nothing has reached for `unreachable_s`:
    between that time and twice it (equal jitter), at most cap_s. Resends are not attempts
    (the provider never saw them), so this, not the attempt count, spaces them out."""
    if unreachable_s <= 0:
        return 0.0
    ceiling = min(policy.cap_s, 2 * unreachable_s)
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def decide_retry(
    policy: RetryPolicy,
    *,
    attempts: int,
    now: datetime,
    expires_at: datetime,
    once: bool,
    retry_after_s: float | None,
    unsent: bool,
    code: ResultCode,
    reason: str | None,
    rng: random.Random,
    unreachable_s: float = 0.0,
) -> RetryDecision:
    """The fate of a delivery whose attempt ended in a retryable answer.

    `unreachable_s`: how long the provider has answered nothing but "unsent" (connections
    refused or reset): an unsent request is resent soon only while that is short, else a
    provider that is down would be retried every poll until the expiry (reliability.md F13).
    """
    if unsent:
        delay = max(
            policy.unsent_delay_s,
            retry_after_s or 0.0,
            unreachable_backoff_s(policy, unreachable_s, rng),
        )
    else:
        if once:
            return RetryDecision(None, code, f"{reason or 'failed'}; TTL 0 allows one attempt")
        if attempts >= policy.max_attempts:
            return RetryDecision(None, code, f"{reason or 'failed'} after {attempts} attempts")
        # Never before the provider's Retry-After; otherwise capped, jittered backoff.
        delay = max(backoff_s(policy, attempts, rng), retry_after_s or 0.0)
    at = now + timedelta(seconds=delay)
    if at > expires_at:
        last = reason or "failed"
        return RetryDecision(
            None, ResultCode.PROVIDER_FAILED, f"expired before a retry was due (last: {last})"
        )
    return RetryDecision(at)
