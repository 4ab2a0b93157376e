"""FCM message rendering: fields, TTL, data strings, the override merge and the token splice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from pushgate.domain.payload import Content, DeliveryOptions, Priority
from pushgate.domain.platforms import Platform
from pushgate.providers.base import Push
from pushgate.providers.fcm import fcm_kind
from pushgate.providers.fcm_message import (
    MAX_TTL_S,
    RenderedMessage,
    data_text,
    fcm_message,
    merge_patch,
    render,
    ttl_seconds,
    ttl_text,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(hours=1)


def options(
    *,
    expires_at: datetime = EXPIRES,
    priority: Priority | None = None,
    collapse_id: str | None = None,
    once: bool = False,
) -> DeliveryOptions:
    return DeliveryOptions(expires_at, priority, collapse_id, once)


def test_full_content_renders_every_block() -> None:
    content = Content(
        title="Sale",
        body="50% off",
        badge=2,
        sound="chime",
        data={"order": "42"},
        category="OFFER",
        thread_id="shop",
        mutable_content=True,
    )
    push = Push(content, options(priority=Priority.HIGH, collapse_id="sale"))
    assert fcm_message(push, 3600) == {
        "notification": {"title": "Sale", "body": "50% off"},
        "data": {"order": "42"},
        "android": {
            "ttl": "3600s",
            "priority": "HIGH",
            "collapse_key": "sale",
            "notification": {"sound": "chime", "tag": "sale", "click_action": "OFFER"},
        },
        "apns": {
            "headers": {
                "apns-expiration": str(int(EXPIRES.timestamp())),
                "apns-priority": "10",
                "apns-collapse-id": "sale",
            },
            "payload": {
                "aps": {
                    "badge": 2,
                    "sound": "chime",
                    "category": "OFFER",
                    "thread-id": "shop",
                    "mutable-content": 1,
                }
            },
        },
        "webpush": {"headers": {"TTL": "3600", "Urgency": "high"}},
    }


def test_alert_is_the_body_when_no_body_is_given() -> None:
    message = fcm_message(Push(Content(alert="Plain"), options()), 60)
    assert message["notification"] == {"body": "Plain"}


def test_unset_priority_is_left_to_fcm() -> None:
    message = fcm_message(Push(Content(title="t"), options()), 60)
    assert "priority" not in message["android"]
    assert "apns-priority" not in message["apns"]["headers"]
    assert "Urgency" not in message["webpush"]["headers"]


def test_normal_priority_is_apns_5() -> None:
    message = fcm_message(Push(Content(title="t"), options(priority=Priority.NORMAL)), 60)
    assert message["android"]["priority"] == "NORMAL"
    assert message["apns"]["headers"]["apns-priority"] == "5"


def test_background_push_is_a_background_apns_push_at_priority_5() -> None:
    content = Content(content_available=True, data={"sync": "1"})
    message = fcm_message(Push(content, options(priority=Priority.HIGH)), 60)
    assert "notification" not in message
    assert message["apns"]["headers"]["apns-push-type"] == "background"
    assert message["apns"]["headers"]["apns-priority"] == "5"
    assert message["apns"]["payload"] == {"aps": {"content-available": 1}}


def test_android_notification_options_need_a_shown_notification() -> None:
    message = fcm_message(Push(Content(sound="s", data={"a": "b"}), options()), 60)
    assert "notification" not in message["android"]


def test_override_wins_merges_deeply_and_null_removes() -> None:
    override = {
        "android": {"priority": "NORMAL", "notification": {"channel_id": "promo"}},
        "webpush": None,
        "token": "not-this",
        "fcm_options": {"analytics_label": "spring"},
    }
    content = Content(title="t", sound="s", fcm=override)
    message = fcm_message(Push(content, options(priority=Priority.HIGH)), 60)
    assert message["android"]["priority"] == "NORMAL"
    assert message["android"]["notification"] == {"sound": "s", "channel_id": "promo"}
    assert message["android"]["ttl"] == "60s"
    assert "webpush" not in message
    assert "token" not in message  # the delivery's token is always the target
    assert message["fcm_options"] == {"analytics_label": "spring"}


def test_merge_patch_replaces_non_objects() -> None:
    patch = {"a": 2, "c": [2], "d": {"e": None, "f": 1}, "g": {"h": {"i": None}}}
    assert merge_patch({"a": {"b": 1}, "c": [1], "g": 3}, patch) == {
        "a": 2,
        "c": [2],
        "d": {"f": 1},  # RFC 7396: a patch object merges into {} when nothing is there
        "g": {"h": {}},
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [("x", "x"), (1, "1"), (1.5, "1.5"), (True, "true"), (None, "null"), ({"a": 1}, '{"a": 1}')],
)
def test_data_values_become_strings(value: object, text: str) -> None:
    assert data_text(value) == text


@pytest.mark.parametrize(
    ("left", "seconds"),
    [
        (timedelta(hours=1), 3600),
        (timedelta(seconds=90.9), 90),  # rounded down: FCM never keeps it past expiry
        (timedelta(days=40), MAX_TTL_S),  # FCM's 28-day maximum
        (timedelta(seconds=0.5), None),  # under a second left: expired
        (timedelta(seconds=-1), None),
    ],
)
def test_ttl_is_the_whole_seconds_left(left: timedelta, seconds: int | None) -> None:
    assert ttl_seconds(options(expires_at=NOW + left), NOW) == seconds


def test_once_is_ttl_zero() -> None:
    once = options(once=True)
    assert ttl_seconds(once, NOW) == 0
    message = fcm_message(Push(Content(title="t"), once), 0)
    assert message["android"]["ttl"] == "0s"
    assert message["apns"]["headers"]["apns-expiration"] == "0"
    assert message["webpush"]["headers"]["TTL"] == "0"


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (1, "1s"), (2_419_200, "2419200s")])
def test_ttl_text_is_a_protobuf_duration(seconds: int, text: str) -> None:
    assert ttl_text(seconds) == text


def test_token_is_spliced_into_the_encoded_message() -> None:
    rendered = render(Push(Content(title="é", data={"k": "v"}), options()), 60)
    body = json.loads(rendered.request_body('tok"en'))
    assert list(body) == ["message"]
    assert body["message"]["token"] == 'tok"en'
    assert body["message"]["notification"] == {"title": "é"}
    assert (
        rendered.size
        == len(rendered.message)
        == len(
            json.dumps(
                {k: v for k, v in body["message"].items() if k != "token"},
                separators=(",", ":"),
                ensure_ascii=False,
            ).encode()
        )
    )


def test_token_splice_of_an_empty_message() -> None:
    assert json.loads(RenderedMessage(b"{}").request_body("t")) == {"message": {"token": "t"}}


def test_kind_renders_what_the_adapter_sends_and_names_the_limit() -> None:
    kind = fcm_kind()
    push = Push(Content(title="t"), DeliveryOptions(datetime.now(UTC) + timedelta(hours=1)))
    assert kind.name == "fcm"
    assert kind.needs_credential
    assert json.loads(kind.render(push, Platform.FCM))["notification"] == {"title": "t"}
    assert kind.payload_limit(Platform.FCM) == 4096
