"""Per-app, per-provider token buckets: one second of burst, refill, and the wait reported."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushgate.delivery.limiter import TokenBuckets
from tests.unit.domain.strategies import PROPERTY

KEY = (1, "fcm")


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _buckets() -> tuple[TokenBuckets, Clock]:
    clock = Clock()
    return TokenBuckets(clock), clock


def test_a_new_bucket_grants_one_second_of_burst() -> None:
    buckets, _ = _buckets()
    granted, wait = buckets.take(KEY, 100.0, 250)
    assert granted == 100
    assert wait > 0


def test_what_fits_the_bucket_is_granted_without_a_wait() -> None:
    buckets, _ = _buckets()
    assert buckets.take(KEY, 100.0, 40) == (40, 0.0)
    assert buckets.take(KEY, 100.0, 60) == (60, 0.0)


def test_an_empty_bucket_grants_nothing_until_it_refills() -> None:
    buckets, _ = _buckets()
    buckets.take(KEY, 10.0, 10)
    granted, wait = buckets.take(KEY, 10.0, 1)
    assert granted == 0
    assert wait > 0


def test_bucket_refills_at_the_rate() -> None:
    buckets, clock = _buckets()
    buckets.take(KEY, 10.0, 10)
    clock.advance(0.5)
    granted, _ = buckets.take(KEY, 10.0, 10)
    assert granted == 5


def test_an_idle_bucket_holds_no_more_than_one_second_of_sends() -> None:
    buckets, clock = _buckets()
    buckets.take(KEY, 10.0, 10)
    clock.advance(3_600)
    granted, _ = buckets.take(KEY, 10.0, 1_000)
    assert granted == 10


def test_reported_wait_for_an_emptied_bucket_is_one_second() -> None:
    buckets, _ = _buckets()
    granted, wait = buckets.take(KEY, 10.0, 25)
    assert granted == 10
    assert wait == pytest.approx(1.0)


def test_after_the_reported_wait_the_bucket_grants_again() -> None:
    buckets, clock = _buckets()
    _, wait = buckets.take(KEY, 10.0, 25)
    clock.advance(wait)
    granted, wait = buckets.take(KEY, 10.0, 15)
    assert granted == 10
    assert wait == pytest.approx(1.0)


def test_apps_and_providers_have_their_own_buckets() -> None:
    buckets, _ = _buckets()
    buckets.take((1, "fcm"), 5.0, 5)
    assert buckets.take((1, "apns"), 5.0, 5) == (5, 0.0)
    assert buckets.take((2, "fcm"), 5.0, 5) == (5, 0.0)
    assert buckets.take((1, "fcm"), 5.0, 1)[0] == 0


def test_nothing_wanted_is_granted_at_once() -> None:
    buckets, _ = _buckets()
    assert buckets.take(KEY, 10.0, 0) == (0, 0.0)


@PROPERTY
@given(
    rate=st.integers(min_value=1, max_value=10_000).map(float),
    wanted=st.lists(st.integers(min_value=0, max_value=30_000), min_size=1, max_size=8),
    gaps=st.lists(st.floats(min_value=0.0, max_value=5.0), min_size=8, max_size=8),
)
def test_grants_never_exceed_the_burst_plus_what_refilled(
    rate: float, wanted: list[int], gaps: list[float]
) -> None:
    buckets, clock = _buckets()
    granted_total = 0
    elapsed = 0.0
    for want, gap in zip(wanted, gaps, strict=False):
        granted, wait = buckets.take(KEY, rate, want)
        assert 0 <= granted <= want
        assert (wait == 0.0) is (granted == want)
        assert 0.0 <= wait <= 1.0  # the bucket refills within a second
        granted_total += granted
        assert granted_total <= rate + elapsed * rate + 1e-6
        clock.advance(gap)
        elapsed += gap


@PROPERTY
@given(
    rate=st.integers(min_value=1, max_value=10_000).map(float),
    first=st.integers(min_value=0, max_value=30_000),
    gap=st.floats(min_value=0.0, max_value=2.0),
    rest=st.integers(min_value=1, max_value=30_000),
)
def test_after_the_reported_wait_at_least_one_send_is_granted(
    rate: float, first: int, gap: float, rest: int
) -> None:
    buckets, clock = _buckets()
    buckets.take(KEY, rate, first)
    clock.advance(gap)
    granted, wait = buckets.take(KEY, rate, rest)
    if granted == rest:
        return
    clock.advance(wait)
    assert buckets.take(KEY, rate, rest - granted)[0] >= 1


def test_half_a_send_per_second_grants_one_send_every_two_seconds() -> None:
    buckets, clock = _buckets()
    granted = 0
    for _ in range(10):  # 20 s at 0.5/s: ten sends due
        got, wait = buckets.take(KEY, 0.5, 1)
        granted += got
        clock.advance(max(wait, 2.0))
    assert granted >= 9
