"""WNS rendering: the type chosen by the content, XML built by etree, overrides checked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from defusedxml.ElementTree import fromstring

from pushgate.domain.payload import Content, DeliveryOptions
from pushgate.domain.platforms import Platform
from pushgate.providers.base import Push
from pushgate.providers.wns_payload import (
    BADGE,
    RAW,
    TILE,
    TOAST,
    UnsendableContent,
    render_bytes,
    render_notification,
    wns_tag,
    xml_text,
)

HOSTILE = "<script>alert('x')</script> & \" ' ]]> <!--"


def test_title_and_body_make_a_generic_toast() -> None:
    notification = render_notification(Content(title="Title", body="Body"))
    assert notification.type == TOAST
    root = fromstring(notification.body)
    assert root.tag == "toast"
    binding = root.find("visual/binding")
    assert binding is not None
    assert binding.get("template") == "ToastGeneric"
    assert [t.text for t in root.iter("text")] == ["Title", "Body"]


def test_alert_alone_is_the_toast_text() -> None:
    root = fromstring(render_notification(Content(alert="Just this")).body)
    assert [t.text for t in root.iter("text")] == ["Just this"]


def test_hostile_text_round_trips_through_the_xml() -> None:
    body = render_notification(Content(title=HOSTILE, body=HOSTILE, sound=HOSTILE)).body
    assert b"<script>" not in body
    root = fromstring(body)
    assert [t.text for t in root.iter("text")] == [HOSTILE, HOSTILE]
    audio = root.find("audio")
    assert audio is not None
    assert audio.get("src") == HOSTILE


def test_characters_xml_cannot_carry_are_replaced() -> None:
    assert xml_text("a\x00b\x1fc\ud800d\tok") == "a\ufffdb\ufffdc\ufffdd\tok"
    root = fromstring(render_notification(Content(title="bell\x07")).body)
    assert [t.text for t in root.iter("text")] == ["bell\ufffd"]


def test_data_goes_into_the_launch_argument() -> None:
    root = fromstring(render_notification(Content(body="b", data={"q": "a&b<c"})).body)
    assert root.get("launch") == '{"q":"a&b<c"}'


def test_default_sound_adds_no_audio_element() -> None:
    root = fromstring(render_notification(Content(body="b", sound="default")).body)
    assert root.find("audio") is None


def test_badge_without_text_is_a_badge() -> None:
    notification = render_notification(Content(badge=0, data={"a": "b"}))
    assert notification.type == BADGE
    assert fromstring(notification.body).attrib == {"value": "0"}


def test_data_alone_is_raw_json() -> None:
    notification = render_notification(Content(data={"k": "v", "é": "ü"}))
    assert (notification.type, notification.content_type) == (RAW, "application/octet-stream")
    assert notification.body == '{"k":"v","é":"ü"}'.encode()


def test_empty_content_is_unsendable() -> None:
    with pytest.raises(UnsendableContent, match="nothing to send"):
        render_notification(Content(sound="x"))


def test_override_type_is_taken_from_the_root_element() -> None:
    notification = render_notification(Content(wns={"xml": " <tile><visual/></tile>"}))
    assert notification.type == TILE


def test_raw_override_is_sent_verbatim() -> None:
    notification = render_notification(Content(title="x", wns={"raw": "<not xml & fine>"}))
    assert (notification.type, notification.body) == (RAW, b"<not xml & fine>")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"type": "wns/toast", "xml": "<toast>"}, "well-formed"),
        ({"type": "wns/badge", "xml": "<toast/>"}, "<badge>"),
        (
            {
                "xml": "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><toast>&e;</toast>"
            },
            "well-formed",
        ),
        ({"type": "wns/push", "xml": "<toast/>"}, "wns.type"),
        ({"xml": "no xml"}, "well-formed"),
        ({"xml": "<html/>"}, "wns.type"),
        ({"type": "wns/tile"}, "wns.xml"),
        ({"type": "wns/raw", "raw": 5}, "wns.raw"),
        ({"xml": "<toast/>", "headers": {}}, "no field headers"),
    ],
)
def test_bad_overrides_are_unsendable(override: dict[str, object], message: str) -> None:
    with pytest.raises(UnsendableContent, match=message):
        render_notification(Content(wns=override))


def test_render_bytes_never_raises() -> None:
    options = DeliveryOptions(expires_at=datetime(2030, 1, 1, tzinfo=UTC))
    assert render_bytes(Push(Content(), options), Platform.WNS) == b""
    assert render_bytes(Push(Content(data={"a": "1"}), options), Platform.WNS) == b'{"a":"1"}'


def test_short_alphanumeric_collapse_id_is_the_tag() -> None:
    assert wns_tag("Score7") == "Score7"


@pytest.mark.parametrize("collapse_id", ["seventeen-chars-x", "has space", "a" * 64, "é"])
def test_other_collapse_ids_become_a_stable_16_character_digest(collapse_id: str) -> None:
    tag = wns_tag(collapse_id)
    assert len(tag) == 16
    assert tag == wns_tag(collapse_id)
    assert tag.isalnum()
