"""The fakes' control API: what every fake received, and each fake's whole-server behaviour.

Plain HTTP on loopback only (127.0.0.1:8099 unless told otherwise), no authentication: it
serves developers and tests on the same machine, like the fakes themselves.

| route | does |
|---|---|
| `GET /received` | every notification the fakes accepted, oldest first (`?provider=`, `?token=`) |
| `DELETE /received` | forget them (and the per-token attempt counts) |
| `GET /behaviour` | `{provider: {ServerPlan field: value}}` for every fake |
| `PUT /behaviour` | the same shape, partial: only the fields given change |
| `GET /behaviour/<provider>`, `PUT /behaviour/<provider>` | one fake's plan |

A PUT is checked whole before anything changes; a bad one is a 400 naming the field. Plans
are changed in place, so the fakes holding them see the change on their next request.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import fields
from typing import Any
from urllib.parse import parse_qs

from pushgate.fakes.behaviour import ServerPlan
from pushgate.fakes.http_server import FakeHttpServer, FakeRequest, FakeResponse, ServedFake
from pushgate.fakes.inbox import Inbox

DEFAULT_PORT = 8099
MAX_DELAY_S = 300.0


class BadValue(ValueError):
    pass


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadValue("must be a whole number of at least 1")
    return value


def _optional_count(value: Any) -> int | None:
    return None if value is None else _count(value)


def _delay(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValue("must be a number of seconds")
    if not 0 <= value <= MAX_DELAY_S:
        raise BadValue(f"must be between 0 and {MAX_DELAY_S:g} seconds")
    return float(value)


def _optional_status(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise BadValue("must be an HTTP status (100-599) or null")
    return value


def _optional_retry_after(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.isprintable() or len(value) > 64:
        raise BadValue("must be a Retry-After value (seconds or an HTTP-date) or null")
    return value


# Every ServerPlan field and how a PUT value is checked (tests assert this covers them all).
PLAN_FIELDS: dict[str, Callable[[Any], Any]] = {
    "initial_max_streams": _count,  # HTTP/2 fakes: SETTINGS_MAX_CONCURRENT_STREAMS at start
    "max_streams": _count,  # ... after the first accepted request
    "goaway_after_streams": _optional_count,
    "reset_after_streams": _optional_count,
    "delay_s": _delay,
    "fail_status": _optional_status,
    "fail_retry_after": _optional_retry_after,
}


def plan_json(plan: ServerPlan) -> dict[str, Any]:
    return {f.name: getattr(plan, f.name) for f in fields(plan)}


def checked_changes(body: Any, where: str) -> dict[str, Any]:
    """The field -> value changes of one plan, or BadValue naming the first bad field."""
    if not isinstance(body, dict):
        raise BadValue(f"{where} must be a JSON object of ServerPlan fields")
    changes: dict[str, Any] = {}
    for name, value in body.items():
        check = PLAN_FIELDS.get(name)
        if check is None:
            raise BadValue(f"{where}.{name} is not a ServerPlan field")
        try:
            changes[name] = check(value)
        except BadValue as exc:
            raise BadValue(f"{where}.{name} {exc}") from None
    return changes


def _error(status: int, message: str) -> FakeResponse:
    return FakeResponse.json(status, {"error": message})


def _loopback(host: str) -> str:
    if host == "localhost":
        return host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ValueError("the fakes' control API binds loopback addresses only")


class ControlServer(ServedFake):
    """`async with ControlServer(inbox, {"wns": plan, ...}, port=0) as control:`."""

    def __init__(
        self,
        inbox: Inbox,
        plans: Mapping[str, ServerPlan],
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        routes: Mapping[str, Callable[[FakeRequest], Awaitable[FakeResponse]]] | None = None,
    ) -> None:
        self.inbox = inbox
        self.plans = dict(plans)
        self.routes = dict(routes or {})  # more paths of a deployment (fakes/deployment.py)
        self._server = FakeHttpServer(
            self._handle, ssl_context=None, host=_loopback(host), port=port
        )

    async def _handle(self, request: FakeRequest) -> FakeResponse:
        route = self.routes.get(request.path)
        if route is not None:
            return await route(request)
        if request.path == "/received":
            return self._received(request)
        if request.path == "/behaviour":
            return self._behaviour(request, None)
        if request.path.startswith("/behaviour/"):
            return self._behaviour(request, request.path.removeprefix("/behaviour/"))
        return _error(404, "no such route; see /received and /behaviour")

    def _received(self, request: FakeRequest) -> FakeResponse:
        if request.method == "DELETE":
            self.inbox.clear()
            return FakeResponse(204)
        if request.method != "GET":
            return FakeResponse(405, [("allow", "GET, DELETE")])
        query = parse_qs(request.query)
        provider = query.get("provider", [None])[0]
        token = query.get("token", [None])[0]
        items = [
            item.to_json()
            for item in self.inbox.received
            if (provider is None or item.provider == provider)
            and (token is None or item.token == token)
        ]
        body = json.dumps(items, separators=(",", ":"), default=str).encode()
        return FakeResponse(200, [("content-type", "application/json")], body)

    def _behaviour(self, request: FakeRequest, provider: str | None) -> FakeResponse:
        if provider is not None and provider not in self.plans:
            return _error(404, f"no fake named {provider}; known: {', '.join(sorted(self.plans))}")
        if request.method == "PUT":
            return self._put_behaviour(request, provider)
        if request.method != "GET":
            return FakeResponse(405, [("allow", "GET, PUT")])
        return FakeResponse.json(200, self._state(provider))

    def _state(self, provider: str | None) -> dict[str, Any]:
        if provider is not None:
            return plan_json(self.plans[provider])
        return {name: plan_json(plan) for name, plan in sorted(self.plans.items())}

    def _put_behaviour(self, request: FakeRequest, provider: str | None) -> FakeResponse:
        try:
            body = json.loads(request.body)
            updates = self._checked_updates(body, provider)
        except ValueError as exc:  # BadValue, or JSON that does not parse
            message = str(exc) if isinstance(exc, BadValue) else "the body must be JSON"
            return _error(400, message)
        for name, changes in updates.items():
            for field, value in changes.items():
                setattr(self.plans[name], field, value)
        return FakeResponse.json(200, self._state(provider))

    def _checked_updates(self, body: Any, provider: str | None) -> dict[str, dict[str, Any]]:
        if provider is not None:
            return {provider: checked_changes(body, provider)}
        if not isinstance(body, dict):
            raise BadValue("the body must be a JSON object: {provider: {field: value}}")
        updates: dict[str, dict[str, Any]] = {}
        for name, changes in body.items():
            if name not in self.plans:
                raise BadValue(f"no fake named {name}")
            updates[name] = checked_changes(changes, name)
        return updates
