"""The OpenAPI description of the MobileFirst routes: their errors, bodies and security.

Bodies are read by the routes themselves (requests.py decides the order of the checks), so
each route documents its body here instead of declaring it as a parameter.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from pushgate.dialects.mobilefirst.errors import MobileFirstError

TAG = "MobileFirst Push Service (seed 003)"
_DESCRIPTIONS = {
    400: "Bad Request - The request was not understood by the push server (invalid JSON, "
    "a field of the wrong type, a malformed filter)",
    401: "Unauthorized - The caller is either not authenticated or not authorized to make "
    "this request (no token, or a token without the scopes)",
    404: "Not found",
    405: "Unsupported Content type - The Content-Type is not application/json",
    406: "Unsupported Accept type - The Accept header excludes application/json",
    409: "A resource with this name exists",
    413: "The body is too large",
    500: "An internal error occurred",
}


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """The schema with every local $ref replaced by its definition (OpenAPI has no $defs)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(item, defs) for item in schema]
    return schema


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    inlined: dict[str, Any] = _inline(schema, schema.get("$defs", {}))
    return inlined


def documented(
    summary: str,
    *,
    ok: int,
    answer: type[BaseModel] | None,
    errors: tuple[int, ...],
    body: type[BaseModel] | dict[str, Any] | None = None,
    example: Any = None,
) -> dict[str, Any]:
    """Keyword arguments of a route decorator: summary, statuses, body, security."""
    responses: dict[int | str, dict[str, Any]] = {
        status: {"model": MobileFirstError, "description": _DESCRIPTIONS[status]}
        for status in sorted({401, 406, 500, *errors})
    }
    if answer is None:
        responses[ok] = {"description": "Done; no content"}
    else:
        responses[ok] = {"model": answer, "description": "Done"}
    extra: dict[str, Any] = {"security": [{"Bearer": []}]}
    if body is not None:
        schema = body if isinstance(body, dict) else inline_schema(body)
        content: dict[str, Any] = {"schema": schema}
        if example is not None:
            content["example"] = example
        extra["requestBody"] = {"required": True, "content": {"application/json": content}}
    return {
        "summary": summary,
        "status_code": ok,
        "responses": responses,
        "openapi_extra": extra,
        "response_model": None,
    }
