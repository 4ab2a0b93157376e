"""The control API knows every ServerPlan field, so a field added to the plan is settable."""

from __future__ import annotations

from dataclasses import fields

import pytest

from pushgate.fakes.behaviour import ServerPlan
from pushgate.fakes.control import DEFAULT_PORT, PLAN_FIELDS, BadValue, checked_changes, plan_json


def test_every_plan_field_has_a_check() -> None:
    assert set(PLAN_FIELDS) == {f.name for f in fields(ServerPlan)}


def test_plan_json_round_trips_through_the_checks() -> None:
    plan = ServerPlan(goaway_after_streams=3, fail_status=503, fail_retry_after="1")
    assert checked_changes(plan_json(plan), "x") == plan_json(plan)


def test_default_port_is_8099() -> None:
    assert DEFAULT_PORT == 8099


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"initial_max_streams": 1.5}, "x.initial_max_streams"),
        ({"fail_retry_after": 3}, "x.fail_retry_after"),
        ({"delay_s": 301}, "x.delay_s"),
        ({"reset_after_streams": -1}, "x.reset_after_streams"),
    ],
)
def test_bad_values_name_their_field(body: dict[str, object], message: str) -> None:
    with pytest.raises(BadValue, match=message):
        checked_changes(body, "x")
