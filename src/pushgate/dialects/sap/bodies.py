"""Reading a request body: JSON only, a JSON error named by its position, SAP field names."""

from __future__ import annotations

import json
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from pushgate.domain.text import UNSTORABLE_MESSAGE, find_unstorable, shown_name
from pushgate.errors import InvalidInput, MissingField, UnsupportedMediaType

_Model = TypeVar("_Model", bound=BaseModel)


async def read_json(request: Request) -> object:
    """The body as JSON. A body that is not JSON is refused with the parser's own words
    (the document's curl.exe sample with `,,` gets "Expecting property name ...")."""
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType("send the body as application/json", field="content-type")
    raw = await request.body()
    if not raw.strip():
        raise MissingField("the body is empty; send a JSON object", field="body")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} "
            f"(char {exc.pos})",
            field="body",
        ) from None
    except (ValueError, RecursionError):  # not UTF-8; nested deeper than the parser goes
        raise InvalidInput(
            "the body is not valid JSON (UTF-8, not nested too deep)", field="body"
        ) from None
    try:
        unstorable = find_unstorable(data)
    except RecursionError:
        # find_unstorable takes two frames a level: a body the parser took (up to ~990 deep)
        # can still be too deep for it; it was a 500 (fuzzing, reliability.md B3/B4).
        raise InvalidInput("the body is nested too deep", field="body") from None
    if unstorable:
        raise InvalidInput(f"text in the body {UNSTORABLE_MESSAGE}", field="body")
    return data


def field_name(location: tuple[int | str, ...]) -> str:
    """users[0].formFactor: the body's own names, as the client wrote them (a key longer than
    any field's is described, not echoed: reliability.md B6)."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{shown_name(part)}" if text else shown_name(part)
    return text or "body"


def parse(model: type[_Model], data: object) -> _Model:
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        field = field_name(first["loc"])
        if first["type"] == "missing":
            raise MissingField(f"{field}: is required", field=field) from None
        raise InvalidInput(f"{field}: {first['msg']}", field=field) from None


async def read(request: Request, model: type[_Model]) -> _Model:
    return parse(model, await read_json(request))
