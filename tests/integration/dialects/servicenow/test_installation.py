"""installation / removeInstallation: the seed's samples, versions, updates, moves, sandbox."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.api.helpers import ADMIN
from tests.integration.dialects.servicenow.samples import (
    APP,
    APPLE_TOKEN,
    INSTALL_BODY,
    INSTALL_PATH,
    REMOVE_BODY,
    REMOVE_PATH,
    USER,
    curl_headers,
    make_servicenow_app,
    make_user,
    post,
    registrations,
)

pytestmark = pytest.mark.anyio


def assert_empty_200(response: httpx.Response) -> None:
    """The document's "Response body parameters: None": 200 and not a byte of body."""
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert "content-type" not in response.headers


async def test_seed_installation_sample_registers_the_users_apple_token(
    client: httpx.AsyncClient,
) -> None:
    await make_servicenow_app(client)
    response = await client.post(INSTALL_PATH, content=INSTALL_BODY, headers=curl_headers())
    assert_empty_200(response)
    (found,) = await registrations(client)
    assert (found["platform"], found["token"], found["user"]) == ("apns", APPLE_TOKEN, USER)
    assert (found["sandbox"], found["active"]) == (False, True)
    by_user = await client.get(f"/v1/apps/{APP}/registrations?user={USER}", headers=ADMIN)
    assert [r["token"] for r in by_user.json()["items"]] == [APPLE_TOKEN]


async def test_seed_remove_installation_sample_deactivates_the_users_apple_tokens(
    client: httpx.AsyncClient,
) -> None:
    await make_servicenow_app(client)
    assert_empty_200(await client.post(INSTALL_PATH, content=INSTALL_BODY, headers=curl_headers()))
    android = {"platform": "Android", "token": "fcm-token-of-username"}
    assert_empty_200(await post(client, INSTALL_PATH, android))
    response = await client.post(REMOVE_PATH, content=REMOVE_BODY, headers=curl_headers())
    assert_empty_200(response)
    found = {r["token"]: r for r in await registrations(client)}
    apple = found[APPLE_TOKEN]
    assert apple["active"] is False
    assert apple["deactivated_at"] is not None
    assert apple["deactivation_reason"] == "installation removed by its user"
    assert found["fcm-token-of-username"]["active"] is True  # another platform: untouched
    again = await client.post(REMOVE_PATH, content=REMOVE_BODY, headers=curl_headers())
    assert_empty_200(again)  # nothing left to deactivate is still a success
    found = {r["token"]: r for r in await registrations(client)}
    assert found[APPLE_TOKEN]["deactivated_at"] == apple["deactivated_at"]  # kept, not redone


@pytest.mark.parametrize("version", ["v1", "v2"])
async def test_versioned_paths_do_what_the_default_ones_do(
    client: httpx.AsyncClient, version: str
) -> None:
    await make_servicenow_app(client)
    install = f"/api/now/{version}/push/{APP}/installation"
    assert_empty_200(await client.post(install, content=INSTALL_BODY, headers=curl_headers()))
    assert [r["active"] for r in await registrations(client)] == [True]
    remove = f"/api/now/{version}/push/{APP}/removeInstallation"
    assert_empty_200(await client.post(remove, content=REMOVE_BODY, headers=curl_headers()))
    assert [r["active"] for r in await registrations(client)] == [False]


async def test_installing_the_same_token_again_updates_and_reactivates_it(
    client: httpx.AsyncClient,
) -> None:
    await make_servicenow_app(client)
    assert_empty_200(await client.post(INSTALL_PATH, content=INSTALL_BODY, headers=curl_headers()))
    (first,) = await registrations(client)
    assert_empty_200(await client.post(REMOVE_PATH, content=REMOVE_BODY, headers=curl_headers()))
    assert_empty_200(await client.post(INSTALL_PATH, content=INSTALL_BODY, headers=curl_headers()))
    (again,) = await registrations(client)
    assert again["id"] == first["id"]
    assert (again["active"], again["deactivated_at"], again["deactivation_reason"]) == (
        True,
        None,
        None,
    )


async def test_a_token_installed_by_another_user_moves_to_that_user(
    client: httpx.AsyncClient,
) -> None:
    await make_servicenow_app(client)
    await make_user(client, "other.user", "other-password")
    assert_empty_200(await client.post(INSTALL_PATH, content=INSTALL_BODY, headers=curl_headers()))
    other = curl_headers("other.user", "other-password")
    assert_empty_200(await client.post(INSTALL_PATH, content=INSTALL_BODY, headers=other))
    (moved,) = await registrations(client)
    assert (moved["token"], moved["user"], moved["active"]) == (APPLE_TOKEN, "other.user", True)
    # The first user no longer owns it: their removeInstallation leaves it alone.
    assert_empty_200(await client.post(REMOVE_PATH, content=REMOVE_BODY, headers=curl_headers()))
    assert [r["active"] for r in await registrations(client)] == [True]
    assert_empty_200(await client.post(REMOVE_PATH, content=REMOVE_BODY, headers=other))
    assert [r["active"] for r in await registrations(client)] == [False]


async def test_a_platform_named_for_the_apns_sandbox_installs_sandbox_tokens(
    client: httpx.AsyncClient,
) -> None:
    await make_servicenow_app(client)
    named = await client.put(
        f"/v1/apps/{APP}/push-platforms/AppleDev", json={"platform": "apns_internal"}, headers=ADMIN
    )
    assert named.status_code == 201, named.text
    assert_empty_200(await client.post(INSTALL_PATH, content=INSTALL_BODY, headers=curl_headers()))
    assert_empty_200(
        await post(client, INSTALL_PATH, {"platform": "AppleDev", "token": "dev-build-token"})
    )
    found = {r["token"]: r for r in await registrations(client)}
    assert (found["dev-build-token"]["platform"], found["dev-build-token"]["sandbox"]) == (
        "apns",
        True,
    )
    assert found[APPLE_TOKEN]["sandbox"] is False
    # Each name deactivates only its own environment's tokens.
    assert_empty_200(await post(client, REMOVE_PATH, {"platform": "AppleDev"}))
    found = {r["token"]: r for r in await registrations(client)}
    assert (found["dev-build-token"]["active"], found[APPLE_TOKEN]["active"]) == (False, True)


async def test_body_fields_the_document_does_not_name_are_ignored(
    client: httpx.AsyncClient,
) -> None:
    """A client may send its token to removeInstallation too (ServiceNow ignores extras)."""
    await make_servicenow_app(client)
    body = {"platform": "Apple", "token": APPLE_TOKEN, "deviceName": "iPhone"}
    assert_empty_200(await post(client, INSTALL_PATH, body))
    assert_empty_200(await post(client, REMOVE_PATH, body))
    assert [r["active"] for r in await registrations(client)] == [False]


async def test_content_type_parameters_are_accepted(client: httpx.AsyncClient) -> None:
    await make_servicenow_app(client)
    headers = {**curl_headers(), "Content-Type": "application/json; charset=UTF-8"}
    assert_empty_200(await client.post(INSTALL_PATH, content=INSTALL_BODY, headers=headers))


async def test_the_openapi_document_declares_exactly_what_the_routes_answer(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    paths = {
        "/api/now/push/{pushApplicationName}/installation",
        "/api/now/{api_version}/push/{pushApplicationName}/installation",
        "/api/now/push/{pushApplicationName}/removeInstallation",
        "/api/now/{api_version}/push/{pushApplicationName}/removeInstallation",
    }
    error = {"$ref": "#/components/schemas/ServiceNowError"}
    for path in paths:
        operation = document["paths"][path]["post"]
        assert set(operation["responses"]) == {"200", "400", "401", "413", "429", "500"}, path
        assert operation["responses"]["200"].get("content", {}) == {}
        for status in ("400", "401", "413", "429", "500"):
            content = operation["responses"][status]["content"]["application/json"]
            assert content["schema"] == error
        names = [p["name"] for p in operation["parameters"]]
        assert names == (["api_version"] if "{api_version}" in path else []) + [
            "pushApplicationName"
        ]
        assert operation["requestBody"]["required"] is True
