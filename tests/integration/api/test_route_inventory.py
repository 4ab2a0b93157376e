"""reliability.md S1: every route of every front door needs credentials, except an allow-list.

The routes come from the application's own route table: the native API, the five vendor
dialects, the console, /metrics, the health checks and the API documents. Each route not on
the allow-list below is called on a plausible path (an existing app, made-up ids, an empty
JSON body) without credentials and with wrong ones of every kind the front doors take; the
answer must be the front door's "who are you" (401/403; the console's redirect to its sign-in
page for a page, 401 for a form post), never a 2xx, a 5xx or anything that got past it. A
route added later without authentication fails here, and so does an allow-list entry whose
route is gone (no stale exemption).
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.routing import iter_route_contexts

from pushgate.app import build_runtime, create_app
from pushgate.console.web import COOKIE
from pushgate.http.deps import Runtime
from pushgate.store.engine import Database
from tests.conftest import make_settings, shared_app
from tests.integration.api.helpers import ADMIN, make_app

pytestmark = pytest.mark.anyio

APP = "inventory"
SERVICE_PATH = "inventory-svc"  # a configured SAP service path, so its twin routes answer
ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
OTHER_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "PUT")
# Plausible values of the path parameters: the app exists (ServiceNow tells an unknown app
# apart once credentials were sent, docs/dialects.md), every id is made up.
PATH_VALUES = {
    "app": APP,
    "pushApplicationName": APP,
    "applicationId": APP,
    "servicePath": SERVICE_PATH,
    "api_version": "v1",
    "version": "9",
    "os": "android",
    "provider": "wns",
    "rest": "zz/made-up",
    "resource": "zz/made-up",
}
MADE_UP = "zz-made-up-1"


@dataclass(frozen=True)
class Open:
    """A route anyone may call: what it answers, and why that is safe."""

    statuses: frozenset[int]
    reason: str


def _open(
    paths: Iterable[str], methods: Iterable[str], statuses: Iterable[int], reason: str
) -> dict[tuple[str, str], Open]:
    entry = Open(frozenset(statuses), reason)
    return {(method, path): entry for path in paths for method in methods}


_SN = ("/api/now/push/{pushApplicationName}", "/api/now/{api_version}/push/{pushApplicationName}")
_SAP_ELSEWHERE = ("/mobileservices/{rest:path}", "/{servicePath:path}/mobileservices/{rest:path}")
_VENDOR_REFUSAL = (
    "the vendor's own answer for a path or method it does not serve: the handler raises "
    "before it reads a header, the body or the database"
)
# Every (method, path template) answered without credentials, with its reason.
OPEN_ROUTES: dict[tuple[str, str], Open] = {
    **_open(
        ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"),
        ("GET", "HEAD"),
        [200],
        "the API description, public as the vendors' own documents are; test_canaries.py "
        "shows it holds no secret",
    ),
    **_open(["/healthz"], ["GET"], [200], "liveness for load balancers: says 'ok' and no more"),
    **_open(
        ["/readyz"],
        ["GET"],
        [200, 503],
        "readiness for load balancers: whether the database answers, nothing else",
    ),
    **_open(["/console/login"], ["GET"], [200], "the console's sign-in form"),
    **_open(
        ["/console/static/console.css"],
        ["GET"],
        [200],
        "the sign-in page's stylesheet (the script needs a session)",
    ),
    **_open(
        [p + s for p in _SN for s in ("/installation", "/removeInstallation")],
        OTHER_METHODS,
        [405],
        _VENDOR_REFUSAL,
    ),
    **_open(["/api/now/{resource:path}"], ALL_METHODS, [400], _VENDOR_REFUSAL),
    **_open(["/api/v2/push", "/mfp/api/az/v1/token"], OTHER_METHODS, [405], _VENDOR_REFUSAL),
    **_open([*_SAP_ELSEWHERE, "/imfpush/{rest:path}"], ALL_METHODS, [404], _VENDOR_REFUSAL),
}
# Routes that take the credential itself in the request (a token exchange, a sign-in, a body
# carrying the key): probed with their own requests below, and they must refuse all of them.
SIGN_IN_ROUTES = {
    ("POST", "/v1/oauth/token"): "OAuth client credentials (an API key) for an access token",
    ("POST", "/mfp/api/az/v1/token"): "MobileFirst's token endpoint (an OAuth client)",
    ("POST", "/console/login"): "the console's sign-in with a key",
    ("POST", "/api/v2/push"): "the POST Push API: CompanyId and IntegrationKey in the body",
}
# Each front door must be in the table: the inventory is of the whole application.
FRONT_DOORS = (
    "/v1/apps",
    "/api/now/",
    "/api/v2/push",
    "/users/@me/devices",
    "/mobileservices/push/",
    "/imfpush/v1/",
    "/console/",
    "/metrics",
    "/healthz",
    "/openapi.json",
)
WRONG_KEY = "pga_" + "Wr0ngKey" * 6


def _basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


# Wrong credentials of every kind a front door takes: an API key three ways (native, SAP,
# metrics), a bearer token (MobileFirst, Discord, app users), Basic name:password (ServiceNow,
# SAP), and a made-up console session.
WRONG_CREDENTIALS: dict[str, dict[str, str]] = {
    "wrong X-API-Key": {"X-API-Key": WRONG_KEY},
    "wrong Bearer": {"Authorization": f"Bearer {WRONG_KEY}"},
    "wrong Basic": _basic("someone", "not-the-password"),
    "made-up user token": {"Authorization": "Bearer pgu_" + "z" * 43},
}
MADE_UP_SESSION = {"Cookie": f"{COOKIE}=" + "s" * 43}


@dataclass(frozen=True)
class Route:
    method: str
    path: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def route_table(app: FastAPI) -> list[Route]:
    """Every (method, path template) the application serves."""
    found: list[Route] = []
    for context in iter_route_contexts(app.routes):
        # A mount, a websocket or anything else without HTTP methods cannot be probed here:
        # it fails until this inventory learns how to call it.
        assert context.path, f"{context}: not an HTTP route"
        assert context.methods, f"{context}: not an HTTP route"
        found.extend(Route(method, context.path) for method in sorted(context.methods))
    return found


def fill(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PATH_VALUES.get(m.group(1), MADE_UP), path)


def _body(method: str) -> dict[str, Any] | None:
    return {} if method in ("POST", "PUT", "PATCH") else None


def _refused(route: Route, response: httpx.Response, *, anonymous: bool) -> bool:
    """The front door's answer to a caller it does not know: 401 (403 allowed for a wrong
    credential); the console redirects a page to its sign-in and answers a form post 401."""
    if route.path.startswith("/console/"):
        if route.method == "GET":
            return response.status_code == 303 and response.headers.get("location") == (
                "/console/login"
            )
        return response.status_code == 401
    return response.status_code in (401, 403) if not anonymous else response.status_code == 401


def _attempts(route: Route) -> list[tuple[str, dict[str, str]]]:
    """No credentials, then each wrong one the route's front door could take."""
    if route.path.startswith("/console/"):
        return [("no credentials", {}), ("made-up session", MADE_UP_SESSION)]
    return [("no credentials", {}), *WRONG_CREDENTIALS.items()]


async def probe_protected(
    client: httpx.AsyncClient, routes: Iterable[Route]
) -> tuple[list[str], int]:
    """Each route called anonymously and with wrong credentials: what was not refused, and
    how many requests were made."""
    problems: list[str] = []
    calls = 0
    for route in routes:
        url, body = fill(route.path), _body(route.method)
        for label, headers in _attempts(route):
            response = await client.request(route.method, url, json=body, headers=headers)
            calls += 1
            if not _refused(route, response, anonymous=label == "no credentials"):
                problems.append(
                    f"{route} ({url}) with {label}: {response.status_code} {response.text[:160]!r}"
                )
    return problems, calls


async def probe_open(client: httpx.AsyncClient, table: list[Route]) -> list[str]:
    problems: list[str] = []
    for route in table:
        entry = OPEN_ROUTES.get((route.method, route.path))
        if entry is None:
            continue
        response = await client.request(route.method, fill(route.path), json=_body(route.method))
        if response.status_code not in entry.statuses:
            problems.append(f"{route}: {response.status_code}, allow-listed as {entry.statuses}")
    return problems


async def probe_sign_in(client: httpx.AsyncClient) -> list[str]:
    """The credential-taking routes refuse a missing and a wrong credential (401)."""
    grant = {"grant_type": "client_credentials"}
    wrong_client = _basic("made-up-client", "not-the-secret")
    push = {"UserId": "someone", "Title": "t", "Body": "b", "CompanyId": 0, "IntegrationKey": ""}
    app = (await client.get(f"/v1/apps/{APP}", headers=ADMIN)).json()
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/v1/oauth/token", {"data": grant}),
        ("POST", "/v1/oauth/token", {"data": grant, "headers": wrong_client}),
        ("POST", "/v1/oauth/token", {"data": {**grant, "client_id": "k", "client_secret": "x"}}),
        ("POST", "/mfp/api/az/v1/token", {"data": grant}),
        ("POST", "/mfp/api/az/v1/token", {"data": grant, "headers": wrong_client}),
        ("POST", "/console/login", {"data": {"key": ""}}),
        ("POST", "/console/login", {"data": {"key": WRONG_KEY}}),
        ("POST", "/api/v2/push", {"json": push, "params": {"format": "json"}}),
        (
            "POST",
            "/api/v2/push",
            {
                "json": {**push, "CompanyId": app["company_id"], "IntegrationKey": WRONG_KEY},
                "params": {"format": "json"},
            },
        ),
    ]
    problems = []
    for method, path, options in calls:
        if path == "/console/login":  # the form's CSRF token first, as a browser would
            form = await client.get(path)
            token = re.search(r'name="login_csrf" value="([^"]+)"', form.text)
            assert token is not None, form.text[:300]
            options["data"]["login_csrf"] = token.group(1)
        response = await client.request(method, path, **options)
        if response.status_code != 401:
            problems.append(f"{method} {path} {options}: {response.status_code} {response.text}")
    return problems


def stale_entries(table: list[Route]) -> list[str]:
    served = {(r.method, r.path) for r in table}
    listed = set(OPEN_ROUTES) | set(SIGN_IN_ROUTES)
    return sorted(f"{m} {p}" for m, p in listed - served)


@pytest.fixture
def backend() -> str:
    return "sqlite"  # authentication is the same on either database; one is enough here


@pytest.fixture
async def inventory_runtime(database: Database, tmp_path: Path) -> Runtime:
    settings = make_settings(tmp_path, sap_service_paths=[f"/{SERVICE_PATH}"])
    built, _ = await build_runtime(settings, db=database)
    return built


@pytest.fixture
async def served(inventory_runtime: Runtime) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = shared_app(inventory_runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pushgate.test") as http:
        await make_app(http, APP)
        yield app, http


async def test_every_route_but_the_allow_list_refuses_callers_without_credentials(
    served: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = served
    table = route_table(app)
    for door in FRONT_DOORS:
        assert any(r.path.startswith(door) for r in table), f"no route of {door} in the table"
    assert not stale_entries(table), f"allow-listed routes no longer served: {stale_entries(table)}"
    exempt = set(OPEN_ROUTES) | set(SIGN_IN_ROUTES)
    protected = [r for r in table if (r.method, r.path) not in exempt]

    problems, calls = await probe_protected(client, protected)
    problems += await probe_open(client, table)
    problems += await probe_sign_in(client)
    print(  # noqa: T201 - the test's figures
        f"route-methods {len(table)}: protected {len(protected)}, allow-listed "
        f"{len(OPEN_ROUTES)}, sign-in {len(SIGN_IN_ROUTES)}; requests without or with wrong "
        f"credentials {calls}; not refused {len(problems)}"
    )
    assert not problems, "\n".join(problems)


async def test_a_new_route_without_authentication_is_caught(inventory_runtime: Runtime) -> None:
    """The probe can fail: an unauthenticated route added to the app is reported, and an
    allow-list entry whose route is gone is stale."""
    app = create_app(inventory_runtime.settings, inventory_runtime)

    @app.get("/v1/apps/{app}/leaky")
    async def leaky(app: str, request: Request) -> dict[str, str]:
        return {"app": app}

    @app.post("/v1/apps/{app}/unchecked")
    async def unchecked(app: str, body: list[int]) -> dict[str, str]:
        return {"app": app}  # a body validated before any credential: 422, not 401

    added = [Route("GET", "/v1/apps/{app}/leaky"), Route("POST", "/v1/apps/{app}/unchecked")]
    assert set(added) <= set(route_table(app))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        problems, _ = await probe_protected(client, added)
    assert len(problems) == 2 * (1 + len(WRONG_CREDENTIALS)), problems
    assert any("200" in p for p in problems)
    assert any("422" in p for p in problems)
    without_docs = [r for r in route_table(app) if r.path != "/redoc"]
    assert stale_entries(without_docs) == ["GET /redoc", "HEAD /redoc"]
