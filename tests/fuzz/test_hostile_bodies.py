"""reliability.md B4 (deeply nested JSON -> 400) and B5 (billion laughs, XXE, external DTD ->
400 fast, memory bounded), on each dialect's body parser called directly.

The existing tests covered B5 through the Push API's routes (tests/integration/dialects/
pushapi/test_xml.py: a 400, the secret not echoed) and B4 for the Push API only (50000 `[`).
Here every dialect's reader gets 100000 levels of nesting, and bodies nested just below and
above the depth each parser reaches go through the whole parse-and-validate step (the fuzz
targets); the XML attacks are timed, their memory traced, and a local listener stands where
the external references point, so a fetch would be seen.
"""

from __future__ import annotations

import socket
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from pushgate.dialects.discord import routes as discord
from pushgate.dialects.mobilefirst import requests as mobilefirst
from pushgate.dialects.pushapi.bodies import parse_json, parse_xml
from pushgate.dialects.sap import bodies as sap
from pushgate.dialects.servicenow import routes as servicenow
from pushgate.dialects.servicenow.schemas import InstallationIn
from pushgate.errors import InvalidInput, PushgateError
from tests.fuzz.harness import JSON, request_of, run_now
from tests.fuzz.targets import TARGETS

XSI = "http://www.w3.org/2001/XMLSchema-instance"
MAX_S = 2.0  # per refusal; measured in milliseconds, the margin is for a loaded CI machine
# Parsing (not refusing) 18000 nested elements: ~0.3 s, up to 1.8 s seen when a full garbage
# collection of the test process falls into it; this bound only catches a hang.
MAX_DEEP_S = 10.0
MAX_PEAK_BYTES = 32 * 2**20  # Python allocations while refusing one body
DTD_REFUSED = "DTDs, entity declarations and external references are not accepted"

DEEP_JSON = {
    "arrays": b"[" * 100_000,
    "objects": b'{"a":' * 25_000,
    "closed": b"[" * 60_000 + b"]" * 60_000,  # under the Push API's 128 KiB body limit
}


def _measured(parse: Callable[[], object]) -> tuple[BaseException | None, float, int]:
    """(what `parse` raised, seconds, peak traced bytes): timed on a first call, its memory
    traced on a second (tracing slows allocation-heavy parsing tenfold)."""
    raised: list[BaseException | None] = []
    elapsed = 0.0
    for traced in (False, True):
        if traced:
            tracemalloc.start()
        started = time.perf_counter()
        try:
            parse()
            raised.append(None)
        except Exception as exc:
            raised.append(exc)
        if not traced:
            elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert type(raised[0]) is type(raised[1])
    return raised[0], elapsed, peak


READERS: dict[str, Callable[[bytes], object]] = {
    "pushapi": parse_json,
    "sap": lambda raw: run_now(sap.read_json(request_of(raw, JSON))),
    "mobilefirst": lambda raw: run_now(mobilefirst.read_json(request_of(raw, JSON))),
    "servicenow": lambda raw: run_now(servicenow._read(request_of(raw, JSON), InstallationIn)),
}


@pytest.mark.parametrize("shape", list(DEEP_JSON))
@pytest.mark.parametrize("dialect", list(READERS))
def test_deeply_nested_json_is_refused_fast(dialect: str, shape: str) -> None:
    raised, elapsed, peak = _measured(lambda: READERS[dialect](DEEP_JSON[shape]))
    print(f"{dialect} {shape}: {type(raised).__name__}, {elapsed * 1000:.1f} ms, {peak} B peak")  # noqa: T201
    assert isinstance(raised, PushgateError), repr(raised)
    assert raised.code.value == "invalid"  # a 400 in every dialect's table
    assert elapsed < MAX_S
    assert peak < MAX_PEAK_BYTES


@pytest.mark.anyio
async def test_deeply_nested_json_is_400_in_discord() -> None:
    """Discord's bodies are read by FastAPI itself: the real route, no database needed (the
    body is read before any dependency runs)."""
    app = FastAPI()
    app.include_router(discord.router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://discord") as client:
        for shape, body in DEEP_JSON.items():
            started = time.perf_counter()
            answer = await client.post(
                "/users/@me/devices",
                content=body,
                headers={"content-type": "application/json", "authorization": "token"},
            )
            elapsed = time.perf_counter() - started
            print(  # noqa: T201 - the test's figures
                f"discord {shape}: {answer.status_code} {answer.text[:80]}, {elapsed * 1000:.1f} ms"
            )
            assert answer.status_code == 400, answer.text
            assert answer.json()["code"] in (50035, 50109)
            assert elapsed < MAX_S


def _nested(depth: int, leaf: bytes = b"1") -> bytes:
    half = depth // 2  # arrays and objects alternate
    return b'[{"a":' * half + leaf + b"}]" * half


# (target, body with {} where the nested value goes): a field or member that takes any JSON.
NESTED_BODIES = {
    "pushapi_json": b'\0{"UserId":"a","Body":"b","Other":{}}',
    "sap_push": b'\0{"alert":"a","data":{},"apns":{"customValues":{"x":{}}}}',
    "sap_device": b'\0{"capabilities":[{"name":"c","value":{}}]}',
    "mobilefirst_message": b'\0{"message":{"alert":"a"},"settings":{"apns":{"payload":{"p":{}}},'
    b'"wns":{"raw":{"r":{}},"toast":{"launch":{},"visual":{"binding":{"template":"T"}}}}}}',
    "mobilefirst_settings": b'\1{"serviceAccount":{"a":{}}}',
    "servicenow_body": b'\0{"platform":"Apple","token":"t","extra":{}}',
    "discord_body": b'\0{"provider":"gcm","token":"t","extra":{}}',
}


@pytest.mark.parametrize("depth", [100, 300, 450, 700, 990, 2000])
@pytest.mark.parametrize("name", list(NESTED_BODIES))
def test_nested_values_near_the_parsers_depth_never_crash(name: str, depth: int) -> None:
    """Taken or refused with the dialect's 400, never a 500: the whole parse-and-validate
    step, below and above the depth where each recursive step gives up."""
    body = NESTED_BODIES[name].replace(b"{}", _nested(depth), 1)
    started = time.perf_counter()
    TARGETS[name].run(body)  # raises on anything but success or the dialect's 4xx refusal
    elapsed = time.perf_counter() - started
    print(f"{name} at depth {depth}: no crash, {elapsed * 1000:.1f} ms")  # noqa: T201
    assert elapsed < MAX_DEEP_S


# --- XML (B5): the Push API's bodies, the dialect that reads XML. ---


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A local TCP port where the external references point: a fetch would connect here."""
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    yield server
    server.close()


def _no_connection(server: socket.socket) -> bool:
    try:
        connection, _ = server.accept()
    except BlockingIOError:
        return True
    connection.close()
    return False


def _laughs(levels: int = 9) -> str:
    entities = ['<!ENTITY lol0 "lol">']
    entities += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels + 1)]
    return f"<!DOCTYPE r [{''.join(entities)}]>"


def _xml(prolog: str, body: str) -> bytes:
    return (f'<?xml version="1.0"?>{prolog}<r xmlns:i="{XSI}"><UserId>a</UserId>'
            f"<Body>{body}</Body></r>").encode()  # fmt: skip


def _attacks(secret: Path, port: int) -> dict[str, bytes]:
    url = f"http://127.0.0.1:{port}"
    return {
        "billion laughs": _xml(_laughs(), "&lol9;"),
        # One 60 KB entity referenced 1000 times: 60 MB if expanded (no nesting needed).
        "quadratic blowup": _xml(f'<!DOCTYPE r [<!ENTITY a "{"x" * 60_000}">]>', "&a;" * 1000),
        "xxe file": _xml(f'<!DOCTYPE r [<!ENTITY s SYSTEM "file://{secret}">]>', "&s;"),
        "xxe http": _xml(f'<!DOCTYPE r [<!ENTITY s SYSTEM "{url}/s">]>', "&s;"),
        "external dtd": _xml(f'<!DOCTYPE r SYSTEM "{url}/r.dtd">', "hi"),
        "parameter entity": _xml(f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{url}/p.dtd"> %p;]>', "hi"),
        "public dtd": _xml(f'<!DOCTYPE r PUBLIC "-//X//DTD X//EN" "{url}/x.dtd">', "hi"),
    }


@pytest.mark.parametrize(
    "attack",
    ["billion laughs", "quadratic blowup", "xxe file", "xxe http", "external dtd",
     "parameter entity", "public dtd"],
)  # fmt: skip
def test_entity_and_dtd_attacks_are_refused_fast_in_bounded_memory(
    attack: str, tmp_path: Path, listener: socket.socket
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top-secret-contents")
    body = _attacks(secret, listener.getsockname()[1])[attack]
    raised, elapsed, peak = _measured(lambda: parse_xml(body))
    print(f"{attack}: {len(body)} B body, {elapsed * 1000:.2f} ms, {peak} B peak, {raised}")  # noqa: T201
    assert isinstance(raised, InvalidInput), repr(raised)
    assert raised.message == DTD_REFUSED
    assert elapsed < MAX_S
    assert peak < MAX_PEAK_BYTES
    assert _no_connection(listener)


def test_xinclude_and_deep_elements_are_not_followed(
    tmp_path: Path, listener: socket.socket
) -> None:
    """No DTD needed: XInclude is a plain element (ElementTree never includes), and 18000
    nested elements parse in bounded time; either way the field is no text and is refused."""
    secret = tmp_path / "secret.txt"
    secret.write_text("top-secret-contents")
    port = listener.getsockname()[1]
    bodies = {
        "xinclude": _xml("", f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
                         f'href="file://{secret}" parse="text"/><xi:include '
                         f'xmlns:xi="http://www.w3.org/2001/XInclude" href="http://127.0.0.1:{port}/"/>'),
        "deep elements": _xml("", "<a>" * 18_000 + "</a>" * 18_000),  # under 128 KiB
    }  # fmt: skip
    for name, body in bodies.items():

        def parse(body: bytes = body) -> object:
            return parse_xml(body)

        raised, elapsed, peak = _measured(parse)
        print(f"{name}: {len(body)} B, {elapsed * 1000:.1f} ms, {peak} B peak, {raised!r}")  # noqa: T201
        assert raised is None
        fields = parse_xml(body)
        assert fields["Body"] == {}  # elements inside a field: refused by the type check
        assert "top-secret" not in repr(fields)
        assert elapsed < MAX_DEEP_S
        assert peak < MAX_PEAK_BYTES
    assert _no_connection(listener)
