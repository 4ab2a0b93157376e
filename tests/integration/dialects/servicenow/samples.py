"""The seed's samples, verbatim, and builders for ServiceNow dialect tests."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from tests.integration.api.helpers import ADMIN, make_app

APP = "ServiceNowPushApp"
USER = "username"
PASSWORD = "password"
APPLE_TOKEN = "544836d77ac2e551bbf78204630509a7d494fc87f52e85da52e5b5d42910e2cf"

# Seed 000, "Push Installation - POST .../installation", Sample cURL request:
#   curl -X POST https://instance.servicenow.com/api/now/push/ServiceNowPushApp/installation \
#   --header "Content-Type: application/json" --user "username":"password" \
#   --data '{"platform":"Apple","token":"544836d7...910e2cf"}'
INSTALL_PATH = "/api/now/push/ServiceNowPushApp/installation"
INSTALL_BODY = (
    b'{"platform":"Apple","token":'
    b'"544836d77ac2e551bbf78204630509a7d494fc87f52e85da52e5b5d42910e2cf"}'
)
# Seed 000, "Push Installation - POST .../removeInstallation", Sample cURL request:
#   curl -X POST https://instance.servicenow.com/api/now/push/ServiceNowPushApp/removeInstallation \
#   --header "Content-Type: application/json" --user "username":"password" \
#   --data '{"platform":"Apple"}'
REMOVE_PATH = "/api/now/push/ServiceNowPushApp/removeInstallation"
REMOVE_BODY = b'{"platform":"Apple"}'

NOT_AUTHENTICATED = {
    "error": {
        "message": "User Not Authenticated",
        "detail": "Required to provide Auth information",
    },
    "status": "failure",
}


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def curl_headers(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    """What the seed's curl command sends: its --header, its --user, and curl's Accept."""
    return {"Content-Type": "application/json", "Accept": "*/*", **basic(user, password)}


async def make_user(
    client: httpx.AsyncClient, name: str, password: str | None = PASSWORD, app: str = APP
) -> None:
    body: dict[str, Any] = {"name": name}
    if password is not None:
        body["password"] = password
    response = await client.post(f"/v1/apps/{app}/users", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text


async def make_servicenow_app(client: httpx.AsyncClient) -> None:
    """The seed's push application and its user "username" with password "password"."""
    await make_app(client, APP)
    await make_user(client, USER)


async def registrations(client: httpx.AsyncClient, app: str = APP) -> list[dict[str, Any]]:
    """Every registration of the app, as the native API shows it."""
    response = await client.get(f"/v1/apps/{app}/registrations", headers=ADMIN)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def post(
    client: httpx.AsyncClient,
    path: str,
    body: dict[str, Any] | bytes,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    content = body if isinstance(body, bytes) else httpx.Request("POST", "/", json=body).content
    return await client.post(path, content=content, headers=headers or curl_headers())


def servicenow_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response's ServiceNow error body, checked for status and exact shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "status"}, body
    assert body["status"] == "failure"
    assert set(body["error"]) == {"message", "detail"}, body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert "code" not in body["error"]  # never the native envelope
    return body
