"""Every error of this dialect in Discord's shape: `{"code", "message"[, "errors"]}`.

Discord's JSON error codes: 0 with "<status>: <reason>" for plain HTTP errors (401, 404,
5xx), 50035 "Invalid Form Body" with a per-field `errors` tree for bad input, 50109 for a
body that is not JSON, 50041 for an unknown API version, 40005 for an oversize body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from pushgate.errors import InvalidInput, MissingField, RateLimited, StorageFull
from pushgate.http.dialect import Refusal

INVALID_FORM_BODY = 50035
INVALID_JSON = 50109
INVALID_API_VERSION = 50041
TOO_LARGE = 40005
MISSING_ACCESS = 50001

# pydantic's error type -> Discord's form error code and message (never the rejected value).
_FORM_ERRORS: dict[str, tuple[str, str]] = {
    "missing": ("BASE_TYPE_REQUIRED", "This field is required"),
    "string_type": ("BASE_TYPE_STRING", "Must be a string."),
    "literal_error": ("BASE_TYPE_CHOICES", "Value must be one of ({expected})."),
    "string_too_short": ("BASE_TYPE_MIN_LENGTH", "Must be {min_length} or more in length."),
    "string_too_long": ("BASE_TYPE_MAX_LENGTH", "Must be {max_length} or fewer in length."),
    "too_short": ("BASE_TYPE_MIN_LENGTH", "Must be {min_length} or more in length."),
    "too_long": ("BASE_TYPE_MAX_LENGTH", "Must be {max_length} or fewer in length."),
    "string_pattern_mismatch": (
        "STRING_TYPE_REGEX",
        "String value did not match validation regex.",
    ),
    "list_type": ("LIST_TYPE_CONVERT", "Only iterables may be used in a ListType"),
    "model_attributes_type": ("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"),
    "model_type": ("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"),
    "dict_type": ("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"),
}
_INVALID = "BASE_TYPE_INVALID"  # a rule no type states (services' checks)


class InvalidApiVersion(InvalidInput):
    """A versioned path (`/api/v{n}/...`) naming a version Discord never had."""


def render_error(_request: Request, refusal: Refusal) -> Response:
    """The Refusal as Discord would answer it."""
    status, body = _body(refusal)
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(body, status_code=status, headers=headers)


def _body(refusal: Refusal) -> tuple[int, dict[str, Any]]:
    error = refusal.error
    if isinstance(error, InvalidApiVersion):
        return 400, {"code": INVALID_API_VERSION, "message": "Invalid API version"}
    if isinstance(error, RequestValidationError):
        found = list(error.errors())
        if any(e.get("type") == "json_invalid" for e in found):
            return 400, {"code": INVALID_JSON, "message": "The request body contains invalid JSON."}
        return 400, _form_body(found)
    status = refusal.status
    if status == 400:
        code = "BASE_TYPE_REQUIRED" if isinstance(error, MissingField) else _INVALID
        path: tuple[str, ...] = (refusal.field,) if refusal.field else ()
        return 400, _form_body([{"loc": path, "type": code, "msg": refusal.message}])
    if status == 403:
        return 403, {"code": MISSING_ACCESS, "message": "Missing Access"}
    if status == 413:
        return 413, {"code": TOO_LARGE, "message": "Request entity too large"}
    if isinstance(error, RateLimited):
        # Discord's rate-limit answer: retry_after in seconds, global false (this caller's).
        body = {"message": "You are being rate limited.", "retry_after": error.retry_after_s}
        return 429, {**body, "global": False, "code": 0}
    if isinstance(error, StorageFull):  # Discord's "<status>: <reason>", with why
        return status, {"code": 0, "message": f"{status}: {_phrase(status)} (storage full)"}
    return status, {"code": 0, "message": f"{status}: {_phrase(status)}"}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _form_body(found: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for entry in found:
        node = tree
        for part in _path(entry.get("loc", ())):
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append(_form_error(entry))
    return {"code": INVALID_FORM_BODY, "message": "Invalid Form Body", "errors": tree}


def _path(loc: Sequence[Any]) -> list[str]:
    # FastAPI prefixes "body"; Discord's tree starts at the body's fields.
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    return [str(part) for part in parts]


def _form_error(entry: Mapping[str, Any]) -> dict[str, str]:
    kind = str(entry.get("type", ""))
    if kind in (_INVALID, "BASE_TYPE_REQUIRED"):  # a service's own error: its message
        return {"code": kind, "message": str(entry.get("msg", ""))}
    code, template = _FORM_ERRORS.get(kind, (_INVALID, "Invalid value."))
    context = entry.get("ctx") or {}
    try:
        message = template.format(**context)
    except (KeyError, IndexError):
        message = template
    return {"code": code, "message": message}
