"""Reading the request body: JSON or XML by Content-Type, XML when there is none (seed 001).

The body is bounded while it is read. XML goes through defusedxml with DTDs forbidden, so
entity expansion (billion laughs), external entities (XXE) and any DOCTYPE are refused
before anything is expanded or fetched. The root element's name is free, but it must
declare `xmlns:i="http://www.w3.org/2001/XMLSchema-instance"`, as the document requires;
field elements are matched by local name in any namespace, as the vendor's serializer does.
"""

from __future__ import annotations

import io
import json
import re
from enum import StrEnum
from typing import Any
from xml.etree.ElementTree import Element, ParseError  # types only; defusedxml parses  # nosec B405

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse
from fastapi import Request

from pushgate.dialects.pushapi.responses import XSI
from pushgate.dialects.pushapi.schemas import FIELD_KINDS
from pushgate.errors import BodyTooLarge, InvalidInput, UnsupportedMediaType

# A full request (texts of 2048 characters, every character escaped) stays well below this.
MAX_BODY_BYTES = 128 * 1024
_NAMES = {name.lower(): name for name in FIELD_KINDS}
_INTEGER = re.compile(r"[+-]?[0-9]{1,20}")  # xs:int's lexical form, bounded
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}  # xs:boolean


class BodyKind(StrEnum):
    JSON = "json"
    XML = "xml"


def body_kind(content_type: str | None) -> BodyKind:
    """JSON for application/json (and +json), XML for application/xml, text/xml (and +xml)
    or no Content-Type at all; anything else is 415."""
    media = (content_type or "").split(";")[0].strip().lower()
    if not media:
        return BodyKind.XML
    if media == "application/json" or media.endswith("+json"):
        return BodyKind.JSON
    if media in ("application/xml", "text/xml") or media.endswith("+xml"):
        return BodyKind.XML
    raise UnsupportedMediaType(
        "send application/json or application/xml (no Content-Type means XML)",
        field="content-type",
    )


async def read_body(request: Request) -> bytes:
    """The body, refused with 413 once it exceeds MAX_BODY_BYTES (declared or streamed)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BodyTooLarge(f"the request body exceeds {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BodyTooLarge(f"the request body exceeds {MAX_BODY_BYTES} bytes")
    return bytes(body)


def parse_body(raw: bytes, kind: BodyKind) -> dict[str, Any]:
    """The body's known fields by their vendor names, values as given (checked later)."""
    return parse_json(raw) if kind is BodyKind.JSON else parse_xml(raw)


def parse_json(raw: bytes) -> dict[str, Any]:
    """A JSON object's members; names match in any case (UserId, userId, userid)."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, deep nesting
        raise InvalidInput("the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidInput("the body must be a JSON object")
    fields: dict[str, Any] = {}
    for key, item in value.items():
        name = _NAMES.get(key.lower())
        if name is None:
            continue  # unknown members are ignored, as the vendor's serializer does
        if name in fields:
            raise InvalidInput("given twice (names match in any case)", field=name)
        fields[name] = item
    return fields


def parse_xml(raw: bytes) -> dict[str, Any]:
    """The root element's child elements, by local name; i:nil="true" is null."""
    root = _parse_root(raw)
    fields: dict[str, Any] = {}
    for child in root:
        name = child.tag.rpartition("}")[2]
        kind = FIELD_KINDS.get(name)
        if kind is None:
            continue  # unknown elements are ignored, as the vendor's serializer does
        if name in fields:
            raise InvalidInput("given twice", field=name)
        fields[name] = _value(child, kind)
    return fields


def _parse_root(raw: bytes) -> Element:
    declared: dict[str, str] = {}
    root: Element | None = None
    try:
        # forbid_dtd: a DOCTYPE is refused outright, which is what carries entity bombs and
        # external entities; forbid_entities / forbid_external stay on as a second wall.
        for event, item in iterparse(
            io.BytesIO(raw), events=("start-ns", "start"), forbid_dtd=True
        ):
            if root is not None:
                continue
            if event == "start-ns":
                prefix, uri = item
                declared[prefix] = uri
            else:
                root = item
    except DefusedXmlException:
        raise InvalidInput(
            "DTDs, entity declarations and external references are not accepted"
        ) from None
    except (ParseError, ValueError, LookupError):
        raise InvalidInput("the body is not well-formed XML") from None
    if root is None:
        raise InvalidInput("the body is not well-formed XML")
    if declared.get("i") != XSI:
        raise InvalidInput(f'the root element must declare xmlns:i="{XSI}"')
    return root


def _value(element: Element, kind: type) -> Any:
    """The element's value; text that is no boolean or integer is passed on as text, so
    that type errors are reported alike for XML and JSON."""
    if element.get(f"{{{XSI}}}nil", "").strip() in ("true", "1"):
        return None
    if len(element):
        return {}  # elements inside a field: no kind of value; refused by the type check
    text = element.text or ""
    if kind is bool:
        found = _BOOLEANS.get(text.strip())
        return text if found is None else found
    if kind is int:
        return int(text.strip()) if _INTEGER.fullmatch(text.strip()) else text
    return text
