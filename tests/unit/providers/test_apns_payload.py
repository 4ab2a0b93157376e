"""APNs payload rendering and request headers (pure)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from pushgate.domain.payload import Content, DeliveryOptions, Priority
from pushgate.domain.platforms import Platform
from pushgate.providers.apns import apns_kind, base_urls
from pushgate.providers.apns_payload import (
    _UUID5_NAMESPACE,
    apns_id,
    payload_limit,
    payload_of,
    render,
)
from pushgate.providers.base import ProviderCredential, ProviderOptions, Push

EXPIRES = datetime(2030, 1, 1, tzinfo=UTC)
TOPIC = "com.example.app"


def headers_of(
    content: Content, platform: Platform = Platform.APNS, **options: object
) -> dict[str, str]:
    rendering = render(content, DeliveryOptions(EXPIRES, **options), platform, TOPIC)  # type: ignore[arg-type]
    return dict(line.split(": ", 1) for line in rendering.headers if ": " in line)


def test_plain_alert_is_a_string() -> None:
    assert payload_of(Content(alert="hi")) == {"aps": {"alert": "hi"}}


def test_title_and_body_make_an_alert_dictionary() -> None:
    assert payload_of(Content(title="T", body="B")) == {
        "aps": {"alert": {"title": "T", "body": "B"}}
    }
    assert payload_of(Content(title="T", alert="A")) == {
        "aps": {"alert": {"title": "T", "body": "A"}}
    }


def test_every_common_field_lands_in_aps() -> None:
    content = Content(
        alert="a",
        badge=0,
        sound="ping.caf",
        category="INVITE",
        thread_id="chat-1",
        content_available=True,
        mutable_content=True,
    )
    assert payload_of(content)["aps"] == {
        "alert": "a",
        "badge": 0,
        "sound": "ping.caf",
        "category": "INVITE",
        "thread-id": "chat-1",
        "content-available": 1,
        "mutable-content": 1,
    }


def test_data_goes_to_the_top_level_but_never_replaces_aps() -> None:
    payload = payload_of(Content(alert="a", data={"order": "42", "aps": "no"}))
    assert payload == {"aps": {"alert": "a"}, "order": "42"}


def test_apns_override_is_deep_merged_and_wins() -> None:
    content = Content(
        alert="a",
        badge=1,
        data={"k": "v"},
        apns={"aps": {"badge": 5, "interruption-level": "time-sensitive"}, "k": {"x": 1}},
    )
    assert payload_of(content) == {
        "aps": {"alert": "a", "badge": 5, "interruption-level": "time-sensitive"},
        "k": {"x": 1},
    }


def test_body_is_compact_utf8_and_checked_in_bytes() -> None:
    rendering = render(Content(alert="é" * 2100), DeliveryOptions(EXPIRES), Platform.APNS, TOPIC)
    assert (
        rendering.body
        == json.dumps(
            {"aps": {"alert": "é" * 2100}}, separators=(",", ":"), ensure_ascii=False
        ).encode()
    )
    assert len(rendering.body) > 4096
    assert rendering.too_large


def test_limits_per_platform() -> None:
    assert payload_limit(Platform.APNS) == 4096
    assert payload_limit(Platform.APNS_VOIP) == 5120


@pytest.mark.parametrize(
    ("priority", "expected"), [(None, "10"), (Priority.HIGH, "10"), (Priority.NORMAL, "5")]
)
def test_alert_priority(priority: Priority | None, expected: str) -> None:
    assert headers_of(Content(alert="a"), priority=priority)["apns-priority"] == expected


def test_background_is_forced_to_priority_5() -> None:
    headers = headers_of(Content(content_available=True), priority=Priority.HIGH)
    assert (headers["apns-push-type"], headers["apns-priority"]) == ("background", "5")


def test_content_available_with_a_badge_is_still_an_alert() -> None:
    headers = headers_of(Content(content_available=True, badge=2))
    assert headers["apns-push-type"] == "alert"


def test_voip_topic_suffix_and_push_type() -> None:
    headers = headers_of(Content(alert="call"), Platform.APNS_VOIP)
    assert (headers["apns-topic"], headers["apns-push-type"]) == (TOPIC + ".voip", "voip")


def test_expiration_collapse_id_and_once() -> None:
    headers = headers_of(Content(alert="a"), collapse_id="c1")
    assert headers["apns-expiration"] == str(int(EXPIRES.timestamp()))
    assert headers["apns-collapse-id"] == "c1"
    assert headers_of(Content(alert="a"), once=True)["apns-expiration"] == "0"
    assert "apns-collapse-id" not in headers_of(Content(alert="a"))


def test_apns_id_is_uuid5_of_the_delivery_id() -> None:
    expected = uuid.uuid5(uuid.UUID(bytes=_UUID5_NAMESPACE), "delivery-7")
    assert apns_id("delivery-7") == str(expected)
    assert apns_id("delivery-7") == apns_id("delivery-7") != apns_id("delivery-8")


def test_apns_id_matches_uuid5_for_every_variant_digit() -> None:
    namespace = uuid.UUID(bytes=_UUID5_NAMESPACE)
    ids = [f"d-{n}-\u00e9" for n in range(400)]  # enough for all 16 values of the 17th digit
    assert {apns_id(i)[19] for i in ids} == set("89ab")
    assert [apns_id(i) for i in ids] == [str(uuid.uuid5(namespace, i)) for i in ids]


def test_kind_renders_the_body_and_knows_the_limits() -> None:
    kind = apns_kind()
    push = Push(Content(alert="a"), DeliveryOptions(EXPIRES))
    assert (kind.name, kind.needs_credential) == ("apns", True)
    assert kind.render(push, Platform.APNS) == b'{"aps":{"alert":"a"}}'
    assert kind.payload_limit(Platform.APNS_VOIP) == 5120


def credential(endpoint: str | None, **settings: str) -> ProviderCredential:
    return ProviderCredential(1, "apns", {"topic": TOPIC, **settings}, {}, endpoint, "v1")


def test_hosts_default_to_apple() -> None:
    assert base_urls(credential(None), ProviderOptions()) == (
        "https://api.push.apple.com",
        "https://api.sandbox.push.apple.com",
    )


def test_host_overrides_most_specific_first() -> None:
    everywhere = ProviderOptions(
        endpoints={"apns": "https://a.test", "apns_sandbox": "https://s.test"}
    )
    assert base_urls(credential(None), everywhere) == ("https://a.test", "https://s.test")
    assert base_urls(credential("https://c.test/"), ProviderOptions()) == (
        "https://c.test",
        "https://c.test",
    )
    assert base_urls(
        credential("https://c.test", sandbox_endpoint="https://cs.test"), everywhere
    ) == ("https://c.test", "https://cs.test")
