"""MobileFirst Push Service API against a running `pushgate serve --fake-providers`: a
confidential client's token, the seed's examples, a tag message reaching exactly the
subscribed devices at the fake providers, an SMS at the fake gateway, a webhook receiver
getting signed events (one retry), and every operation fuzzed with the admin's bearer."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import hypothesis
import pytest
import schemathesis
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance

from pushgate.domain.webhooks import verify
from tests.e2e.server import LiveServer, free_port, live_server

KEY_PATTERN = re.compile(r"pga_[A-Za-z0-9_-]{40,}")
APP = "myapp"
V1 = "/imfpush/v1"
APPLE_1 = "a1" * 32
APPLE_2 = "b2" * 32
FCM_1 = "fcm-token-gold"
PHONE = "+15550001234"


def call(
    server: LiveServer, method: str, path: str, token: str, body: Any = None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(  # noqa: S310 - our own loopback server
        server.base_url + path, data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None


def control(url: str, method: str = "GET") -> Any:
    request = urllib.request.Request(url, method=method)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        raw = response.read()
        return json.loads(raw) if raw else None


def client_token(server: LiveServer, admin: dict[str, str], scopes: list[str]) -> str:
    status, created = server.request("POST", f"/v1/apps/{APP}/clients", {"scopes": scopes}, admin)
    assert status == 201, created
    pair = f"{created['client_id']}:{created['client_secret']}".encode()
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "scope": " ".join([*scopes, f"push.application.{APP}"]),
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback
        server.base_url + "/mfp/api/az/v1/token",
        data=form,
        method="POST",
        headers={
            "Authorization": "Basic " + base64.b64encode(pair).decode(),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        token: str = json.loads(response.read())["access_token"]
        return token


def wait_done(server: LiveServer, token: str, message_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    found: dict[str, Any] = {}
    while time.monotonic() < deadline:  # another process's progress: polled
        _, found = call(server, "GET", f"{V1}/apps/{APP}/messages/{message_id}", token)
        if found.get("state") == "done":
            return found
        time.sleep(0.1)
    raise AssertionError(f"message not done after 30 s: {found}")


def test_tag_and_sms_messages_reach_exactly_their_devices_at_the_fakes(tmp_path: Path) -> None:
    fakes_port = free_port()
    fakes = f"http://127.0.0.1:{fakes_port}"
    with live_server(
        tmp_path / "data", {}, "--fake-providers", "--fakes-port", str(fakes_port)
    ) as server:
        admin_key = KEY_PATTERN.findall(server.log.read_text())[0]
        status, _ = call(server, "POST", f"{V1}/apps", admin_key, {"applicationId": APP})
        assert status == 201
        token = client_token(server, {"X-API-Key": admin_key},
                             ["devices.write", "messages.write", "settings.write"])  # fmt: skip
        devices = f"{V1}/apps/{APP}/devices"
        # The seed's example body: its token "xyz" is accepted here, refused by APNs later.
        seed = {
            "deviceId": "12345-6789",
            "phoneNumber": "123456789",
            "platform": "A",
            "token": "xyz",
        }
        assert call(server, "POST", devices, token, seed)[0] == 201
        for device_id, platform, device_token, phone in (
            ("ios-gold", "A", APPLE_1, PHONE),
            ("android-gold", "G", FCM_1, None),
            ("ios-plain", "A", APPLE_2, "+15550009999"),
        ):
            body = {"deviceId": device_id, "platform": platform, "token": device_token}
            if phone:
                body["phoneNumber"] = phone
            assert call(server, "POST", devices, token, body)[0] == 201
        for device_id in ("ios-gold", "android-gold"):
            subscription = {"deviceId": device_id, "tagName": "Gold"}
            assert (
                call(server, "POST", f"{V1}/apps/{APP}/subscriptions", token, subscription)[0]
                == 201
            )

        gold = {"message": {"alert": "Gold offer"}, "target": {"tagNames": ["Gold"]}}
        status, sent = call(server, "POST", f"{V1}/apps/{APP}/messages", token, gold)
        assert status == 202, sent
        assert wait_done(server, token, sent["messageId"])["counts"]["SENT"] == 2
        received = control(f"{fakes}/received")
        assert sorted((r["provider"], r["token"]) for r in received) == [
            ("apns", APPLE_1),
            ("fcm", FCM_1),
        ]

        # notificationType 2: an SMS, through the app's smsConf pointed at the fake gateway.
        fakes_file = json.loads((tmp_path / "data" / "fakes" / "fakes.json").read_text())
        sms_url = urllib.parse.urlsplit(fakes_file["endpoints"]["sms"])
        conf = {"host": f"https://{sms_url.hostname}", "port": str(sms_url.port),
                "programName": "/generic", "name": "fake",
                "parameters": [{"name": "to", "value": "$(to)", "encode": "true"},
                               {"name": "text", "value": "$(text)", "encode": "true"},
                               {"name": "from", "value": "+15550000000"}]}  # fmt: skip
        assert call(server, "PUT", f"{V1}/apps/{APP}/settings/smsConf", token, conf)[0] == 200
        control(f"{fakes}/received", "DELETE")
        status, sms = call(server, "POST", f"{V1}/apps/{APP}/messages", token,
                           {"message": {"alert": "Your code is 4711"}, "notificationType": 2,
                            "target": {"deviceIds": ["ios-gold"]}})  # fmt: skip
        assert status == 202, sms
        assert wait_done(server, token, sms["messageId"])["counts"]["SENT"] == 1
        (text,) = control(f"{fakes}/received")
        assert (text["provider"], text["token"]) == ("sms", PHONE)
        assert "Your code is 4711" in json.dumps(text)


class _Receiver(BaseHTTPRequestHandler):
    """Fails the first POST with 500, then accepts; records every request."""

    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        type(self).received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(500 if len(type(self).received) == 1 else 204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@contextmanager
def receiver() -> Iterator[str]:
    _Receiver.received = []
    http = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_address[1]}/mfp-hook"
    finally:
        http.shutdown()
        http.server_close()


def test_a_webhook_receiver_gets_signed_events_with_a_retry(tmp_path: Path) -> None:
    with receiver() as url, live_server(tmp_path / "data", {}, "--fake-providers",
                                        "--fakes-port", str(free_port())) as server:  # fmt: skip
        admin_key = KEY_PATTERN.findall(server.log.read_text())[0]
        assert call(server, "POST", f"{V1}/apps", admin_key, {"applicationId": APP})[0] == 201
        hook = {"name": "SampleWebhook", "url": url, "eventTypes": "onDeviceRegister,onSubscribe"}
        status, created = call(server, "POST", f"{V1}/apps/{APP}/webhooks", admin_key, hook)
        assert status == 201, created
        body = {"deviceId": "d-1", "platform": "G", "token": "fcm-1"}
        assert call(server, "POST", f"{V1}/apps/{APP}/devices", admin_key, body)[0] == 201
        subscription = {"deviceId": "d-1", "tagName": "news"}
        assert (
            call(server, "POST", f"{V1}/apps/{APP}/subscriptions", admin_key, subscription)[0]
            == 201
        )
        deadline = time.monotonic() + 30
        while len(_Receiver.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)  # the server's sender, another process: polled
    received = _Receiver.received
    assert len(received) == 3, received
    kinds = [json.loads(raw)["kind"] for _, raw in received]
    assert kinds == ["device.registered", "device.registered", "device.subscribed"]
    assert received[0][1] == received[1][1]  # the failed event again, unchanged
    for headers, raw in received:
        timestamp = int(headers["x-pushgate-timestamp"])
        assert verify(created["secret"], timestamp, raw, headers["x-pushgate-signature"])


# Generated requests against a live server: a minute on a quiet machine, more while the
# suite's other worker loads the second core; pytest-timeout's default 120 s guards less.
@pytest.mark.timeout(300)
def test_every_mobilefirst_operation_answers_as_documented(tmp_path: Path) -> None:
    """schemathesis on the dialect's operations with the admin key as bearer: no 5xx, every
    answer as documented (the native fuzz run sends no bearer, so it reaches only 401s)."""
    with live_server(tmp_path / "data", {}) as server:
        admin_key = KEY_PATTERN.findall(server.log.read_text())[0]
        assert call(server, "POST", f"{V1}/apps", admin_key, {"applicationId": APP})[0] == 201
        device = {"deviceId": "d-1", "platform": "G", "token": "fcm-1"}
        assert call(server, "POST", f"{V1}/apps/{APP}/devices", admin_key, device)[0] == 201
        api = schemathesis.openapi.from_url(server.base_url + "/openapi.json")
        operations = []
        for result in api.get_all_operations():
            assert isinstance(result, Ok), result
            if result.ok().path.startswith(V1):
                operations.append(result.ok())
        assert len(operations) >= 40
        failures: list[str] = []
        answered: set[int] = set()
        for operation in operations:

            @hypothesis.given(case=operation.as_strategy())
            @hypothesis.settings(
                max_examples=12,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(hypothesis.HealthCheck),
            )
            def check(case: Any) -> None:
                # Mostly our app, sometimes a random one.
                params = case.path_parameters or {}
                if "applicationId" in params and len(str(case.body)) % 3:
                    params["applicationId"] = APP
                response = case.call_and_validate(
                    headers={"Authorization": f"Bearer {admin_key}"},
                    excluded_checks=[positive_data_acceptance],
                )
                answered.add(response.status_code)

            try:
                check()
            except Exception as exc:
                failures.append(f"{operation.label}: {exc}")
        assert not failures, "\n\n".join(failures)
        assert {200, 400, 404} <= answered, sorted(answered)
