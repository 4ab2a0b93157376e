"""Delivery statuses, receipts and the SAP seed's per-target result codes."""

from __future__ import annotations

import itertools

import pytest

from pushgate.domain.statuses import (
    STATUS_OF,
    DeliveryStatus,
    Outcome,
    ResultCode,
    receipt_allowed,
)

S = DeliveryStatus

# The SAP seed's "Possible status codes", -1 to 14, each with its meaning's name.
SEED_RESULT_CODES = {
    "QUEUED": -1,  # queued; the communication with the native push provider failed
    "SENT": 0,
    "INVALID_DATA": 1,
    "TARGET_NOT_FOUND": 2,
    "NOT_QUEUED": 3,
    "CONFIGURATION_EXPIRED": 4,
    "TOKEN_MISSING": 5,
    "TOKEN_REJECTED": 6,
    "REGISTRATION_EXPIRED": 7,
    "TOO_MANY_FOR_DEVICE": 8,
    "TOO_LARGE": 9,
    "NOT_ACCEPTED": 10,
    "RECOVERABLE_IO": 11,
    "PROVIDER_FAILED": 12,
    "PROVIDER_FAILED_AGAIN": 13,
    "QUOTA_EXCEEDED": 14,
}


def test_result_codes_are_exactly_the_seeds() -> None:
    assert {code.name: code.value for code in ResultCode} == SEED_RESULT_CODES


def test_result_codes_run_from_minus_1_to_14_without_gaps() -> None:
    assert sorted(code.value for code in ResultCode) == list(range(-1, 15))


# Receipts move a sent delivery forwards only: SENT < RECEIVED < CONSUMED < CONFIRMED.
ALLOWED_RECEIPTS = {
    (S.SENT, S.RECEIVED),
    (S.SENT, S.CONSUMED),
    (S.SENT, S.CONFIRMED),
    (S.RECEIVED, S.CONSUMED),
    (S.RECEIVED, S.CONFIRMED),
    (S.CONSUMED, S.CONFIRMED),
}


@pytest.mark.parametrize(("current", "reported"), sorted(ALLOWED_RECEIPTS))
def test_receipt_moving_a_sent_delivery_forwards_is_allowed(
    current: DeliveryStatus, reported: DeliveryStatus
) -> None:
    assert receipt_allowed(current, reported)


@pytest.mark.parametrize(
    ("current", "reported"),
    sorted(set(itertools.product(S, S)) - ALLOWED_RECEIPTS),
)
def test_every_other_receipt_is_refused(current: DeliveryStatus, reported: DeliveryStatus) -> None:
    assert not receipt_allowed(current, reported)


def test_receipt_for_a_queued_delivery_is_refused() -> None:
    assert not receipt_allowed(S.QUEUED, S.RECEIVED)


def test_receipt_for_a_failed_delivery_is_refused() -> None:
    assert not receipt_allowed(S.ERROR, S.CONFIRMED)


def test_receipt_never_moves_backwards_or_repeats() -> None:
    assert not receipt_allowed(S.CONFIRMED, S.RECEIVED)
    assert not receipt_allowed(S.CONSUMED, S.CONSUMED)


@pytest.mark.parametrize("status", list(S))
def test_every_status_but_queued_is_final(status: DeliveryStatus) -> None:
    assert status.is_final is (status is not S.QUEUED)


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (Outcome.SENT, S.SENT),
        (Outcome.RETRY, S.QUEUED),
        (Outcome.DEAD_TOKEN, S.ERROR),
        (Outcome.REJECTED, S.ERROR),
        (Outcome.AUTH, S.ERROR),
    ],
)
def test_outcome_sets_its_delivery_status(outcome: Outcome, status: DeliveryStatus) -> None:
    assert STATUS_OF[outcome] is status


def test_every_outcome_has_a_status() -> None:
    assert set(STATUS_OF) == set(Outcome)
