"""The route's OpenAPI description: JSON and XML bodies and answers, with examples.

The route reads its body itself (JSON or XML), so the request body is described here; the
XML examples are written by the code that writes the real answers.
"""

from __future__ import annotations

from typing import Any

from pushgate.dialects.pushapi.bodies import MAX_BODY_BYTES
from pushgate.dialects.pushapi.errors import ERROR_ROOT, error_body, vendor_code
from pushgate.dialects.pushapi.responses import (
    JSON_MEDIA_TYPE,
    XML_MEDIA_TYPE,
    XSI,
    Format,
    respond,
)
from pushgate.dialects.pushapi.schemas import (
    XML_ITEMS,
    PushApiDevice,
    PushApiError,
    PushApiRequest,
    PushApiResponse,
)
from pushgate.errors import ErrorCode

SUCCESS_ROOT = "PushResponse"

_XML_REQUEST = f"""<?xml version="1.0" encoding="utf-8"?>
<PushRequest xmlns:i="{XSI}">
  <UserId>alice</UserId>
  <UserEmail i:nil="true"/>
  <Title>Goal!</Title>
  <Body>2:1 in the 89th minute</Body>
  <Sound>true</Sound>
  <ExpirySecs>3600</ExpirySecs>
  <CompanyId>1</CompanyId>
  <IntegrationKey>pgk_...</IntegrationKey>
</PushRequest>"""
_SEED_SAMPLE = {
    "UserId": "",
    "UserEmail": "",
    "UserExternalId": "",
    "Title": "",
    "Body": "",
    "Sound": False,
    "ExpirySecs": 0,
    "CompanyId": 0,
    "IntegrationKey": "",
}


def _xml(model: PushApiResponse | PushApiError, root: str) -> str:
    """An example answer, written by the very code that writes the real ones."""
    written = respond(model, root=root, status=200, answer=Format.XML, items=XML_ITEMS)
    return bytes(written.body).decode()


def _error_example(code: ErrorCode, message: str, field: str | None) -> str:
    return _xml(error_body(vendor_code(code), message, field), ERROR_ROOT)


_ANSWER_EXAMPLE = PushApiResponse(
    notification_id="0c5e7b2d9a8f4c1e8b3a6d5f4e3c2b1a",
    user_id="alice",
    devices=[
        PushApiDevice(
            registration_id="4f1a9c8e7d6b5a4f3e2d1c0b9a8f7e6d",
            delivery_id="0c5e7b2d9a8f4c1e8b3a6d5f4e3c2b1a4f1a9c8e7d6b5a4f3e2d1c0b9a8f7e6d",
            platform="apns",
            status="SENT",
            code=0,
            message="success",
        )
    ],
)
_ERRORS = {
    400: (
        "A malformed body, a field of the wrong type, no user identifier, a bad format",
        _error_example(
            ErrorCode.MISSING_FIELD,
            "name the user: UserId, UserEmail or UserExternalId (empty counts as absent)",
            "UserId",
        ),
    ),
    401: (
        "CompanyId and IntegrationKey do not name an API key of that app with a push role",
        _error_example(
            ErrorCode.UNAUTHENTICATED,
            "the company id and key do not match an API key of that app",
            "IntegrationKey",
        ),
    ),
    404: (
        "No user with the given UserId, UserEmail or UserExternalId",
        _error_example(ErrorCode.NOT_FOUND, "no user with this name", "UserId"),
    ),
    413: (
        "The body is too large",
        _error_example(
            ErrorCode.BODY_TOO_LARGE, f"the request body exceeds {MAX_BODY_BYTES} bytes", None
        ),
    ),
    415: (
        "The Content-Type is neither JSON nor XML",
        _error_example(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE, "send application/json or application/xml", None
        ),
    ),
    503: (
        "Storage unavailable; retry after Retry-After",
        _error_example(ErrorCode.STORAGE_UNAVAILABLE, "storage unavailable", None),
    ),
}


def _answer(model: type[Any], description: str, xml_example: str) -> dict[str, Any]:
    return {
        "model": model,
        "description": description,
        "content": {XML_MEDIA_TYPE: {"schema": {"type": "string"}, "example": xml_example}},
    }


RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _answer(
        PushApiResponse,
        "Sent: the notification id and a result per registration of the user",
        _xml(_ANSWER_EXAMPLE, SUCCESS_ROOT),
    ),
    **{status: _answer(PushApiError, *texts) for status, texts in _ERRORS.items()},
}
_REQUEST_SCHEMA = PushApiRequest.model_json_schema(by_alias=True)
OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": "format",
            "in": "query",
            "required": False,
            "description": "The answer's format (and every error's); XML when absent",
            "schema": {"type": "string", "enum": ["xml", "json"], "default": "xml"},
        }
    ],
    "requestBody": {
        "required": True,
        "description": "JSON or XML by Content-Type; without a Content-Type, XML. An XML "
        f'root element (any name) must declare xmlns:i="{XSI}"',
        "content": {
            JSON_MEDIA_TYPE: {"schema": _REQUEST_SCHEMA, "example": _SEED_SAMPLE},
            XML_MEDIA_TYPE: {
                "schema": {**_REQUEST_SCHEMA, "xml": {"name": "PushRequest"}},
                "example": _XML_REQUEST,
            },
            "text/xml": {
                "schema": {**_REQUEST_SCHEMA, "xml": {"name": "PushRequest"}},
                "example": _XML_REQUEST,
            },
        },
    },
}
