"""The seed's sample body, verbatim, and builders for POST Push API tests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from defusedxml.ElementTree import fromstring

PATH = "/api/v2/push"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

# Seed 001, "Request Body", "Sample JSON body", verbatim.
SEED_SAMPLE_BODY = b"""{
"UserId": "",
"UserEmail": "",
"UserExternalId": "",
"Title": "",
"Body": "",
"Sound": false,
"ExpirySecs": 0,
"CompanyId": 0,
"IntegrationKey": ""
}"""


def filled(**fields: object) -> dict[str, Any]:
    """The seed's sample body with some fields filled in."""
    body: dict[str, Any] = json.loads(SEED_SAMPLE_BODY)
    body.update(fields)
    return body


def xml_body(
    fields: Mapping[str, object],
    *,
    root: str = "PushRequest",
    declarations: str = f'xmlns:i="{XSI}"',
) -> bytes:
    """An XML request as the vendor's clients write it: one element per field."""
    parts = [f'<?xml version="1.0" encoding="utf-8"?>\n<{root} {declarations}>']
    for name, value in fields.items():
        if value is None:
            parts.append(f'<{name} i:nil="true"/>')
        elif isinstance(value, bool):
            parts.append(f"<{name}>{'true' if value else 'false'}</{name}>")
        else:
            parts.append(f"<{name}>{escape(str(value))}</{name}>")
    parts.append(f"</{root}>")
    return "\n".join(parts).encode()


def read_xml(text: bytes) -> tuple[str, dict[str, Any]]:
    """An XML answer: its root's name, and its content as nested dicts and lists."""
    root = fromstring(text)
    value = _value(root)
    assert isinstance(value, dict)
    return root.tag, value


def _value(element: Any) -> Any:
    if element.get(f"{{{XSI}}}nil") == "true":
        return None
    children = list(element)
    if element.tag in ("Devices", "Errors"):
        return [_value(child) for child in children]
    if children:
        return {child.tag: _value(child) for child in children}
    return element.text or ""
