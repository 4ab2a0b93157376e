"""ServiceNow Push Installation API against a running `pushgate serve`: the seed's curl samples
install and remove the user's tokens, a push to the user reaches the fake providers, and the
dialect's operations, fuzzed while signed in, answer as documented."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.e2e.server import LiveServer, free_port, live_server

KEY_PATTERN = re.compile(r"pga_[A-Za-z0-9_-]{40,}")
APP = "ServiceNowPushApp"
USER, PASSWORD = "username", "password"
APPLE_TOKEN = "544836d77ac2e551bbf78204630509a7d494fc87f52e85da52e5b5d42910e2cf"
FCM_TOKEN = "fcm-token-of-username"
SANDBOX_TOKEN = "a1b2c3d5e6f70819"  # a development build, through the APNs sandbox
# Seed 000's two curl samples: path, --header, --user and --data, byte for byte.
INSTALL_PATH = "/api/now/push/ServiceNowPushApp/installation"
INSTALL_BODY = b'{"platform":"Apple","token":"' + APPLE_TOKEN.encode() + b'"}'
REMOVE_PATH = "/api/now/push/ServiceNowPushApp/removeInstallation"
REMOVE_BODY = b'{"platform":"Apple"}'


def curl(
    server: LiveServer, path: str, data: bytes, user: str = USER, password: str = PASSWORD
) -> tuple[int, bytes]:
    """What `curl -X POST URL --header "Content-Type: application/json" --user U:P --data D`
    sends; the status and the raw body."""
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - our own loopback server
        server.base_url + path,
        data=data,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Basic {credentials}",
            "Accept": "*/*",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def control(url: str, method: str = "GET") -> Any:
    request = urllib.request.Request(url, method=method)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        raw = response.read()
        return json.loads(raw) if raw else None


def push_to_user(server: LiveServer, admin: dict[str, str]) -> dict[str, Any]:
    """Send to the ServiceNow user through the native API; the notification once done."""
    status, sent = server.request(
        "POST",
        f"/v1/apps/{APP}/notifications",
        {"target": {"users": [USER]}, "notification": {"title": "Incident", "alert": "P1 opened"}},
        admin,
    )
    assert status in (200, 202), sent
    deadline = time.monotonic() + 30
    found: dict[str, Any] = {}
    while time.monotonic() < deadline:  # another process's progress: polled
        _, found = server.request(
            "GET", f"/v1/apps/{APP}/notifications/{sent['id']}", headers=admin
        )
        if found["state"] == "done":
            return found
        time.sleep(0.1)
    raise AssertionError(f"the notification is not done after 30 s: {found}")


def test_seed_samples_install_and_remove_tokens_that_the_fakes_then_receive(
    tmp_path: Path,
) -> None:
    fakes_port = free_port()
    fakes = f"http://127.0.0.1:{fakes_port}"
    with live_server(
        tmp_path / "data", {}, "--fake-providers", "--fakes-port", str(fakes_port)
    ) as server:
        admin = {"X-API-Key": KEY_PATTERN.findall(server.log.read_text())[0]}
        assert server.request("POST", "/v1/apps", {"name": APP}, admin)[0] == 201
        user = {"name": USER, "password": PASSWORD}
        assert server.request("POST", f"/v1/apps/{APP}/users", user, admin)[0] == 201

        assert curl(server, INSTALL_PATH, INSTALL_BODY) == (200, b"")
        android = json.dumps({"platform": "Android", "token": FCM_TOKEN}).encode()
        assert curl(server, "/api/now/v2/push/ServiceNowPushApp/installation", android) == (
            200,
            b"",
        )
        status, _ = server.request(
            "PUT", f"/v1/apps/{APP}/push-platforms/AppleDev", {"platform": "apns_internal"}, admin
        )
        assert status == 201
        sandbox = json.dumps({"platform": "AppleDev", "token": SANDBOX_TOKEN}).encode()
        assert curl(server, "/api/now/v1/push/ServiceNowPushApp/installation", sandbox) == (
            200,
            b"",
        )
        done = push_to_user(server, admin)
        assert done["counts"]["SENT"] == 3, done
        received = control(f"{fakes}/received")
        assert sorted((item["provider"], item["token"]) for item in received) == [
            ("apns", APPLE_TOKEN),
            ("apns", SANDBOX_TOKEN),
            ("fcm", FCM_TOKEN),
        ]
        apns = next(item for item in received if item["provider"] == "apns")
        assert apns["payload"]["aps"]["alert"] == {"title": "Incident", "body": "P1 opened"}

        assert curl(server, REMOVE_PATH, REMOVE_BODY) == (200, b"")
        control(f"{fakes}/received", "DELETE")
        done = push_to_user(server, admin)
        assert done["counts"]["SENT"] == 2, done  # the sandbox token is another platform name
        received = control(f"{fakes}/received")
        assert sorted(item["token"] for item in received) == sorted([SANDBOX_TOKEN, FCM_TOKEN])

        # A wrong password against the running server: ServiceNow's 401, nothing installed.
        status, body = curl(server, INSTALL_PATH, b'{"platform":"Apple","token":"x1"}',
                            password="wrong-password")  # fmt: skip
        assert status == 401
        assert json.loads(body) == {
            "error": {
                "message": "User Not Authenticated",
                "detail": "Required to provide Auth information",
            },
            "status": "failure",
        }
        _, listed = server.request("GET", f"/v1/apps/{APP}/registrations", headers=admin)
        tokens = sorted(r["token"] for r in listed["items"])
        assert tokens == sorted([APPLE_TOKEN, FCM_TOKEN, SANDBOX_TOKEN])


# Generated requests against a live server: a minute on a quiet machine, more while the
# suite's other worker loads the second core; pytest-timeout's default 120 s guards less.
@pytest.mark.timeout(300)
def test_every_servicenow_operation_answers_as_documented_when_signed_in(
    tmp_path: Path,
) -> None:
    """schemathesis on this dialect's operations as the app user (the native fuzz run has no
    user credentials, so it reaches only the 401s): no 5xx, every answer as documented."""
    with live_server(tmp_path / "data", {}) as server:
        admin = {"X-API-Key": KEY_PATTERN.findall(server.log.read_text())[0]}
        assert server.request("POST", "/v1/apps", {"name": APP}, admin)[0] == 201
        user = {"name": USER, "password": PASSWORD}
        assert server.request("POST", f"/v1/apps/{APP}/users", user, admin)[0] == 201
        credentials = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        signed_in = {"Authorization": f"Basic {credentials}"}
        api = schemathesis.openapi.from_url(server.base_url + "/openapi.json")
        operations = []
        for result in api.get_all_operations():
            assert isinstance(result, Ok), result
            if result.ok().path.startswith("/api/now/"):
                operations.append(result.ok())
        assert len(operations) == 4
        failures: list[str] = []
        answered: list[int] = []
        for operation in operations:

            @hypothesis.given(case=operation.as_strategy())
            @hypothesis.settings(
                max_examples=40,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(hypothesis.HealthCheck),
            )
            def check(case: Any) -> None:
                # Random application and platform names are unknown (400): name ours, and
                # for about half the bodies the app's Apple platform, so tokens get stored.
                case.path_parameters["pushApplicationName"] = APP
                body = case.body
                if isinstance(body, dict) and len(str(body.get("platform"))) % 2 == 0:
                    body["platform"] = "Apple"
                response = case.call_and_validate(
                    headers=signed_in, excluded_checks=[positive_data_acceptance]
                )
                answered.append(response.status_code)

            try:
                check()
            except Exception as exc:
                failures.append(f"{operation.label}: {exc}")
        assert not failures, "\n\n".join(failures)
        assert {200, 400} <= set(answered), sorted(set(answered))  # both paths were reached
