"""Retry policy: jittered capped backoff, Retry-After, max attempts, expiry, TTL 0, unsent."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushgate.delivery.retry import RetryDecision, RetryPolicy, backoff_s, decide_retry
from pushgate.domain.statuses import ResultCode
from tests.unit.domain.strategies import PROPERTY

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy()  # base 1 s, cap 900 s, 12 attempts, unsent resend after 0.2 s
FAR = NOW + timedelta(days=28)
CODE = ResultCode.RECOVERABLE_IO


def _rng(seed: int = 7) -> random.Random:
    return random.Random(seed)  # noqa: S311 - jitter, not a secret


def _decide(
    *,
    attempts: int = 1,
    expires_at: datetime = FAR,
    once: bool = False,
    retry_after_s: float | None = None,
    unsent: bool = False,
    reason: str | None = "HTTP 503",
    policy: RetryPolicy = POLICY,
    seed: int = 7,
) -> RetryDecision:
    return decide_retry(
        policy,
        attempts=attempts,
        now=NOW,
        expires_at=expires_at,
        once=once,
        retry_after_s=retry_after_s,
        unsent=unsent,
        code=CODE,
        reason=reason,
        rng=_rng(seed),
    )


def _delay_s(decision: RetryDecision) -> float:
    assert decision.next_attempt_at is not None, decision
    return (decision.next_attempt_at - NOW).total_seconds()


def _ceiling(policy: RetryPolicy, attempts: int) -> float:
    """The documented backoff: base doubled per attempt made, at most cap_s."""
    return min(policy.cap_s, policy.base_s * 2.0 ** (attempts - 1))


# --- backoff_s ----------------------------------------------------------------------------

_POLICIES = st.builds(
    lambda base, factor: RetryPolicy(base_s=base, cap_s=base * factor),
    st.floats(min_value=0.01, max_value=60.0),
    st.floats(min_value=1.0, max_value=10_000.0),
)
_ATTEMPTS = st.integers(min_value=1, max_value=200)
_SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


@PROPERTY
@given(policy=_POLICIES, attempts=_ATTEMPTS, seed=_SEEDS)
def test_backoff_lies_between_half_its_ceiling_and_its_ceiling(
    policy: RetryPolicy, attempts: int, seed: int
) -> None:
    ceiling = _ceiling(policy, attempts)
    assert ceiling / 2 <= backoff_s(policy, attempts, _rng(seed)) <= ceiling


@PROPERTY
@given(policy=_POLICIES, attempts=_ATTEMPTS, seed=_SEEDS)
def test_backoff_never_exceeds_the_cap(policy: RetryPolicy, attempts: int, seed: int) -> None:
    assert backoff_s(policy, attempts, _rng(seed)) <= policy.cap_s


@PROPERTY
@given(policy=_POLICIES, attempts=_ATTEMPTS, seed=_SEEDS)
def test_with_the_same_draw_a_later_attempt_never_waits_less(
    policy: RetryPolicy, attempts: int, seed: int
) -> None:
    assert backoff_s(policy, attempts + 1, _rng(seed)) >= backoff_s(policy, attempts, _rng(seed))


def test_first_retry_waits_between_half_a_second_and_a_second() -> None:
    for seed in range(50):
        assert 0.5 <= backoff_s(POLICY, 1, _rng(seed)) <= 1.0


def test_backoff_doubles_until_the_15_minute_cap() -> None:
    assert 256 <= backoff_s(POLICY, 10, _rng()) <= 512
    assert 450 <= backoff_s(POLICY, 11, _rng()) <= 900
    assert 450 <= backoff_s(POLICY, 1_000, _rng()) <= 900


def test_backoff_is_jittered_across_draws() -> None:
    rng = _rng()
    assert len({backoff_s(POLICY, 5, rng) for _ in range(20)}) > 1


# --- decide_retry: examples ---------------------------------------------------------------


def test_retryable_answer_is_retried_after_the_backoff() -> None:
    decision = _decide(attempts=3)
    assert decision.give_up_code is None
    assert 2.0 <= _delay_s(decision) <= 4.0


def test_retry_never_comes_before_retry_after() -> None:
    assert _delay_s(_decide(attempts=1, retry_after_s=120.0)) == 120.0


def test_backoff_longer_than_retry_after_wins() -> None:
    assert _delay_s(_decide(attempts=10, retry_after_s=1.0)) >= 256


def test_gives_up_at_max_attempts_with_the_answers_code() -> None:
    decision = _decide(attempts=POLICY.max_attempts)
    assert decision.next_attempt_at is None
    assert decision.give_up_code is CODE
    assert decision.give_up_reason is not None
    assert "HTTP 503" in decision.give_up_reason
    assert str(POLICY.max_attempts) in decision.give_up_reason


def test_last_attempt_before_max_is_still_retried() -> None:
    assert _decide(attempts=POLICY.max_attempts - 1).next_attempt_at is not None


def test_gives_up_when_the_next_attempt_would_fall_after_expiry() -> None:
    decision = _decide(attempts=5, expires_at=NOW + timedelta(seconds=3))  # backoff >= 8 s
    assert decision.next_attempt_at is None
    assert decision.give_up_code is ResultCode.PROVIDER_FAILED
    assert decision.give_up_reason is not None
    assert "expired" in decision.give_up_reason
    assert "HTTP 503" in decision.give_up_reason


def test_retry_after_beyond_expiry_gives_up_as_expired() -> None:
    decision = _decide(retry_after_s=3600.0, expires_at=NOW + timedelta(minutes=30))
    assert decision.give_up_code is ResultCode.PROVIDER_FAILED


def test_retry_due_exactly_at_expiry_is_still_made() -> None:
    decision = _decide(retry_after_s=60.0, expires_at=NOW + timedelta(seconds=60))
    assert decision.next_attempt_at == NOW + timedelta(seconds=60)


def test_ttl_0_gives_up_at_once_with_the_answers_code() -> None:
    decision = _decide(once=True, expires_at=NOW + timedelta(seconds=60))
    assert decision.next_attempt_at is None
    assert decision.give_up_code is CODE
    assert decision.give_up_reason is not None
    assert "TTL 0" in decision.give_up_reason


def test_give_up_without_a_reason_still_says_why() -> None:
    decision = _decide(once=True, reason=None)
    assert decision.give_up_reason is not None
    assert "failed" in decision.give_up_reason


def test_unsent_request_is_resent_soon() -> None:
    assert _delay_s(_decide(unsent=True)) == pytest.approx(POLICY.unsent_delay_s)


def test_unsent_request_does_not_count_against_max_attempts() -> None:
    decision = _decide(attempts=POLICY.max_attempts + 5, unsent=True)
    assert _delay_s(decision) == pytest.approx(POLICY.unsent_delay_s)


def test_unsent_request_of_a_ttl_0_notification_still_gets_its_one_attempt() -> None:
    decision = _decide(once=True, unsent=True, expires_at=NOW + timedelta(seconds=60))
    assert decision.next_attempt_at is not None


def test_unsent_request_waits_for_retry_after() -> None:
    assert _delay_s(_decide(unsent=True, retry_after_s=2.5)) == 2.5


def test_unsent_request_past_expiry_gives_up_as_expired() -> None:
    decision = _decide(unsent=True, expires_at=NOW + timedelta(seconds=0.1))
    assert decision.give_up_code is ResultCode.PROVIDER_FAILED
    assert decision.give_up_reason is not None
    assert "expired" in decision.give_up_reason


# --- decide_retry: properties -------------------------------------------------------------

_RETRY_AFTER = st.none() | st.floats(min_value=0.0, max_value=7200.0)
_EXPIRES_IN = st.floats(min_value=0.0, max_value=28 * 86400.0)


@PROPERTY
@given(
    attempts=st.integers(min_value=1, max_value=30),
    retry_after_s=_RETRY_AFTER,
    expires_in_s=_EXPIRES_IN,
    once=st.booleans(),
    unsent=st.booleans(),
    seed=_SEEDS,
)
def test_decision_is_a_retry_in_the_window_or_a_reasoned_give_up(
    attempts: int,
    retry_after_s: float | None,
    expires_in_s: float,
    once: bool,
    unsent: bool,
    seed: int,
) -> None:
    expires_at = NOW + timedelta(seconds=expires_in_s)
    decision = _decide(
        attempts=attempts,
        expires_at=expires_at,
        once=once,
        retry_after_s=retry_after_s,
        unsent=unsent,
        seed=seed,
    )
    at = decision.next_attempt_at
    if at is not None:
        assert decision.give_up_code is None
        assert NOW < at <= expires_at
        if retry_after_s is not None:
            assert at >= NOW + timedelta(seconds=retry_after_s)
        assert unsent or (not once and attempts < POLICY.max_attempts)
        return
    assert decision.give_up_code is not None
    assert decision.give_up_reason
    if not unsent and (once or attempts >= POLICY.max_attempts):
        assert decision.give_up_code is CODE
    else:
        assert decision.give_up_code is ResultCode.PROVIDER_FAILED
        assert "expired" in decision.give_up_reason


@PROPERTY
@given(attempts=st.integers(min_value=1, max_value=11), seed=_SEEDS)
def test_with_time_left_a_counted_retry_is_always_made_below_max_attempts(
    attempts: int, seed: int
) -> None:
    decision = _decide(attempts=attempts, seed=seed)  # 28 days left, far beyond the 15 min cap
    delay = _delay_s(decision)
    assert _ceiling(POLICY, attempts) / 2 <= delay <= _ceiling(POLICY, attempts)


@PROPERTY
@given(
    attempts=st.integers(min_value=1, max_value=30),
    retry_after_s=_RETRY_AFTER,
    seed=_SEEDS,
)
def test_ttl_0_never_retries_an_answered_attempt(
    attempts: int, retry_after_s: float | None, seed: int
) -> None:
    decision = _decide(attempts=attempts, once=True, retry_after_s=retry_after_s, seed=seed)
    assert decision.next_attempt_at is None
    assert decision.give_up_code is CODE
