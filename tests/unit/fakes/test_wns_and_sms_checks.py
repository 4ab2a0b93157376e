"""The fakes' own request checks (pure): WNS headers and body, SMS number behaviours."""

from __future__ import annotations

import pytest

from pushgate.fakes.behaviour import TokenBehaviour, token_behaviour
from pushgate.fakes.http_server import FakeRequest
from pushgate.fakes.sms import behaviour_key
from pushgate.fakes.wns import check_notification

BADGE = b'<badge value="1"/>'


def request(body: bytes = BADGE, **headers: str) -> FakeRequest:
    base = {"x-wns-type": "wns/badge", "content-type": "text/xml"}
    base.update({k.replace("_", "-"): v for k, v in headers.items()})
    return FakeRequest("POST", "/w/c", "", list(base.items()), body)


def test_a_good_badge_passes() -> None:
    assert check_notification(request()) is None


@pytest.mark.parametrize(
    ("req", "status"),
    [
        (request(x_wns_type="wns/push"), 400),
        (request(content_type="application/octet-stream"), 400),
        (request(b"hello", x_wns_type="wns/raw"), 400),  # raw needs octet-stream
        (request(x_wns_ttl="ten"), 400),
        (request(x_wns_tag="t"), 400),  # a tag on a badge
        (request(b"<toast/>", x_wns_type="wns/toast", x_wns_tag="x" * 17), 400),
        (request(x_wns_cache_policy="forever"), 400),
        (request(b""), 400),
        (request(b"<badge>"), 400),  # not well-formed
        (request(b"<toast/>"), 400),  # root does not match the type
        (request(b'<!DOCTYPE b [<!ENTITY x "y">]><badge value="&x;"/>'), 400),
        (request(b"<badge/>" + b" " * 5000), 413),
    ],
)
def test_wns_refusals(req: FakeRequest, status: int) -> None:
    refusal = check_notification(req)
    assert refusal is not None
    assert refusal.status == status


def test_duplicate_headers_are_refused() -> None:
    twice = FakeRequest(
        "POST", "/w/c", "", [("x-wns-type", "wns/badge"), ("x-wns-type", "wns/badge")], BADGE
    )
    refusal = check_notification(twice)
    assert refusal is not None
    assert refusal.status == 400


@pytest.mark.parametrize(
    ("number", "behaviour"),
    [
        ("+15550001234", TokenBehaviour.ACCEPT),
        ("+4105550001", TokenBehaviour.DEAD),
        ("+4005550001", TokenBehaviour.BAD),
        ("+4295550001", TokenBehaviour.RATE_LIMITED_ONCE),
        ("+5005550001", TokenBehaviour.SERVER_ERROR_ONCE),
        ("+51055550001", TokenBehaviour.SLOW),
        ("+4015550001", TokenBehaviour.ACCEPT),
    ],
)
def test_phone_digits_choose_the_shared_behaviours(number: str, behaviour: TokenBehaviour) -> None:
    assert token_behaviour(behaviour_key(number)) is behaviour
