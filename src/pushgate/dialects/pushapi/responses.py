"""Answers in XML or JSON, as the `format` query parameter says (XML when it is absent).

The XML is what the vendor's serializer writes: the root element declares the XML Schema
instance namespace (`xmlns:i`, as the document asks of requests), a null value is an empty
element with `i:nil="true"`, booleans are `true`/`false`, and a list holds one element per
item named for the item (`<Devices><Device>...</Device></Devices>`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from xml.etree import ElementTree as ET  # writes XML; never parses any  # nosec B405

from fastapi import Request, Response
from pydantic import BaseModel

from pushgate.errors import InvalidInput

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_MEDIA_TYPE = "application/xml"
JSON_MEDIA_TYPE = "application/json"
# Characters XML 1.0 cannot carry even escaped (its Char production); a provider's reason
# text is the only outside text an answer holds, but no answer may be unparseable.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class Format(StrEnum):
    XML = "xml"
    JSON = "json"


def requested_format(request: Request) -> Format:
    """The answer's format: `format=xml|json` in any case; absent means XML."""
    value = request.query_params.get("format")
    if value is None or value == "":
        return Format.XML
    try:
        return Format(value.strip().lower())
    except ValueError:
        raise InvalidInput("must be xml or json", field="format") from None


def answer_format(request: Request) -> Format:
    """The format an error is written in: as requested, XML when the request says nothing
    usable (so the refusal of a bad `format` is readable too)."""
    try:
        return requested_format(request)
    except InvalidInput:
        return Format.XML


def respond(
    model: BaseModel,
    *,
    root: str,
    status: int,
    answer: Format,
    items: Mapping[str, str],
    headers: Mapping[str, str] | None = None,
) -> Response:
    """`model` (by its vendor names) as XML with root element `root`, or as JSON.

    `items` names the element of each item of a list: {"Devices": "Device"}.
    """
    if answer is Format.JSON:
        return Response(
            model.model_dump_json(by_alias=True),
            status_code=status,
            media_type=JSON_MEDIA_TYPE,
            headers=dict(headers or {}),
        )
    element = ET.Element(root, {"xmlns:i": XSI})
    _fill(element, model.model_dump(mode="json", by_alias=True), items)
    text = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return Response(
        text,
        status_code=status,
        media_type=f"{XML_MEDIA_TYPE}; charset=utf-8",
        headers=dict(headers or {}),
    )


def _fill(element: ET.Element, value: Any, items: Mapping[str, str]) -> None:
    if value is None:
        element.set("i:nil", "true")
    elif isinstance(value, dict):
        for name, child in value.items():
            _fill(ET.SubElement(element, name), child, items)
    elif isinstance(value, list):
        for child in value:
            _fill(ET.SubElement(element, items[element.tag]), child, items)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = _NOT_XML.sub("\ufffd", str(value))
