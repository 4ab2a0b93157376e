"""The fake FCM's message validation and error bodies, without a server."""

from __future__ import annotations

from typing import Any

import pytest

from pushgate.fakes.fcm_rules import (
    BAD_REQUEST_TYPE,
    FCM_ERROR_TYPE,
    QUOTA_FAILURE_TYPE,
    Violation,
    check_request,
    fcm_error,
    message_size,
)

VALID: dict[str, Any] = {
    "message": {
        "token": "tok",
        "notification": {"title": "t", "body": "b"},
        "data": {"k": "v"},
        "android": {
            "priority": "HIGH",
            "ttl": "3.5s",
            "collapse_key": "c",
            "notification": {"sound": "s", "notification_priority": "PRIORITY_HIGH"},
        },
        "apns": {"headers": {"apns-priority": "10"}, "payload": {"aps": {"badge": 1}}},
        "webpush": {"headers": {"TTL": "60"}},
        "fcm_options": {"analytics_label": "x"},
    },
    "validate_only": False,
}


def with_message(**fields: Any) -> dict[str, Any]:
    message = {"token": "tok", **fields}
    return {"message": {k: v for k, v in message.items() if v is not None}}


def test_a_full_valid_request_passes() -> None:
    assert check_request(VALID) is None


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({}, "message"),
        ({"message": {"token": "t"}, "dry_run": True}, "dry_run"),
        (with_message(colour="red"), "message.colour"),
        (with_message(android={"ttl": 5}), "message.android.ttl"),
        (with_message(data={"a": "1", "n": 2}), "message.data[1].value"),
        (with_message(token=None), "message"),
        (with_message(topic="news"), "message"),
        ({"message": {"topic": "/topics/news"}}, "message.topic"),
        ({"message": {"topic": "a b"}}, "message.topic"),
        (
            {"message": {"condition": " || ".join(f"'t{i}' in topics" for i in range(6))}},
            "message.condition",
        ),
        ({"message": {"condition": "'bad topic' in topics"}}, "message.condition"),
        (with_message(data={"from": "x"}), "message.data.from"),
        (with_message(data={"google.sent": "x"}), "message.data.google.sent"),
        (with_message(data={"gcm.notification": "x"}), "message.data.gcm.notification"),
        (with_message(android={"priority": "URGENT"}), "message.android.priority"),
        (with_message(android={"ttl": "10m"}), "message.android.ttl"),
        (with_message(android={"ttl": "2419201s"}), "message.android.ttl"),
        (with_message(android={"ttl": "1.0000000001s"}), "message.android.ttl"),
        (
            with_message(android={"notification": {"visibility": "LOUD"}}),
            "message.android.notification.visibility",
        ),
        (with_message(apns={"payload": "aps"}), "message.apns.payload"),
        (with_message(notification={"title": 1}), "message.notification.title"),
        (with_message(data={"k": "v" * 4100}), "message"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_refusals_name_the_field(request_body: dict[str, Any], field: str) -> None:
    violation = check_request(request_body)
    assert violation is not None
    assert violation.field == field


def test_topic_and_condition_messages_are_valid_targets() -> None:
    assert check_request({"message": {"topic": "news-1.a_b~%"}}) is None
    assert check_request({"message": {"condition": "'a' in topics && 'b' in topics"}}) is None


def test_size_counts_the_message_without_its_target() -> None:
    message = {"token": "x" * 500, "data": {"k": "v"}}
    assert message_size(message) == len('{"data":{"k":"v"}}')
    at_limit = {"token": "t", "data": {"k": "v" * (4096 - len('{"data":{"k":""}}'))}}
    assert message_size(at_limit) == 4096
    assert check_request({"message": at_limit}) is None
    topic = {"topic": "news", "data": {"k": "v" * 2100}}
    assert check_request({"message": topic}) == Violation(
        "message", "Message is too big (limit 2048 bytes)."
    )


def test_error_body_is_a_google_rpc_status_with_the_fcm_error() -> None:
    status, body = fcm_error("INVALID_ARGUMENT", violations=[Violation("message.token", "bad")])
    assert status == 400
    error = body["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["details"] == [
        {"@type": FCM_ERROR_TYPE, "errorCode": "INVALID_ARGUMENT"},
        {
            "@type": BAD_REQUEST_TYPE,
            "fieldViolations": [{"field": "message.token", "description": "bad"}],
        },
    ]


@pytest.mark.parametrize(
    ("error_code", "status", "rpc_status"),
    [
        ("UNREGISTERED", 404, "NOT_FOUND"),
        ("SENDER_ID_MISMATCH", 403, "PERMISSION_DENIED"),
        ("QUOTA_EXCEEDED", 429, "RESOURCE_EXHAUSTED"),
        ("INTERNAL", 500, "INTERNAL"),
        ("UNAVAILABLE", 503, "UNAVAILABLE"),
        ("THIRD_PARTY_AUTH_ERROR", 401, "UNAUTHENTICATED"),
    ],
)
def test_each_error_code_has_its_status(error_code: str, status: int, rpc_status: str) -> None:
    answered, body = fcm_error(error_code)
    assert (answered, body["error"]["status"]) == (status, rpc_status)
    assert body["error"]["details"][0] == {"@type": FCM_ERROR_TYPE, "errorCode": error_code}
    if error_code == "QUOTA_EXCEEDED":
        assert body["error"]["details"][1]["@type"] == QUOTA_FAILURE_TYPE
