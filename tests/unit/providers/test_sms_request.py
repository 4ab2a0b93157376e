"""SMS request building: E.164, the text, the templates and the auth header."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from pushgate.domain.payload import Content
from pushgate.providers.sms_request import (
    InvalidGatewaySettings,
    auth_header,
    build_request,
    sms_text,
    template_from_settings,
    valid_e164,
)


@pytest.mark.parametrize("number", ["+15550001234", "+442071838750", "+12", "+123456789012345"])
def test_valid_e164(number: str) -> None:
    assert valid_e164(number)


@pytest.mark.parametrize(
    "number",
    ["15550001234", "+0123", "+1", "+1234567890123456", "+1 555 0001", "+1-555", "+١٢٣٤", "", "+"],
)
def test_invalid_e164(number: str) -> None:
    assert not valid_e164(number)


def test_text_is_title_then_body() -> None:
    assert sms_text(Content(title="Alert", body="Disk full")) == "Alert\nDisk full"
    assert sms_text(Content(alert="Only alert")) == "Only alert"
    assert sms_text(Content(title="Only title")) == "Only title"
    assert sms_text(Content(data={"a": "b"})) is None


def test_builtin_template_is_twilio_form_post() -> None:
    template = template_from_settings({"gateway_url": "https://x"})
    request = build_request(template, "https://x/M.json", to="+1555", sender="+1500", text="a&b=c")
    assert (request.method, request.url) == ("POST", "https://x/M.json")
    assert request.headers == [("content-type", "application/x-www-form-urlencoded")]
    assert parse_qs(request.body.decode()) == {
        "To": ["+1555"],
        "From": ["+1500"],
        "Body": ["a&b=c"],
    }


def test_json_template_substitutes_values_without_interpreting_them() -> None:
    settings = {"body_format": "json", "body_template": {"msisdn": "$to", "msg": "$text ($$1)"}}
    request = build_request(
        template_from_settings(settings), "https://g", to="+1", sender=None, text="${to} $sender"
    )
    assert json.loads(request.body) == {"msisdn": "+1", "msg": "${to} $sender ($1)"}


def test_get_template_appends_to_an_existing_query() -> None:
    settings = {"method": "get", "body_template": {"to": "$to", "t": "$text"}}
    request = build_request(
        template_from_settings(settings), "https://g/send?key=k", to="+1", sender="s", text="a b"
    )
    assert (request.method, request.body) == ("GET", b"")
    assert parse_qs(urlsplit(request.url).query) == {"key": ["k"], "to": ["+1"], "t": ["a b"]}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"method": "PUT"}, "method"),
        ({"body_format": "xml"}, "body_format"),
        ({"body_template": []}, "body_template"),
        ({"body_template": {}}, "body_template"),
        ({"body_template": {"to": 5}}, "body_template"),
        ({"body_template": {"to": "${to.__class__}"}}, "stray"),
        ({"body_template": {"to": "$password"}}, "only"),
        ({"body_template": {"to": "5$"}}, "stray"),
    ],
)
def test_bad_templates_are_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidGatewaySettings, match=message):
        template_from_settings(settings)


def test_basic_and_bearer_headers() -> None:
    name, value = auth_header({"auth_type": "basic", "username": "AC1"}, {"password": "p:w"}) or (
        "",
        "",
    )
    assert name == "authorization"
    assert base64.b64decode(value.removeprefix("Basic ")) == b"AC1:p:w"
    assert auth_header({"auth_type": "bearer"}, {"token": "t0k"}) == ("authorization", "Bearer t0k")
    assert auth_header({"auth_type": "none"}, {}) is None
    assert auth_header({}, {}) is None


def test_unknown_auth_type_is_refused_without_the_secret() -> None:
    with pytest.raises(InvalidGatewaySettings) as caught:
        auth_header({"auth_type": "digest"}, {"password": "hunter2"})
    assert "hunter2" not in str(caught.value)
