"""Every bad request gets ServiceNow's status and error body, and stores nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from pushgate.http.deps import Runtime
from tests.integration.api.helpers import make_app
from tests.integration.dialects.servicenow.samples import (
    APP,
    APPLE_TOKEN,
    INSTALL_BODY,
    INSTALL_PATH,
    NOT_AUTHENTICATED,
    PASSWORD,
    REMOVE_BODY,
    REMOVE_PATH,
    USER,
    basic,
    curl_headers,
    make_servicenow_app,
    make_user,
    post,
    registrations,
    servicenow_error,
)

pytestmark = pytest.mark.anyio

ANDROID = {"platform": "Android", "token": "fcm-token-kept"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def installed(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """The seed's app and user, with one active Android installation that must survive."""
    await make_servicenow_app(client)
    response = await post(client, INSTALL_PATH, ANDROID)
    assert response.status_code == 200, response.text
    yield client
    assert [(r["token"], r["active"]) for r in await registrations(client)] == [
        ("fcm-token-kept", True)
    ], "a refused request changed the registrations"


LONG_TOKEN = "a" * 2049
BAD_INSTALLATIONS: list[tuple[str, dict[str, str], bytes, str]] = [
    ("no content type", basic(USER, PASSWORD), INSTALL_BODY, "Unsupported content type"),
    ("text/plain", {**curl_headers(), "Content-Type": "text/plain"}, INSTALL_BODY,
     "Unsupported content type"),
    ("form", {**curl_headers(), "Content-Type": "application/x-www-form-urlencoded"},
     INSTALL_BODY, "Unsupported content type"),
    ("xml", {**curl_headers(), "Content-Type": "application/xml"},
     b"<installation><platform>Apple</platform></installation>", "Unsupported content type"),
    ("malformed JSON", curl_headers(), b'{"platform":"Apple",', "Exception while reading request"),
    ("empty body", curl_headers(), b"", "Exception while reading request"),
    ("not UTF-8", curl_headers(), b'{"platform":"\xff"}', "Exception while reading request"),
    ("array", curl_headers(), b'[{"platform":"Apple"}]', "Exception while reading request"),
    ("missing platform", curl_headers(), b'{"token":"abc"}', "Invalid platform"),
    ("missing token", curl_headers(), b'{"platform":"Apple"}', "Invalid token"),
    ("null platform", curl_headers(), b'{"platform":null,"token":"abc"}', "Invalid platform"),
    ("numeric token", curl_headers(), b'{"platform":"Apple","token":12345}', "Invalid token"),
    ("empty token", curl_headers(), b'{"platform":"Apple","token":""}', "Invalid token"),
    ("token with spaces", curl_headers(), b'{"platform":"Apple","token":"ab cd"}',
     "Invalid token"),
    ("token too long", curl_headers(),
     b'{"platform":"Apple","token":"' + LONG_TOKEN.encode() + b'"}', "Invalid token"),
    ("unknown platform", curl_headers(), b'{"platform":"Windows","token":"abc"}',
     "Invalid platform"),
    # pushgate's own platform names are not the app's Push Platform names.
    ("canonical name", curl_headers(), b'{"platform":"apns","token":"abc"}', "Invalid platform"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("headers", "content", "message"),
    [case[1:] for case in BAD_INSTALLATIONS],
    ids=[case[0] for case in BAD_INSTALLATIONS],
)
async def test_bad_installations_are_400_in_servicenow_shape(
    installed: httpx.AsyncClient, headers: dict[str, str], content: bytes, message: str
) -> None:
    response = await installed.post(INSTALL_PATH, content=content, headers=headers)
    body = servicenow_error(response, 400)
    assert body["error"]["message"] == message
    assert body["error"]["detail"]
    assert LONG_TOKEN not in response.text


BAD_REMOVALS: list[tuple[str, dict[str, str], bytes, str]] = [
    ("text/plain", {**curl_headers(), "Content-Type": "text/plain"}, REMOVE_BODY,
     "Unsupported content type"),
    ("malformed JSON", curl_headers(), b"{platform: Android}", "Exception while reading request"),
    ("missing platform", curl_headers(), b"{}", "Invalid platform"),
    ("numeric platform", curl_headers(), b'{"platform":1}', "Invalid platform"),
    ("unknown platform", curl_headers(), b'{"platform":"Windows"}', "Invalid platform"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("headers", "content", "message"),
    [case[1:] for case in BAD_REMOVALS],
    ids=[case[0] for case in BAD_REMOVALS],
)
async def test_bad_removals_are_400_and_deactivate_nothing(
    installed: httpx.AsyncClient, headers: dict[str, str], content: bytes, message: str
) -> None:
    response = await installed.post(REMOVE_PATH, content=content, headers=headers)
    assert servicenow_error(response, 400)["error"]["message"] == message


@pytest.mark.parametrize("path", [INSTALL_PATH, REMOVE_PATH])
@pytest.mark.parametrize("version", ["v3", "V1", "latest"])
async def test_an_unknown_api_version_is_400(
    installed: httpx.AsyncClient, path: str, version: str
) -> None:
    versioned = path.replace("/api/now/", f"/api/now/{version}/")
    for headers in (curl_headers(), JSON):  # the path is resolved before the credentials
        response = await post(installed, versioned, {**ANDROID, "token": "other"}, headers)
        body = servicenow_error(response, 400)
        assert body["error"]["message"] == "Requested URI does not represent any resource"


async def test_an_unknown_application_is_400_once_credentials_are_sent(
    installed: httpx.AsyncClient,
) -> None:
    for path in (INSTALL_PATH, REMOVE_PATH):
        unknown = path.replace(APP, "NoSuchPushApp")
        response = await post(installed, unknown, {**ANDROID, "token": "other"})
        assert servicenow_error(response, 400)["error"]["message"] == "Invalid push application"
        # Without credentials nothing is said about the application.
        anonymous = await post(installed, unknown, ANDROID, JSON)
        assert servicenow_error(anonymous, 401) == NOT_AUTHENTICATED


BAD_CREDENTIALS: list[tuple[str, dict[str, str]]] = [
    ("wrong password", curl_headers(USER, "not-the-password")),
    ("unknown user", curl_headers("nobody", PASSWORD)),
    ("no authorization", JSON),
    ("empty basic", {**JSON, "Authorization": "Basic "}),
    ("not base64", {**JSON, "Authorization": "Basic !!!not-base64!!!"}),
    ("no colon", {**JSON, "Authorization": "Basic dXNlcm5hbWU="}),
    ("bearer", {**JSON, "Authorization": "Bearer " + PASSWORD}),
    ("user without a password", curl_headers("no.password", "")),
    ("user of another app", curl_headers("foreign.user", PASSWORD)),
]


@pytest.mark.parametrize("path", [INSTALL_PATH, REMOVE_PATH])
@pytest.mark.parametrize(
    "headers", [case[1] for case in BAD_CREDENTIALS], ids=[case[0] for case in BAD_CREDENTIALS]
)
async def test_bad_credentials_are_401_and_change_nothing(
    installed: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> None:
    await make_user(installed, "no.password", None)
    await make_app(installed, "OtherApp")
    await make_user(installed, "foreign.user", PASSWORD, app="OtherApp")
    body: dict[str, Any] = {"platform": "Android", "token": "fcm-token-kept"}
    if path == INSTALL_PATH:
        body["token"] = "intruder-token"
    response = await post(installed, path, body, headers)
    assert servicenow_error(response, 401) == NOT_AUTHENTICATED
    assert response.headers["www-authenticate"] == 'Basic realm="pushgate"'
    assert PASSWORD not in response.text


async def test_credentials_are_checked_before_the_body(installed: httpx.AsyncClient) -> None:
    response = await installed.post(
        INSTALL_PATH, content=b"not json", headers=curl_headers(USER, "wrong-password")
    )
    assert servicenow_error(response, 401) == NOT_AUTHENTICATED


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
async def test_another_method_on_a_known_resource_is_405(
    installed: httpx.AsyncClient, method: str
) -> None:
    response = await installed.request(method, INSTALL_PATH, headers=curl_headers())
    assert servicenow_error(response, 405)["error"]["message"] == "Method not Supported"
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize(
    "path", ["/api/now/push/ServiceNowPushApp/installations", "/api/now/table/incident"]
)
async def test_a_path_naming_no_resource_is_400(installed: httpx.AsyncClient, path: str) -> None:
    response = await post(installed, path, {"platform": "Android", "token": "x"})
    body = servicenow_error(response, 400)
    assert body["error"]["message"] == "Requested URI does not represent any resource"


async def test_a_streamed_body_over_the_limit_is_413_in_servicenow_shape(
    installed: httpx.AsyncClient, runtime: Runtime
) -> None:
    limit = runtime.settings.max_body_bytes

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"platform":"Android","token":"'
        yield b"a" * limit
        yield b'"}'

    response = await installed.post(INSTALL_PATH, content=chunks(), headers=curl_headers())
    assert servicenow_error(response, 413)["error"]["message"] == "Exception while reading request"


async def test_a_declared_body_over_the_limit_is_413_in_servicenow_shape(
    installed: httpx.AsyncClient, runtime: Runtime
) -> None:
    body = b'{"platform":"Android","token":"' + b"a" * runtime.settings.max_body_bytes + b'"}'
    response = await installed.post(INSTALL_PATH, content=body, headers=curl_headers())
    assert servicenow_error(response, 413)["error"]["message"] == "Exception while reading request"


async def test_a_server_side_failure_is_500_in_servicenow_shape_and_stores_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await make_servicenow_app(client)
    # A real fault: the registrations table is gone while users and platforms are there.
    async with runtime.db.connect() as conn:
        await conn.execute(text("ALTER TABLE registrations RENAME TO registrations_away"))
    try:
        response = await client.post(INSTALL_PATH, content=INSTALL_BODY, headers=curl_headers())
        body = servicenow_error(response, 500)
        assert body["error"]["message"] == "Internal Server Error"
        assert "registrations" not in response.text  # no internals in the answer
    finally:
        async with runtime.db.connect() as conn:
            await conn.execute(text("ALTER TABLE registrations_away RENAME TO registrations"))
    assert APPLE_TOKEN not in str(await registrations(client))
