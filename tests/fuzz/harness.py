"""The fuzz targets' harness: running a route's body reader without a server, telling the
dialect's refusal from a crash, and the structured (JSON-aware) inputs of JSON targets.

A target accepts one outcome besides success: the dialect's own refusal, a PushgateError (for
Discord also the framework's RequestValidationError / HTTPException, which are its body
parser) that the dialect's renderer answers with a 4xx. Any other exception, or a refusal
rendered as 5xx, is a crash.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, get_args

from fastapi import Request, Response
from pydantic import BaseModel
from starlette.types import Message

from pushgate.dialects.pushapi.responses import XSI
from pushgate.errors import PushgateError
from pushgate.http.dialect import Refusal, refusal_of
from tests.fuzz.structured import mutated

T = TypeVar("T")
Render = Callable[[Request, Refusal], Response]
JSON = "application/json"


class Crash(AssertionError):
    """A refusal the dialect answers with a 5xx: a crash all the same."""


@dataclass(frozen=True, slots=True)
class FuzzTarget:
    name: str
    run: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]
    words: tuple[bytes, ...] = ()  # libFuzzer's dictionary: tokens worth inserting


JSON_WORDS = (b"{", b"}", b"[", b"]", b'"', b":", b",", b"null", b"true", b"false", b"-0",
              b"1e999", b"1.5", b"99999999999999999999", b"\\u0000", b"\\ud800", b'\\"',
              b"\xef\xbb\xbf", b"\xff")  # fmt: skip
XML_WORDS = (b"<", b">", b"</", b"/>", b"<!DOCTYPE r [", b'<!ENTITY e "x">', b"&e;", b"&lt;",
             b"&#0;", b"&#x10FFFF;", b"<![CDATA[", b"]]>", b"<!-- -->", b"<?pi x?>",
             b'<?xml version="1.0" encoding="utf-16"?>', b'xmlns:i="' + XSI.encode() + b'"',
             b'xmlns="urn:x"', b'i:nil="true"', b"true", b"1", b"-1")  # fmt: skip


def _names(*models: type[BaseModel]) -> tuple[str, ...]:
    """Every field name of the models and of the models they hold (as the body spells them)."""
    found: dict[str, None] = {}
    todo = list(models)
    while todo:
        model = todo.pop()
        for name, field in model.model_fields.items():
            found[field.alias or name] = None
            todo.extend(_models_in(field.annotation))
    return tuple(found)


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def run_now(coroutine: Coroutine[Any, Any, T]) -> T:
    """The coroutine's result; it must not wait on anything (the request body is in hand)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("the parser waited on something other than the request body")


def request_of(body: bytes, content_type: str | None) -> Request:
    """A POST request carrying `body` in one message, as the ASGI server hands it over."""
    headers = [(b"content-length", str(len(body)).encode())]
    if content_type is not None:
        headers.append((b"content-type", content_type.encode()))

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"", "headers": headers}
    return Request(scope, receive)


# Refusals already rendered: most repeat (fixed messages), and rendering (XML for the Push
# API) costs as much as parsing; each distinct one is still rendered once per process.
_RENDERED: set[tuple[object, ...]] = set()
_RENDERED_MAX = 50_000


def _refused(exc: Exception, request: Request, render: Render) -> None:
    """The refusal must render as a 4xx in the dialect's shape."""
    refusal = refusal_of(exc)
    seen = (render, type(exc), refusal.status, refusal.code, refusal.message, refusal.field)
    if seen in _RENDERED:
        return
    response = render(request, refusal)
    if not 400 <= response.status_code < 500:
        raise Crash(f"refused with {response.status_code}: {exc!r}") from exc
    if len(_RENDERED) >= _RENDERED_MAX:
        _RENDERED.clear()
    _RENDERED.add(seen)


def guard(
    request: Request,
    render: Render,
    action: Callable[[], object],
    accepted: tuple[type[Exception], ...] = (PushgateError,),
) -> None:
    try:
        action()
    except accepted as exc:
        _refused(exc, request, render)


def pick(data: bytes, count: int) -> tuple[int, bytes]:
    return (data[0] % count, data[1:]) if data else (0, b"")


def with_route(pairs: Sequence[tuple[int, bytes]]) -> list[bytes]:
    return [bytes([route]) + body for route, body in pairs]


def text_of(data: bytes) -> str:
    # A JSON string carries any character but NUL and lone surrogates (refused on reading).
    return data.decode("utf-8", "replace").replace("\x00", "")


def _structured(
    run: Callable[[bytes], None],
    pairs: Callable[[], list[tuple[int, bytes]]],
    names: tuple[str, ...],
    *,
    routed: bool,
) -> Callable[[bytes], None]:
    """A first byte of 128 or more: the body is structured.mutated from a seed of the route
    (first byte % routes); below 128 the input is as the target takes it (route byte and
    body, or for a target without routes, the body after that byte)."""
    documents: dict[int, list[Any]] = {}

    def wrapped(data: bytes) -> None:
        if not documents:
            for route, body in pairs():
                documents.setdefault(route, []).append(json.loads(body) if body else None)
        if not data or data[0] < 128:
            run(data if routed else data[1:])
            return
        route = data[0] % len(documents)
        body = mutated(data[1:], documents.get(route) or documents[0], names)
        run(bytes([route]) + body if routed else body)

    return wrapped


def json_target(
    name: str,
    run: Callable[[bytes], None],
    pairs: Callable[[], list[tuple[int, bytes]]],
    *models: type[BaseModel],
    routed: bool = True,
    extra: tuple[str, ...] = (),
) -> FuzzTarget:
    names = (*_names(*models), *extra)
    words = (*JSON_WORDS, *(b'"' + n.encode() + b'"' for n in names))
    return FuzzTarget(
        name,
        _structured(run, pairs, names, routed=routed),
        lambda: with_route(pairs()),
        words,
    )


def unrouted(bodies: list[bytes]) -> Callable[[], list[tuple[int, bytes]]]:
    return lambda: [(0, body) for body in bodies]
