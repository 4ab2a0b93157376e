"""What an SMS becomes on the gateway's wire: the number check, the text, the request template.

A credential's settings (services/credential_checks.py) name the gateway: `gateway_url`,
`auth_type` none/basic/bearer (`username` + secret `password`, or secret `token`), `sender`.
Three optional settings shape the request (not yet accepted by credential_checks.py: the lead
adds them there):

| setting | values | default |
|---|---|---|
| `method` | `POST` or `GET` (GET puts the fields in the query string) | `POST` |
| `body_format` | `form` (x-www-form-urlencoded) or `json` | `form` |
| `body_template` | `{field: template}`; templates use `$to`, `$sender`, `$text` | Twilio's |

The built-in template is Twilio's Messages resource: form fields `To`, `From`, `Body`, HTTP
Basic with the account SID and auth token. Templates are string.Template, not str.format, so a
stored template cannot reach attributes of the values (`{to.__class__}`).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from string import Template
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from pushgate.domain.payload import Content

# E.164: "+", a country code that does not start with 0, at most 15 digits in all (ITU-T E.164
# section 6). Spaces, dashes and brackets are not stripped: registrations store the canonical form.
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
TEXT_LIMIT = 1600  # Twilio refuses longer bodies (error 21617); longer texts are refused, not cut
TWILIO_FIELDS = {"To": "$to", "From": "$sender", "Body": "$text"}
_PLACEHOLDERS = frozenset({"to", "sender", "text"})


class InvalidGatewaySettings(ValueError):
    """The credential's gateway settings cannot build a request; the message names the field."""


def valid_e164(number: str) -> bool:
    return E164.fullmatch(number) is not None


def sms_text(content: Content) -> str | None:
    """The title and the text on separate lines; None when there is neither."""
    lines = [line for line in (content.title, content.text) if line]
    return "\n".join(lines) if lines else None


@dataclass(frozen=True, slots=True)
class GatewayTemplate:
    method: str = "POST"
    body_format: str = "form"
    fields: Mapping[str, Template] = field(
        default_factory=lambda: {k: Template(v) for k, v in TWILIO_FIELDS.items()}
    )


def _check_template(name: str, text: Any) -> Template:
    if not isinstance(name, str) or not name or not isinstance(text, str):
        raise InvalidGatewaySettings("body_template must map field names to template strings")
    template = Template(text)
    if not template.is_valid():
        raise InvalidGatewaySettings(f"body_template.{name} has a stray $ (write $$ for one)")
    unknown = set(template.get_identifiers()) - _PLACEHOLDERS
    if unknown:
        raise InvalidGatewaySettings(f"body_template.{name} may use only $to, $sender and $text")
    return template


def template_from_settings(settings: Mapping[str, Any]) -> GatewayTemplate:
    """The request template the settings describe (module docstring's table)."""
    method = str(settings.get("method") or "POST").upper()
    if method not in ("POST", "GET"):
        raise InvalidGatewaySettings("method must be POST or GET")
    body_format = str(settings.get("body_format") or "form").lower()
    if body_format not in ("form", "json"):
        raise InvalidGatewaySettings("body_format must be form or json")
    raw = settings.get("body_template")
    if raw is None:
        return GatewayTemplate(method, body_format)
    if not isinstance(raw, dict) or not raw:
        raise InvalidGatewaySettings("body_template must be a non-empty object")
    fields = {name: _check_template(name, text) for name, text in raw.items()}
    return GatewayTemplate(method, body_format, fields)


def auth_header(settings: Mapping[str, Any], secret: Mapping[str, Any]) -> tuple[str, str] | None:
    """The Authorization header of the credential's auth_type, or None for `none`."""
    auth_type = settings.get("auth_type") or "none"
    if auth_type == "basic":
        pair = f"{settings.get('username', '')}:{secret.get('password', '')}".encode()
        return ("authorization", "Basic " + base64.b64encode(pair).decode())
    if auth_type == "bearer":
        return ("authorization", f"Bearer {secret.get('token', '')}")
    if auth_type != "none":
        raise InvalidGatewaySettings("auth_type must be none, basic or bearer")
    return None


@dataclass(frozen=True, slots=True)
class GatewayRequest:
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes


def build_request(
    template: GatewayTemplate, url: str, *, to: str, sender: str | None, text: str
) -> GatewayRequest:
    """The request for one message; values are substituted, never interpreted."""
    values = {"to": to, "sender": sender or "", "text": text}
    fields = {name: tpl.substitute(values) for name, tpl in template.fields.items()}
    if template.method == "GET":
        parts = urlsplit(url)
        query = "&".join(q for q in (parts.query, urlencode(fields)) if q)
        return GatewayRequest("GET", urlunsplit(parts._replace(query=query)), [], b"")
    if template.body_format == "json":
        body = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()
        return GatewayRequest("POST", url, [("content-type", "application/json")], body)
    headers = [("content-type", "application/x-www-form-urlencoded")]
    return GatewayRequest("POST", url, headers, urlencode(fields).encode())
