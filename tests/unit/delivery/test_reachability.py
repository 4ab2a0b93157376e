"""Outages per app, provider and route: one Web Push origin down while the others answer is an
outage of that origin alone (pure: a clock moved by hand, SendResults made up)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pushgate.delivery.reachability import Reachability, route_of
from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.providers.base import SendResult

REFUSED = SendResult(Outcome.RETRY, ResultCode.RECOVERABLE_IO, "connection refused", unsent=True)
SENT = SendResult(Outcome.SENT, ResultCode.SENT)
DOWN = "https://updates.push.services.mozilla.com/wpush/v2/abc"
UP = "https://fcm.googleapis.com/fcm/send/def"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_one_web_push_origin_down_while_another_answers_is_its_own_outage() -> None:
    clock = Clock()
    seen = Reachability(clock)
    for _ in range(3):  # three rounds of one batch to both origins
        seen.note(1, "webpush", [DOWN, UP, DOWN], [REFUSED, SENT, REFUSED])
        clock.now += timedelta(seconds=10)
    assert seen.unreachable_s(1, "webpush", DOWN, clock.now) == 30.0
    assert seen.unreachable_s(1, "webpush", UP, clock.now) == 0.0
    assert seen.unreachable_s(2, "webpush", DOWN, clock.now) == 0.0  # another app: its own
    seen.note(1, "webpush", [DOWN], [SENT])  # back: resends go out soon again
    assert seen.unreachable_s(1, "webpush", DOWN, clock.now) == 0.0


def test_other_providers_are_one_route_and_any_answer_ends_an_outage() -> None:
    clock = Clock()
    seen = Reachability(clock)
    seen.note(1, "apns", ["aa", "bb"], [REFUSED, REFUSED])
    clock.now += timedelta(seconds=5)
    assert seen.unreachable_s(1, "apns", "cc", clock.now) == 5.0
    seen.note(1, "apns", ["aa", "bb"], [REFUSED, SENT])
    assert seen.unreachable_s(1, "apns", "aa", clock.now) == 0.0


def test_routes() -> None:
    assert route_of("webpush", DOWN) == "https://updates.push.services.mozilla.com"
    assert (
        route_of("webpush", "https://web.push.apple.com:443/x") == "https://web.push.apple.com:443"
    )
    assert route_of("fcm", "some-token") == ""
