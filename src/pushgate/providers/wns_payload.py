"""What a push becomes on the WNS wire: the X-WNS-Type, the Content-Type and the body.

Without an override the common fields choose the type (providers.md section 4):

| content | X-WNS-Type | body |
|---|---|---|
| title or text | wns/toast | `<toast launch=data as JSON>` with a ToastGeneric binding |
| badge only | wns/badge | `<badge value="N"/>` |
| data only | wns/raw | the data as compact JSON, Content-Type application/octet-stream |

A toast ignores `badge` (WNS takes one type per request). Tiles need an app's own template, so
wns/tile is reached only through the override `Content.wns`:
`{"type": "wns/toast"|"wns/tile"|"wns/badge", "xml": "<toast>...</toast>"}` or
`{"type": "wns/raw", "raw": "<text>"}`; `type` may be left out (taken from the XML's root
element, or raw when `raw` is given). Override XML must be well-formed (checked with
defusedxml: no DTD, no entities) and its root must match the type. User text only ever enters
XML through xml.etree, never by string concatenation.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring  # builds XML only; never parses  # nosec B405

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from pushgate.domain.payload import Content
from pushgate.domain.platforms import Platform
from pushgate.providers.base import Push

PAYLOAD_LIMIT = 5000  # bytes; WNS answers 413 above it (push request/response headers page)
TAG_LIMIT = 16  # X-WNS-Tag: "optional strings of up to 16 characters" (notification queue doc)
TOAST, TILE, BADGE, RAW = "wns/toast", "wns/tile", "wns/badge", "wns/raw"
XML_ROOTS = {TOAST: "toast", TILE: "tile", BADGE: "badge"}
_OVERRIDE_KEYS = frozenset({"type", "xml", "raw"})
# Characters XML 1.0 cannot carry at all (section 2.2): etree would write them and make the
# document ill-formed, so hostile text with a NUL would turn into a 400 from WNS.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TAG_SAFE = re.compile(r"^[A-Za-z0-9]{1,16}$")


class UnsendableContent(ValueError):
    """This content can never become a WNS notification; the message names the rule only."""


@dataclass(frozen=True, slots=True)
class WnsNotification:
    type: str  # X-WNS-Type
    body: bytes

    @property
    def content_type(self) -> str:
        return "application/octet-stream" if self.type == RAW else "text/xml"


def xml_text(value: str) -> str:
    """`value` with the characters XML 1.0 forbids replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", value)


def _serialize(root: Element) -> bytes:
    return tostring(root, encoding="unicode", short_empty_elements=True).encode()


def toast_xml(content: Content) -> bytes:
    """A ToastGeneric toast: the title and text as <text> lines, data as the launch argument."""
    root = Element("toast")
    if content.data:
        # The launch string is what the app receives when the toast is tapped.
        launch = json.dumps(dict(content.data), separators=(",", ":"), ensure_ascii=False)
        root.set("launch", xml_text(launch))
    binding = SubElement(SubElement(root, "visual"), "binding", template="ToastGeneric")
    for line in (content.title, content.text):
        if line:
            SubElement(binding, "text").text = xml_text(line)
    if content.sound and content.sound != "default":
        SubElement(root, "audio", src=xml_text(content.sound))
    return _serialize(root)


def badge_xml(value: int) -> bytes:
    """0 clears the badge; WNS shows values above 99 as 99+."""
    return _serialize(Element("badge", value=str(value)))


def raw_body(data: Mapping[str, str]) -> bytes:
    return json.dumps(dict(data), separators=(",", ":"), ensure_ascii=False).encode()


def _root_name(body: bytes) -> str:
    """The root element's name of well-formed XML, or UnsendableContent."""
    try:
        root = fromstring(body)
    except (ParseError, DefusedXmlException):
        raise UnsendableContent(
            "wns.xml is not well-formed XML (DTDs and entities refused)"
        ) from None
    return str(root.tag)


def check_xml(body: bytes, root_name: str) -> None:
    """Raise UnsendableContent unless `body` is well-formed XML whose root is `root_name`."""
    if _root_name(body) != root_name:
        raise UnsendableContent(f"wns.xml must have the root element <{root_name}>")


def _override_type(override: Mapping[str, Any]) -> str:
    kind = override.get("type")
    if kind is None:
        if "raw" in override:
            return RAW
        xml = override.get("xml")
        kind = f"wns/{_root_name(xml.encode())}" if isinstance(xml, str) and xml else None
    if kind not in XML_ROOTS and kind != RAW:
        raise UnsendableContent("wns.type must be wns/toast, wns/tile, wns/badge or wns/raw")
    return str(kind)


def from_override(override: Mapping[str, Any]) -> WnsNotification:
    unknown = sorted(set(override) - _OVERRIDE_KEYS)
    if unknown:
        raise UnsendableContent(f"wns takes no field {unknown[0]} (use type, xml or raw)")
    kind = _override_type(override)
    field = "raw" if kind == RAW else "xml"
    value = override.get(field)
    if not isinstance(value, str) or not value:
        raise UnsendableContent(f"wns.{field} is required for {kind} and must be a string")
    body = value.encode()
    if kind != RAW:
        check_xml(body, XML_ROOTS[kind])
    return WnsNotification(kind, body)


def render_notification(content: Content) -> WnsNotification:
    """The notification for `content`, or UnsendableContent (module docstring's table)."""
    if content.wns is not None:
        return from_override(content.wns)
    if content.title or content.text:
        return WnsNotification(TOAST, toast_xml(content))
    if content.badge is not None:
        return WnsNotification(BADGE, badge_xml(content.badge))
    if content.data:
        return WnsNotification(RAW, raw_body(content.data))
    raise UnsendableContent("nothing to send: no title, text, badge or data")


def render_bytes(push: Push, _platform: Platform) -> bytes:
    """The wire body for the registry's size check; b"" when the content is unsendable."""
    try:
        return render_notification(push.content).body
    except UnsendableContent:
        return b""


def wns_tag(collapse_id: str) -> str:
    """X-WNS-Tag for a collapse id: itself when it is 1-16 letters and digits, else a 16-hex
    digest, so the same collapse id always replaces the same earlier notification."""
    if _TAG_SAFE.fullmatch(collapse_id):
        return collapse_id
    return hashlib.sha256(collapse_id.encode()).hexdigest()[:TAG_LIMIT]
