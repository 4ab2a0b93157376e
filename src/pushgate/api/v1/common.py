"""Pieces every /v1 router shares: documented error responses and the strict base model."""

from __future__ import annotations

from typing import Any

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, field_validator

from pushgate.domain.text import UNSTORABLE_MESSAGE, find_unstorable, nesting_depth
from pushgate.http.deps import refuse_unstorable_parameters, require_json
from pushgate.http.errors import ErrorEnvelope

# Free-form JSON (payload overrides, a service account) nests a few levels; deeper is refused
# here (422) rather than stored for the adapters' recursive merges and serializers to meet
# (reliability.md B4: a body of ~900 levels passed the parser and was a 500).
MAX_JSON_DEPTH = 32


class StrictModel(BaseModel):
    """Request bodies: an unknown field is an error (400), never silently dropped; text that
    no database can store (NUL, lone surrogates) is an error naming its field (422); so is
    free-form JSON nested deeper than MAX_JSON_DEPTH."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        # Nested StrictModels check their own fields; free-form JSON (data, overrides) and
        # lists are walked here.
        if not isinstance(value, BaseModel) and find_unstorable(value):
            raise ValueError(UNSTORABLE_MESSAGE)
        if isinstance(value, dict | list) and nesting_depth(value) > MAX_JSON_DEPTH:
            raise ValueError(f"must not nest objects or arrays deeper than {MAX_JSON_DEPTH}")
        return value


_ERRORS = {
    400: "Malformed JSON or an unknown field",
    401: "Missing or wrong credentials",
    403: "The key lacks the role, or belongs to another app",
    404: "No such resource",
    409: "Conflicts with an existing resource",
    413: "Body too large",
    415: "Body is not JSON",
    422: "A field failed validation",
    429: "Over the key's request rate, or too many failed sign-ins from this address; "
    "retry after Retry-After seconds",
    503: "Storage unavailable; retry after Retry-After",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer."""
    wanted = statuses or tuple(_ERRORS)
    return {s: {"model": ErrorEnvelope, "description": _ERRORS[s]} for s in wanted}


ROUTER_DEFAULTS: dict[str, Any] = {
    "dependencies": [Depends(require_json), Depends(refuse_unstorable_parameters)],
    "responses": errors(400, 401, 403, 404, 413, 415, 422, 429, 503),
}
