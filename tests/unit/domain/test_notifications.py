"""Stored notifications: status counts, the request's JSON form and delivery ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushgate.domain.ids import new_id
from pushgate.domain.notifications import (
    Counts,
    NotificationRequest,
    delivery_id,
    split_delivery_id,
)
from pushgate.domain.payload import Content, DeliveryOptions, Message, Priority
from pushgate.domain.targets import BulkEntry, Target, TargetKind
from tests.unit.domain.strategies import (
    AWARE_DATETIME,
    MESSAGE,
    OPTIONS,
    PROPERTY,
    TARGET,
)

# --- Counts -------------------------------------------------------------------------------


def test_queued_is_planned_plus_targeted_less_the_final_ones() -> None:
    counts = Counts(
        planned=100, targeted=50, sent=20, errors=5, received=3, consumed=2, confirmed=1
    )
    assert counts.by_status() == {
        "QUEUED": 100 + 50 - (20 + 5 + 3 + 2 + 1),
        "SENT": 20,
        "ERROR": 5,
        "RECEIVED": 3,
        "CONSUMED": 2,
        "CONFIRMED": 1,
    }


def test_nothing_planned_or_targeted_counts_nothing_queued() -> None:
    assert Counts(0, 0, 0, 0, 0, 0, 0).by_status()["QUEUED"] == 0


def test_every_targeted_registration_final_leaves_nothing_queued() -> None:
    counts = Counts(planned=0, targeted=10, sent=6, errors=2, received=1, consumed=0, confirmed=1)
    assert counts.by_status()["QUEUED"] == 0


_COUNT = st.integers(min_value=0, max_value=10**6)


@PROPERTY
@given(
    sent=_COUNT,
    errors=_COUNT,
    received=_COUNT,
    consumed=_COUNT,
    confirmed=_COUNT,
    queued=_COUNT,
    planned=_COUNT,
)
def test_counts_by_status_add_up_to_planned_plus_targeted(
    sent: int, errors: int, received: int, consumed: int, confirmed: int, queued: int, planned: int
) -> None:
    final = sent + errors + received + consumed + confirmed
    targeted = final + queued
    counts = Counts(planned, targeted, sent, errors, received, consumed, confirmed)
    by_status = counts.by_status()
    assert sum(by_status.values()) == planned + targeted
    assert by_status["QUEUED"] == planned + queued


# --- NotificationRequest JSON -------------------------------------------------------------

EXAMPLE = NotificationRequest(
    target=Target(
        TargetKind.BULK,
        bulk=(BulkEntry("alice", None, Message(Content(alert="Hi Alice"))),),
    ),
    message=Message(
        Content(alert="Hello!", data={"order": "4711"}), {"de": Content(alert="Hallo")}
    ),
    options=DeliveryOptions(
        expires_at=datetime(2026, 3, 2, 12, 0, tzinfo=UTC),
        priority=Priority.HIGH,
        collapse_id="c-1",
        once=False,
    ),
    send_at=datetime(2026, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=1))),
    local_time=False,
)


def test_request_round_trips_through_its_json() -> None:
    assert NotificationRequest.from_json(EXAMPLE.to_json()) == EXAMPLE


def test_local_time_request_without_schedule_round_trips() -> None:
    request = NotificationRequest(EXAMPLE.target, EXAMPLE.message, EXAMPLE.options, None, True)
    assert NotificationRequest.from_json(request.to_json()) == request


def test_equal_requests_give_the_same_json_text() -> None:
    again = NotificationRequest.from_json(EXAMPLE.to_json())
    assert again.to_json() == EXAMPLE.to_json()


@PROPERTY
@given(
    target=TARGET,
    message=MESSAGE,
    options=OPTIONS,
    send_at=st.none() | AWARE_DATETIME,
    local_time=st.booleans(),
)
def test_any_request_round_trips_through_its_json(
    target: Target,
    message: Message,
    options: DeliveryOptions,
    send_at: datetime | None,
    local_time: bool,
) -> None:
    request = NotificationRequest(target, message, options, send_at, local_time)
    assert NotificationRequest.from_json(request.to_json()) == request


# --- delivery ids -------------------------------------------------------------------------


def test_delivery_id_splits_back_into_notification_and_registration() -> None:
    notification, registration = new_id(), new_id()
    assert split_delivery_id(delivery_id(notification, registration)) == (
        notification,
        registration,
    )


_ID = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)


@PROPERTY
@given(notification=_ID, registration=_ID)
def test_any_pair_of_ids_survives_the_delivery_id(notification: str, registration: str) -> None:
    assert split_delivery_id(delivery_id(notification, registration)) == (
        notification,
        registration,
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a" * 63,
        "a" * 65,
        "A" * 64,  # ids are lower-case hex
        "g" + "a" * 63,
        "a" * 32 + "-" + "a" * 31,
        "a" * 32,  # a notification id alone
    ],
    ids=["empty", "63", "65", "upper", "non-hex", "dash", "notification-only"],
)
def test_what_cannot_be_a_delivery_id_splits_to_none(value: str) -> None:
    assert split_delivery_id(value) is None
