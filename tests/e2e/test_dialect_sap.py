"""SAP Mobile Services against a running `pushgate serve --fake-providers`: every request
example of seed 002 through the service-key URL (${PUSH_URL} with its instance path), the
documented answers, what the fake providers received, localization, a dead token, a status
from QUEUED to SENT to CONFIRMED; X.509 over pushgate's own TLS; and the dialect's
operations fuzzed with a service key and as an app user."""

from __future__ import annotations

import base64
import json
import os
import re
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
import trustme
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.e2e.server import LiveServer, free_port, live_server
from tests.integration.dialects.sap import samples
from tests.integration.dialects.sap.samples import SERVICE_PATH, Curl

KEY_PATTERN = re.compile(r"pga_[A-Za-z0-9_-]{40,}")
PASSWORD = "correct horse battery"
RUNTIME = "/mobileservices/push/v1/runtime/applications/news/os/{os}/devices/{device}"
ENV = {"PUSHGATE_SAP_SERVICE_PATHS": json.dumps([SERVICE_PATH])}


def call(
    base_url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 - our own loopback server
        base_url + path, data=body, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=15, context=context) as response:  # noqa: S310
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None


def curl(server: LiveServer, sample: Curl, key: str, **placeholders: str) -> tuple[int, Any]:
    """The sample's curl command against ${PUSH_URL} = the server + the instance path."""
    return call(
        server.base_url,
        sample.method,
        sample.path(**placeholders),
        sample.body,
        samples.curl_headers(key, body=sample.body is not None),
    )


def basic(user: str, password: str = PASSWORD) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}", "Content-Type": "application/json"}


def control(url: str, method: str = "GET") -> Any:
    request = urllib.request.Request(url, method=method)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        raw = response.read()
        return json.loads(raw) if raw else None


def register(server: LiveServer, user: str, device: str, token: str, **fields: Any) -> str:
    payload = {**json.loads(samples.REGISTRATION_PAYLOAD), "pushToken": token, **fields}
    os_name = payload.pop("os", "ios")
    status, body = call(
        server.base_url,
        "POST",
        SERVICE_PATH + RUNTIME.format(os=os_name, device=device),
        json.dumps(payload).encode(),
        basic(user),
    )
    assert status == 201, body
    registration_id: str = body["id"]
    return registration_id


def wait_until(what: str, condition: Any) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # another process's progress: polled
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def setup_app(server: LiveServer) -> tuple[dict[str, str], str]:
    """The app "news", a service key with every role, and users user1, other, dead."""
    admin = {"X-API-Key": KEY_PATTERN.findall(server.log.read_text())[0]}
    assert server.request("POST", "/v1/apps", {"name": "news"}, admin)[0] == 201
    roles = ["push_single", "push_multiple", "push_all", "pushregistrations_read"]
    status, key = server.request(
        "POST", "/v1/apps/news/keys", {"alias": "backend", "roles": roles}, admin
    )
    assert status == 201, key
    for name, uuid in (("user1", None), ("other", "userUUIDs1"), ("dead", "global-user-id")):
        body = {"name": name, "password": PASSWORD, "user_uuid": uuid}
        assert server.request("POST", "/v1/apps/news/users", body, admin)[0] == 201
    return admin, str(key["key"])


def check_push_samples(server: LiveServer, key: str, fakes: str) -> None:
    register(server, "user1", "device-1", "a1b2c3d4", userLocale="de-DE-bay")
    register(server, "other", "device-2", "fcm-other", os="android", userLocale="de-CH")
    status, body = curl(server, samples.PUSH_TO_DEVICE, key, username="user1", deviceId="device-1")
    assert status == 200, body
    assert body["status"] is None
    assert [(r["code"], r["message"]) for r in body["pushResults"]] == [(0, "success")]
    http_path = samples.PUSH_TO_DEVICE_HTTP_PATH.format(
        applicationId="any", username="other", deviceId="device-2"
    )
    status, body = call(
        server.base_url,
        "POST",
        SERVICE_PATH + http_path,
        samples.PUSH_TO_DEVICE_HTTP_BODY,
        samples.curl_headers(key),
    )
    assert status == 200, body
    fcm = control(f"{fakes}/received?provider=fcm")[-1]["payload"]
    assert fcm["android"]["ttl"] == "123456s"
    assert fcm["data"]["alert"] == "Hello World"
    control(f"{fakes}/received", "DELETE")
    for sample in (samples.PUSH_TO_USERS, samples.BULK_PUSH):
        status, body = curl(server, sample, key)
        assert status == 200, (sample.url, body)
        assert {r["code"] for r in body["pushResults"]} == {0}, body
    alerts = wait_until("both pushes", lambda: _alerts(fakes, 3))
    # users: user1 by name (de-DE-bay) and other by global user id (de-CH): both fall back to
    # "de"; bulk: user1's own alert.
    assert sorted(alerts) == ["Guten Tag!", "Guten Tag!", "user alert"]
    status, body = curl(server, samples.PUSH_TO_TOPIC_CURL_EXE, key)
    assert status == 400
    assert body["status"]["notification"].startswith(
        "the body is not valid JSON: Expecting property name enclosed in double quotes"
    )
    status, body = curl(server, samples.PUSH_TO_TOPIC, key)
    assert status == 404, body  # nobody subscribed to topic1 yet
    status, topics = call(
        server.base_url,
        "PUT",
        RUNTIME.format(os="ios", device="device-1") + "/topics/topic1",
        None,
        basic("user1"),
    )
    assert (status, topics) == (200, {"topics": ["topic1"]})
    status, body = curl(server, samples.PUSH_TO_TOPIC, key)
    assert status == 200, body
    for sample, places in (
        (samples.PUSH_TO_APPLICATION, {}),
        (samples.PUSH_TO_GROUP, {"group": "all"}),
        (samples.PUSH_TO_CAPABILITY, {"capability": "capability1"}),
    ):
        status, body = curl(server, sample, key, **places)
        assert status == 200, (sample.url, body)
        assert body["status"] is None, body
        assert body["pushResults"], body


def _alerts(fakes: str, count: int) -> list[str] | None:
    received = control(f"{fakes}/received")
    if len(received) < count:
        return None
    alerts = []
    for item in received:
        payload = item["payload"]
        if item["provider"] == "apns":
            alerts.append(payload["aps"]["alert"])
        else:
            alerts.append(payload["notification"]["body"])
    return alerts


def check_status_and_dead_token(server: LiveServer, key: str) -> None:
    register(server, "dead", "device-3", "4290abcd")  # the fake answers 429 once
    status, body = curl(server, samples.PUSH_TO_DEVICE, key, username="dead", deviceId="device-3")
    assert status == 202, body
    (result,) = body["pushResults"]
    nid = result["notificationId"]
    status, state = curl(server, samples.NOTIFICATION_STATUS, key, notificationId=nid)
    assert status == 200, state
    assert state["statusDetails"]["status"] == "QUEUED"

    def sent() -> bool:
        _, found = curl(server, samples.NOTIFICATION_STATUS, key, notificationId=nid)
        return bool(found["statusDetails"]["status"] == "SENT")

    wait_until("the retry", sent)
    report = json.dumps({"status": "CONFIRMED"}).encode()
    path = f"/mobileservices/push/v1/runtime/applications/news/notifications/{nid}/status"
    status, body = call(server.base_url, "PUT", SERVICE_PATH + path, report, basic("dead"))
    assert status == 200, body
    _, state = curl(server, samples.NOTIFICATION_STATUS, key, notificationId=nid)
    assert state["statusDetails"]["status"] == "CONFIRMED"
    assert state["statusDetails"]["providerReference"]  # the apns-id the fake answered
    dead = register(server, "dead", "device-4", "dead0001")
    status, body = curl(server, samples.PUSH_TO_DEVICE, key, username="dead", deviceId="device-4")
    assert status == 422, body
    (result,) = body["pushResults"]
    assert (result["target"], result["code"]) == (dead, 6)
    assert result["message"] == "The device token was rejected by APNs: Unregistered"
    status, _ = curl(server, samples.REGISTRATION, key, registrationId=dead)
    assert status == 404  # deactivated


def check_registration_queries(server: LiveServer, key: str) -> None:
    status, by_user = curl(server, samples.REGISTRATIONS_BY_USER, key, username="user1")
    assert status == 200, by_user
    (found,) = by_user["value"]
    assert found["username"] == "user1"
    assert found["userLocale"] == "de-DE-bay"
    status, one = curl(server, samples.REGISTRATION, key, registrationId=found["id"])
    assert (status, one) == (200, found)
    status, by_group = curl(server, samples.REGISTRATIONS_BY_GROUP, key, group="all")
    assert status == 200
    assert {r["username"] for r in by_group["value"]} == {"user1", "other", "dead"}


def test_every_seed_example_against_the_fake_providers(tmp_path: Path) -> None:
    fakes_port = free_port()
    fakes = f"http://127.0.0.1:{fakes_port}"
    with live_server(
        tmp_path / "data", ENV, "--fake-providers", "--fakes-port", str(fakes_port)
    ) as server:
        _, key = setup_app(server)
        check_push_samples(server, key, fakes)
        check_status_and_dead_token(server, key)
        check_registration_queries(server, key)


@contextmanager
def tls_server(data_dir: Path, ca: trustme.CA) -> Iterator[tuple[str, Path]]:
    """`pushgate serve --tls-cert --tls-key --tls-client-ca` on a free port."""
    data_dir.mkdir()
    files = data_dir.parent
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(files / "server.pem")
    )
    ca.cert_pem.write_to_path(str(files / "ca.pem"))
    port = free_port()
    log = files / "tls-serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSHGATE_")}
    env["PUSHGATE_DATA_DIR"] = str(data_dir)
    pem = str(files / "server.pem")
    command = [
        sys.executable,
        "-m",
        "pushgate.cli",
        "serve",
        "--port",
        str(port),
        "--tls-cert",
        pem,
        "--tls-key",
        pem,
        "--tls-client-ca",
        str(files / "ca.pem"),
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)  # noqa: S603
    base_url = f"https://127.0.0.1:{port}"
    context = ssl.create_default_context()
    ca.configure_trust(context)
    try:
        wait_until("the TLS server", lambda: _ready(base_url, context, process, log))
        yield base_url, log
    finally:
        process.terminate()
        process.wait(timeout=20)


def _ready(base_url: str, context: ssl.SSLContext, process: Any, log: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"pushgate serve exited:\n{log.read_text()[-3000:]}")
    try:
        return call(base_url, "GET", "/readyz", context=context)[0] == 200
    except OSError:
        return False


def test_x509_service_key_over_pushgates_own_tls(tmp_path: Path) -> None:
    ca = trustme.CA()
    with tls_server(tmp_path / "data", ca) as (base_url, log):
        context = ssl.create_default_context()
        ca.configure_trust(context)
        admin = {
            "X-API-Key": KEY_PATTERN.findall(log.read_text())[0],
            "Content-Type": "application/json",
        }
        assert call(base_url, "POST", "/v1/apps", b'{"name": "news"}', admin, context)[0] == 201
        key = json.dumps({"alias": "backend", "roles": ["pushregistrations_read"]}).encode()
        assert call(base_url, "POST", "/v1/apps/news/keys", key, admin, context)[0] == 201
        client = ca.issue_cert("backend@news")
        pem = client.cert_chain_pems[0].bytes().decode()
        status, _ = call(
            base_url,
            "PUT",
            "/v1/apps/news/keys/backend/certificate",
            json.dumps({"certificate": pem}).encode(),
            admin,
            context,
        )
        assert status == 200
        path = "/mobileservices/push/v2/backend/registrations"
        assert call(base_url, "GET", path, context=context)[0] == 401
        client.configure_cert(context)
        assert call(base_url, "GET", path, context=context) == (200, {"value": []})


def _fuzz(server: LiveServer, prefix: str, headers: dict[str, str], app: str | None) -> list[int]:
    api = schemathesis.openapi.from_url(server.base_url + "/openapi.json")
    operations = []
    for result in api.get_all_operations():
        assert isinstance(result, Ok), result
        if result.ok().path.startswith(prefix):
            operations.append(result.ok())
    assert operations
    failures: list[str] = []
    answered: list[int] = []
    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=15,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        def check(case: Any) -> None:
            parameters = case.path_parameters or {}
            if app is not None and "applicationId" in parameters:
                # Random app, os and device names are 404 and 400: name ours, and for
                # about half the cases the registered device.
                parameters["applicationId"] = app
                if "os" in parameters:
                    parameters["os"] = "ios"
                if len(str(parameters.get("deviceId"))) % 2 == 0:
                    parameters["deviceId"] = "device-1"
            response = case.call_and_validate(
                headers=headers, excluded_checks=[positive_data_acceptance]
            )
            answered.append(response.status_code)

        try:
            check()
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
    return answered


# Generated requests against a live server: a minute on a quiet machine, more while the
# suite's other worker loads the second core; pytest-timeout's default 120 s guards less.
@pytest.mark.timeout(300)
def test_every_sap_operation_answers_as_documented_with_credentials(tmp_path: Path) -> None:
    """The native fuzz run has only the admin key; here a service key of the app and an app
    user: no 5xx, every answer as documented."""
    with live_server(tmp_path / "data", ENV) as server:
        _, key = setup_app(server)
        register(server, "user1", "device-1", "a1b2c3d4")
        backend = _fuzz(server, "/mobileservices/push/v", {"X-API-Key": key}, None)
        assert {200, 400} <= set(backend), sorted(set(backend))
        runtime = _fuzz(server, "/mobileservices/push/v1/runtime/", basic("user1"), "news")
        assert {200, 400, 404} <= set(runtime), sorted(set(runtime))
