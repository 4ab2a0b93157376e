"""The retry schedule under provider faults (reliability.md F4, F13): jitter spreads a herd,
Retry-After beyond the cap still holds, resends to an unreachable provider back off."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from pushgate.delivery.retry import (
    RetryDecision,
    RetryPolicy,
    backoff_s,
    decide_retry,
    unreachable_backoff_s,
)
from pushgate.domain.statuses import ResultCode
from tests.unit.domain.strategies import PROPERTY

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy()  # base 1 s, cap 900 s, 12 attempts, unsent resend after 0.2 s
FAR = NOW + timedelta(days=28)


def _rng(seed: int = 7) -> random.Random:
    return random.Random(seed)  # noqa: S311 - jitter, not a secret


def _decide(
    *,
    attempts: int = 1,
    retry_after_s: float | None = None,
    unsent: bool = False,
    unreachable_s: float = 0.0,
    now: datetime = NOW,
    rng: random.Random | None = None,
) -> RetryDecision:
    return decide_retry(
        POLICY,
        attempts=attempts,
        now=now,
        expires_at=FAR,
        once=False,
        retry_after_s=retry_after_s,
        unsent=unsent,
        code=ResultCode.RECOVERABLE_IO,
        reason="ConnectFailed",
        rng=rng or _rng(),
        unreachable_s=unreachable_s,
    )


def _delay_s(decision: RetryDecision, now: datetime = NOW) -> float:
    assert decision.next_attempt_at is not None, decision
    return (decision.next_attempt_at - now).total_seconds()


def test_a_thousand_deliveries_failing_together_retry_spread_over_the_window() -> None:
    # 1,000 deliveries answered 503 at the same instant, on their 5th attempt: window 8-16 s.
    rng = _rng()
    delays = sorted(backoff_s(POLICY, 5, rng) for _ in range(1000))
    buckets = [0] * 8  # one per second of the window
    for delay in delays:
        buckets[min(int(delay - 8), 7)] += 1
    print(f"\nretry spread of 1,000 deliveries over 8-16 s, per second: {buckets}")  # noqa: T201
    assert delays[0] >= 8
    assert delays[-1] <= 16
    assert min(buckets) >= 80  # ~125 a second: no second takes the herd
    assert max(buckets) <= 170


def test_retry_after_beyond_the_cap_is_still_honoured() -> None:
    # The cap bounds our own backoff; the provider's Retry-After is never cut short.
    assert _delay_s(_decide(retry_after_s=3600.0)) == 3600.0
    assert _delay_s(_decide(attempts=11, retry_after_s=3600.0)) == 3600.0


def test_the_backoff_is_capped_however_many_attempts() -> None:
    rng = _rng()
    assert max(backoff_s(POLICY, attempts, rng) for attempts in range(1, 200)) <= POLICY.cap_s


def test_an_unsent_resend_is_soon_while_the_provider_was_just_reached() -> None:
    assert _delay_s(_decide(unsent=True)) == POLICY.unsent_delay_s


def test_an_unsent_resend_waits_as_long_again_as_the_provider_has_been_unreachable() -> None:
    for unreachable_s in (1.0, 10.0, 60.0):
        delay = _delay_s(_decide(unsent=True, unreachable_s=unreachable_s))
        assert unreachable_s <= delay <= 2 * unreachable_s
    assert _delay_s(_decide(unsent=True, unreachable_s=86400.0)) <= POLICY.cap_s


def test_a_day_long_outage_is_tried_a_few_dozen_times_not_every_poll() -> None:
    # Every resend is refused: how often is a delivery tried in a day?
    rng, at, tries = _rng(), 0.0, 0
    while at < 86400:
        tries += 1
        decision = _decide(unsent=True, unreachable_s=at, now=NOW + timedelta(seconds=at), rng=rng)
        at += _delay_s(decision, NOW + timedelta(seconds=at))
    print(f"\nresends in a day of refused connections: {tries}")  # noqa: T201
    # Once capped, 450-900 s apart: ~130. 0.2 s apart (every poll) it was 432,000.
    assert tries <= 200


@PROPERTY
@given(
    unreachable_s=st.floats(min_value=0.0, max_value=10 * 86400.0),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_unreachable_backoff_lies_between_the_outage_and_twice_it_capped(
    unreachable_s: float, seed: int
) -> None:
    wait = unreachable_backoff_s(POLICY, unreachable_s, _rng(seed))
    ceiling = min(POLICY.cap_s, 2 * unreachable_s)
    assert ceiling / 2 <= wait <= ceiling
