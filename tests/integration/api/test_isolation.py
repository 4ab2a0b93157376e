"""Tenant isolation: no route lets app A's keys read, change or probe anything of app B.

The matrix is derived from the application's own route table: every route whose path names an
{app} is called with each of A's credentials against B's app and B's resource identifiers. A
route added later under /v1/apps/{app} is covered without touching this file; a route with a
new path parameter or body model fails here until the matrix is told a plausible value for it.
"""

from __future__ import annotations

import base64
import re
import types
import typing
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel

from pushgate.app import create_app
from pushgate.domain.ids import new_id
from pushgate.http.deps import Runtime
from tests.conftest import make_settings
from tests.integration.api.helpers import ADMIN, make_app

pytestmark = pytest.mark.anyio

ALL_ROLES = [
    "app_admin",
    "push_all",
    "push_multiple",
    "push_single",
    "pushregistrations_read",
    "registrations_write",
]
GHOST_APP = "no-such-app-zz"
PROVIDER = "wns"
WNS = {"client_id": "x", "client_secret": "y"}
PUBLIC_HOOK = "https://93.184.215.14/hook"  # a public address literal: no DNS needed

# A body each request model accepts, so that only authorization stands between the caller and
# the handler (a body failing validation would be refused before some routes authorize).
PLAUSIBLE_BODIES: dict[str, dict[str, Any]] = {
    "RegistrationIn": {"platform": "fcm", "token": "{token}", "user": "mallory", "active": True},
    "RegistrationPatch": {"user": "mallory", "topics": ["intruder-topic"], "active": False},
    "TopicCreate": {"name": "intruder-topic", "description": "defaced"},
    "TopicPatch": {"description": "defaced"},
    "KeyCreate": {"alias": "intruder", "roles": ["app_admin"]},
    "CredentialIn": {"client_id": "intruder", "client_secret": "intruder-secret"},
    "AppPatch": {"description": "defaced"},
    "SendIn": {"target": {"users": ["mallory"]}, "notification": {"alert": "defaced"}},
    "UserCreate": {"name": "mallory", "password": "intruder-password"},
    "UserFields": {"password": "intruder-password", "email": "m@example.com"},
    "TokenCreate": {"ttl_s": 3600},
    "PlatformIn": {"platform": "apns_internal"},
    "WebhookCreate": {"name": "intruder", "url": PUBLIC_HOOK, "events": ["*"]},
    "WebhookPatch": {"url": PUBLIC_HOOK + "/defaced", "rotate_secret": True},
    "ClientCreate": {"scopes": ["devices.write", "messages.write"]},
    "ImportIn": {"rows": [{"platform": "fcm", "token": "intruder-token", "user": "mallory"}]},
    "KeyCertificateIn": {
        "certificate": trustme.CA().issue_cert("intruder").cert_chain_pems[0].bytes().decode()
    },
}
# Routes every app resource must have; the derived table may hold more, never fewer.
EXPECTED_ROUTES = {
    ("GET", "/v1/apps/{app}"),
    ("PATCH", "/v1/apps/{app}"),
    ("DELETE", "/v1/apps/{app}"),
    ("POST", "/v1/apps/{app}/registrations"),
    ("GET", "/v1/apps/{app}/registrations"),
    ("GET", "/v1/apps/{app}/registrations/{registration_id}"),
    ("PATCH", "/v1/apps/{app}/registrations/{registration_id}"),
    ("DELETE", "/v1/apps/{app}/registrations/{registration_id}"),
    ("PUT", "/v1/apps/{app}/registrations/{registration_id}/topics/{topic}"),
    ("DELETE", "/v1/apps/{app}/registrations/{registration_id}/topics/{topic}"),
    ("POST", "/v1/apps/{app}/topics"),
    ("GET", "/v1/apps/{app}/topics"),
    ("GET", "/v1/apps/{app}/topics/{name}"),
    ("PATCH", "/v1/apps/{app}/topics/{name}"),
    ("DELETE", "/v1/apps/{app}/topics/{name}"),
    ("POST", "/v1/apps/{app}/keys"),
    ("GET", "/v1/apps/{app}/keys"),
    ("GET", "/v1/apps/{app}/keys/{alias}"),
    ("DELETE", "/v1/apps/{app}/keys/{alias}"),
    ("GET", "/v1/apps/{app}/credentials"),
    ("PUT", "/v1/apps/{app}/credentials/{provider}"),
    ("GET", "/v1/apps/{app}/credentials/{provider}"),
    ("DELETE", "/v1/apps/{app}/credentials/{provider}"),
    ("POST", "/v1/apps/{app}/notifications"),
    ("GET", "/v1/apps/{app}/notifications"),
    ("GET", "/v1/apps/{app}/notifications/{notification_id}"),
    ("DELETE", "/v1/apps/{app}/notifications/{notification_id}"),
    ("GET", "/v1/apps/{app}/notifications/{notification_id}/deliveries"),
    ("POST", "/v1/apps/{app}/users"),
    ("GET", "/v1/apps/{app}/users"),
    ("GET", "/v1/apps/{app}/users/{user}"),
    ("PUT", "/v1/apps/{app}/users/{user}"),
    ("PATCH", "/v1/apps/{app}/users/{user}"),
    ("DELETE", "/v1/apps/{app}/users/{user}"),
    ("POST", "/v1/apps/{app}/users/{user}/tokens"),
    ("GET", "/v1/apps/{app}/users/{user}/tokens"),
    ("DELETE", "/v1/apps/{app}/users/{user}/tokens/{token_id}"),
    ("POST", "/v1/apps/{app}/user-token-secret"),
    ("DELETE", "/v1/apps/{app}/user-token-secret"),
    ("GET", "/v1/apps/{app}/push-platforms"),
    ("GET", "/v1/apps/{app}/push-platforms/{name}"),
    ("PUT", "/v1/apps/{app}/push-platforms/{name}"),
    ("DELETE", "/v1/apps/{app}/push-platforms/{name}"),
    ("GET", "/v1/apps/{app}/events"),
    ("POST", "/v1/apps/{app}/webhooks"),
    ("GET", "/v1/apps/{app}/webhooks"),
    ("GET", "/v1/apps/{app}/webhooks/{name}"),
    ("PATCH", "/v1/apps/{app}/webhooks/{name}"),
    ("DELETE", "/v1/apps/{app}/webhooks/{name}"),
    ("GET", "/v1/apps/{app}/webhooks/{name}/deliveries"),
    ("POST", "/v1/apps/{app}/clients"),
    ("GET", "/v1/apps/{app}/clients"),
    ("GET", "/v1/apps/{app}/clients/{client_id}"),
    ("DELETE", "/v1/apps/{app}/clients/{client_id}"),
    ("POST", "/v1/apps/{app}/registrations/import"),
    ("GET", "/v1/apps/{app}/notifications/{notification_id}/errors"),
}

# PUT creates what its path names, in the caller's own app: a name B also uses is just a
# name there (users and platforms are named per app), so these are not probes of B's ids.
CREATE_BY_NAME = {
    ("PUT", "/v1/apps/{app}/users/{user}"),
    ("PUT", "/v1/apps/{app}/push-platforms/{name}"),
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    params: tuple[str, ...]
    body_model: type[BaseModel] | None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def app_endpoints(app: FastAPI) -> list[Endpoint]:
    """Every (method, path) of the application whose path names an app."""
    found: list[Endpoint] = []
    for context in iter_route_contexts(app.routes):
        path = context.path
        # {app} itself: a vendor path's {applicationId} is not the app (SAP's key decides).
        if path is None or not re.search(r"\{app(?::\w+)?\}", path):
            continue
        # The console signs in with a session cookie, not these credentials; its own
        # isolation (another app's pages answer as unknown ones) is tests/integration/console.
        if path.startswith("/console/"):
            continue
        assert context.methods, f"{path}: a route without HTTP methods cannot be checked here"
        params = tuple(re.findall(r"{(\w+)(?::\w+)?}", path))
        body_field = getattr(context, "body_field", None)
        model: type[BaseModel] | None = None
        if body_field is not None:
            annotation = body_field.field_info.annotation
            # An optional body (`Model | None`): the model is what a caller may send.
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if typing.get_origin(annotation) in (typing.Union, types.UnionType) and members:
                (annotation,) = members
            assert isinstance(annotation, type), f"{path}: body is not a model: {annotation!r}"
            assert issubclass(annotation, BaseModel), f"{path}: body is not a model"
            model = annotation
        found.extend(Endpoint(m, path, params, model) for m in sorted(context.methods))
    return found


@dataclass(frozen=True)
class Tenant:
    name: str
    admin_key: str
    all_key: str
    registration_id: str
    device_token: str
    topic: str
    notification_id: str
    user: str
    user_token: str
    user_token_id: str
    client_id: str = ""
    client_secret: str = ""
    webhook_secret: str = ""  # its webhook is named like its topic

    @property
    def all_alias(self) -> str:
        return f"{self.name}-all"

    @property
    def admin_alias(self) -> str:
        return f"{self.name}-admin"

    def path_values(self, app: str | None = None) -> dict[str, str]:
        return {
            "app": app or self.name,
            "registration_id": self.registration_id,
            "topic": self.topic,
            "name": self.topic,
            "alias": self.all_alias,
            "provider": PROVIDER,
            "notification_id": self.notification_id,
            "user": self.user,
            "token_id": self.user_token_id,
            "client_id": self.client_id,
        }

    def secrets(self) -> list[str]:
        """Strings of this tenant that must never appear in another tenant's responses."""
        return [
            self.device_token,
            self.registration_id,
            self.topic,
            self.admin_key,
            self.all_key,
            self.notification_id,
            self.user,
            self.user_token,
            self.user_token_id,
            self.client_id,
            self.client_secret,
            self.webhook_secret,
        ]


UNKNOWN_VALUES = {
    "registration_id": new_id(),
    "topic": "no-such-topic",
    "name": "no-such-topic",
    "alias": "no-such-key",
    "provider": PROVIDER,
    "notification_id": new_id(),
    "user": "no-such-user",
    "token_id": new_id(),
    "client_id": "no-such-client",
}


async def _key(client: httpx.AsyncClient, app: str, alias: str, roles: list[str]) -> str:
    response = await client.post(
        f"/v1/apps/{app}/keys", json={"alias": alias, "roles": roles}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


async def make_tenant(client: httpx.AsyncClient, name: str) -> Tenant:
    """An app with an app_admin key, an all-roles key, a registration, a topic, a credential."""
    await make_app(client, name)
    admin_key = await _key(client, name, f"{name}-admin", ["app_admin"])
    all_key = await _key(client, name, f"{name}-all", ALL_ROLES)
    topic = f"{name}-topic-{new_id()[-6:]}"
    device_token = f"{name}-device-{new_id()}"
    headers = {"X-API-Key": all_key}
    created_topic = await client.post(
        f"/v1/apps/{name}/topics", json={"name": topic, "description": "d"}, headers=headers
    )
    assert created_topic.status_code == 201, created_topic.text
    registration = await client.post(
        f"/v1/apps/{name}/registrations",
        json={"platform": "fcm", "token": device_token, "user": f"{name}-user", "topics": [topic]},
        headers=headers,
    )
    assert registration.status_code == 201, registration.text
    credential = await client.put(
        f"/v1/apps/{name}/credentials/{PROVIDER}", json=WNS, headers=headers
    )
    assert credential.status_code == 200, credential.text
    sent = await client.post(
        f"/v1/apps/{name}/notifications",
        json={"target": {"users": [f"{name}-user"]}, "notification": {"alert": "hi"}},
        headers=headers,
    )
    assert sent.status_code in (200, 202), sent.text
    user = f"{name}-person-{new_id()[-6:]}"
    created_user = await client.post(
        f"/v1/apps/{name}/users", json={"name": user, "password": "p" * 12}, headers=headers
    )
    assert created_user.status_code == 201, created_user.text
    token = await client.post(f"/v1/apps/{name}/users/{user}/tokens", json={}, headers=headers)
    assert token.status_code == 201, token.text
    oauth_client = await client.post(
        f"/v1/apps/{name}/clients", json={"scopes": ["devices.write"]}, headers=headers
    )
    assert oauth_client.status_code == 201, oauth_client.text
    webhook = await client.post(
        f"/v1/apps/{name}/webhooks",
        json={"name": topic, "url": PUBLIC_HOOK, "events": ["device.deleted"]},
        headers=headers,
    )
    assert webhook.status_code == 201, webhook.text
    return Tenant(
        name,
        admin_key,
        all_key,
        registration.json()["id"],
        device_token,
        topic,
        sent.json()["id"],
        user,
        token.json()["token"],
        token.json()["id"],
        oauth_client.json()["client_id"],
        oauth_client.json()["client_secret"],
        webhook.json()["secret"],
    )


async def snapshot(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    """Everything the admin sees of a tenant."""
    base = f"/v1/apps/{tenant.name}"
    seen: dict[str, Any] = {}
    for path in (
        base,
        f"{base}/registrations",
        f"{base}/registrations/{tenant.registration_id}",
        f"{base}/topics",
        f"{base}/topics/{tenant.topic}",
        f"{base}/keys",
        f"{base}/credentials",
        f"{base}/credentials/{PROVIDER}",
        f"{base}/notifications",
        f"{base}/notifications/{tenant.notification_id}",
        f"{base}/notifications/{tenant.notification_id}/deliveries",
        f"{base}/users",
        f"{base}/users/{tenant.user}",
        f"{base}/users/{tenant.user}/tokens",
        f"{base}/push-platforms",
        f"{base}/events",
        f"{base}/webhooks",
        f"{base}/webhooks/{tenant.topic}/deliveries",
        f"{base}/clients",
    ):
        response = await client.get(path, headers=ADMIN)
        assert response.status_code == 200, (path, response.text)
        seen[path] = response.json()
    return seen


def fill(endpoint: Endpoint, values: dict[str, str]) -> str:
    missing = [p for p in endpoint.params if p not in values]
    if missing:
        pytest.fail(f"{endpoint}: the isolation matrix has no value for path parameter {missing}")
    path = endpoint.path
    for param in endpoint.params:
        replacement = values[param].replace("\\", "\\\\")  # taken literally by re.sub
        path = re.sub(r"\{" + param + r"(?::\w+)?\}", replacement, path)
    return path


def body_for(endpoint: Endpoint, victim: Tenant) -> dict[str, Any] | None:
    if endpoint.body_model is None:
        return None
    name = endpoint.body_model.__name__
    if name not in PLAUSIBLE_BODIES:
        pytest.fail(f"{endpoint}: the isolation matrix has no plausible body for {name}")
    body = {
        k: v.replace("{token}", victim.device_token) if isinstance(v, str) else v
        for k, v in PLAUSIBLE_BODIES[name].items()
    }
    endpoint.body_model.model_validate(body)  # plausible: passes the request schema
    return body


def error_of(response: httpx.Response) -> Any:
    """The whole JSON error body (None for a response without a body, such as HEAD)."""
    return response.json() if response.content else None


def basic(alias: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{alias}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def credentials_of(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, dict[str, str]]:
    """Every way the tenant's keys authenticate: both keys, three schemes, an OAuth token."""
    token = await client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic(tenant.all_alias, tenant.all_key),
    )
    assert token.status_code == 200, token.text
    return {
        "app_admin key as X-API-Key": {"X-API-Key": tenant.admin_key},
        "app_admin key as Basic": basic(tenant.admin_alias, tenant.admin_key),
        "all-roles key as Bearer": {"Authorization": f"Bearer {tenant.all_key}"},
        "all-roles OAuth token": {"Authorization": f"Bearer {token.json()['access_token']}"},
    }


@pytest.fixture
async def served(runtime: Runtime) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The application under test and a client on it: the matrix is that app's route table."""
    app = create_app(runtime.settings, runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pushgate.test") as http:
        yield app, http


def test_route_table_covers_every_app_resource(tmp_path: Path) -> None:
    endpoints = app_endpoints(create_app(make_settings(tmp_path)))
    assert endpoints
    derived = {(e.method, e.path) for e in endpoints}
    assert derived >= EXPECTED_ROUTES, sorted(EXPECTED_ROUTES - derived)
    for endpoint in endpoints:
        assert endpoint.params[0] == "app", endpoint


async def test_app_a_keys_get_403_on_every_route_of_app_b_and_change_nothing(
    served: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = served
    endpoints = app_endpoints(app)
    assert {(e.method, e.path) for e in endpoints} >= EXPECTED_ROUTES
    a = await make_tenant(client, "alpha")
    b = await make_tenant(client, "bravo")
    before = await snapshot(client, b)
    problems: list[str] = []
    calls = 0
    credentials = await credentials_of(client, a)
    credentials["user token"] = {"Authorization": f"Bearer {a.user_token}"}
    for label, headers in credentials.items():
        for endpoint in endpoints:
            body = body_for(endpoint, b)
            to_b = fill(endpoint, b.path_values())
            to_ghost = fill(endpoint, b.path_values(GHOST_APP))
            on_b = await client.request(endpoint.method, to_b, json=body, headers=headers)
            on_ghost = await client.request(endpoint.method, to_ghost, json=body, headers=headers)
            calls += 1
            where = f"{label}: {endpoint.method} {to_b}"
            if on_b.status_code != 403:
                problems.append(f"{where}: {on_b.status_code} {on_b.text[:200]}, expected 403")
            elif endpoint.method != "HEAD" and error_of(on_b)["error"]["code"] != "forbidden":
                problems.append(f"{where}: error code {on_b.text[:200]}, expected forbidden")
            leaked = [s for s in b.secrets() if s in on_b.text]
            if leaked:
                problems.append(f"{where}: response shows B's {leaked}")
            if (on_b.status_code, error_of(on_b)) != (on_ghost.status_code, error_of(on_ghost)):
                problems.append(
                    f"{where}: B's app answers {on_b.status_code} {on_b.text[:200]} but a "
                    f"missing app {on_ghost.status_code} {on_ghost.text[:200]}: existence leaks"
                )
        listed = await client.get("/v1/apps", headers=headers)
        if label == "user token":  # a user lists nothing at all
            assert listed.status_code == 403, listed.text
            continue
        assert listed.status_code == 200, listed.text
        if [item["name"] for item in listed.json()["items"]] != [a.name]:
            problems.append(f"{label}: GET /v1/apps lists {listed.text[:300]}")
    assert calls >= len(EXPECTED_ROUTES)
    assert not problems, "\n".join(problems)
    assert await snapshot(client, b) == before
    still = await client.get("/v1/apps/bravo/registrations", headers={"X-API-Key": b.all_key})
    assert still.status_code == 200, still.text


async def test_b_identifiers_under_app_a_are_as_unknown_as_made_up_ones(
    served: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = served
    a = await make_tenant(client, "alpha")
    b = await make_tenant(client, "bravo")
    before = await snapshot(client, b)
    unknown = {**UNKNOWN_VALUES, "app": a.name}
    problems: list[str] = []
    compared: set[str] = set()
    for label, headers in (await credentials_of(client, a)).items():
        for endpoint in app_endpoints(app):
            with_b_ids = fill(endpoint, b.path_values(a.name))
            with_unknown = fill(endpoint, unknown)
            if with_b_ids == with_unknown or (endpoint.method, endpoint.path) in CREATE_BY_NAME:
                continue  # the path names nothing of B's
            compared.add(endpoint.path)
            body = body_for(endpoint, b)
            on_b = await client.request(endpoint.method, with_b_ids, json=body, headers=headers)
            on_unknown = await client.request(
                endpoint.method, with_unknown, json=body, headers=headers
            )
            where = f"{label}: {endpoint.method} {with_b_ids}"
            if on_b.status_code != 404:
                problems.append(f"{where}: {on_b.status_code} {on_b.text[:200]}, expected 404")
            leaked = [s for s in b.secrets() if s in on_b.text]
            if leaked:
                problems.append(f"{where}: response shows B's {leaked}")
            if (on_b.status_code, error_of(on_b)) != (on_unknown.status_code, error_of(on_unknown)):
                problems.append(
                    f"{where}: {on_b.status_code} {on_b.text[:200]} differs from an unknown id: "
                    f"{on_unknown.status_code} {on_unknown.text[:200]}"
                )
    assert "/v1/apps/{app}/registrations/{registration_id}" in compared
    assert not problems, "\n".join(problems)
    assert await snapshot(client, b) == before


async def test_registration_id_of_app_b_is_404_under_app_a_like_an_unknown_id(
    client: httpx.AsyncClient,
) -> None:
    a = await make_tenant(client, "alpha")
    b = await make_tenant(client, "bravo")
    headers = {"X-API-Key": a.all_key}
    on_b = await client.get(f"/v1/apps/alpha/registrations/{b.registration_id}", headers=headers)
    on_unknown = await client.get(f"/v1/apps/alpha/registrations/{new_id()}", headers=headers)
    assert on_b.status_code == 404, on_b.text
    assert on_b.json()["error"]["code"] == "not_found"
    assert on_b.json() == on_unknown.json()
    assert b.device_token not in on_b.text
    # Filters of A's list do not reach into B either.
    for params in ({"topic": b.topic}, {"user": "bravo-user"}):
        listed = await client.get("/v1/apps/alpha/registrations", params=params, headers=headers)
        assert listed.status_code == 200, listed.text
        assert listed.json()["items"] == []
    own = await client.get("/v1/apps/alpha/registrations", headers=headers)
    assert [r["token"] for r in own.json()["items"]] == [a.device_token]
