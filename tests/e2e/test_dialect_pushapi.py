"""The POST Push API (seed 001) against `pushgate serve --fake-providers`: the seed-shaped
body, in JSON and in XML, reaches the user's devices at the fake APNs and FCM."""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from defusedxml.ElementTree import fromstring

from tests.e2e.server import LiveServer, free_port, live_server
from tests.e2e.test_fake_providers import KEY_PATTERN, control

XSI = "http://www.w3.org/2001/XMLSchema-instance"
# Seed 001, "Request Body", "Sample JSON body", verbatim.
SEED_SAMPLE_BODY = b"""{
"UserId": "",
"UserEmail": "",
"UserExternalId": "",
"Title": "",
"Body": "",
"Sound": false,
"ExpirySecs": 0,
"CompanyId": 0,
"IntegrationKey": ""
}"""
ALICE = {"apns": "a1b2c3d4", "fcm": "fcm-token-alice"}
BOB_APNS = "b0b0b0b0"


class Deployment:
    def __init__(self, server: LiveServer, fakes: str) -> None:
        self.server = server
        self.fakes = fakes
        self.admin = {"X-API-Key": KEY_PATTERN.findall(server.log.read_text())[0]}
        self.company_id = 0
        self.key = ""

    def post(
        self, body: bytes, *, content_type: str | None, answer: str | None = None
    ) -> tuple[int, str, bytes]:
        """POST /api/v2/push with exactly these headers (urllib would add a Content-Type)."""
        url = urllib.parse.urlsplit(self.server.base_url)
        connection = http.client.HTTPConnection(url.netloc, timeout=30)
        headers = {"Content-Type": content_type} if content_type else {}
        query = f"?format={answer}" if answer else ""
        try:
            connection.request("POST", "/api/v2/push" + query, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read()
        finally:
            connection.close()

    def received(self, token: str) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({"token": token})
        found: list[dict[str, Any]] = control(f"{self.fakes}/received?{query}")
        return found

    def wait_received(self, token: str, count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # another process's progress: polled
            found = self.received(token)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        pytest.fail(f"the fakes did not receive {count} notification(s) for {token}")

    def seed_body(self, **fields: object) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(SEED_SAMPLE_BODY)
        body.update({"CompanyId": self.company_id, "IntegrationKey": self.key, **fields})
        return body


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """An app with users alice (iPhone and Android phone) and bob (iPhone), and a push key."""
    fakes_port = free_port()
    data_dir = tmp_path_factory.mktemp("pushapi") / "data"
    with live_server(data_dir, {}, "--fake-providers", "--fakes-port", str(fakes_port)) as server:
        live = Deployment(server, f"http://127.0.0.1:{fakes_port}")
        status, app = server.request("POST", "/v1/apps", {"name": "news"}, live.admin)
        assert status == 201, app
        status, key = server.request(
            "POST", "/v1/apps/news/keys", {"alias": "crm", "roles": ["push_single"]}, live.admin
        )
        assert status == 201, key
        live.company_id, live.key = app["company_id"], key["key"]
        for name, email in (("alice", "alice@example.com"), ("bob", "bob@example.com")):
            user = {"name": name, "email": email, "external_id": f"ext-{name}"}
            status, body = server.request("POST", "/v1/apps/news/users", user, live.admin)
            assert status == 201, body
        for platform, token, owner in (
            ("ios", ALICE["apns"], "alice"),
            ("android", ALICE["fcm"], "alice"),
            ("ios", BOB_APNS, "bob"),
        ):
            device = {"platform": platform, "token": token, "user": owner}
            status, body = server.request("POST", "/v1/apps/news/registrations", device, live.admin)
            assert status == 201, body
        yield live


def test_the_seed_sample_verbatim_is_refused_in_xml(deployment: Deployment) -> None:
    status, content_type, body = deployment.post(SEED_SAMPLE_BODY, content_type="application/json")
    assert status == 400, body
    assert content_type == "application/xml; charset=utf-8"
    root = fromstring(body)
    assert root.tag == "ErrorResponse"
    assert root.findtext("ResponseStatus/Errors/ResponseError/FieldName") == "UserId"


def test_a_json_body_reaches_alices_devices_at_the_fakes(deployment: Deployment) -> None:
    body = deployment.seed_body(
        UserId="alice", Title="Goal!", Body="2:1", Sound=True, ExpirySecs=3600
    )
    status, content_type, answer = deployment.post(
        json.dumps(body).encode(), content_type="application/json", answer="json"
    )
    assert status == 200, answer
    assert content_type == "application/json"
    sent = json.loads(answer)
    assert sent["UserId"] == "alice"
    assert sorted((d["Platform"], d["Status"], d["Code"]) for d in sent["Devices"]) == [
        ("apns", "SENT", 0),
        ("fcm", "SENT", 0),
    ]
    (apns,) = deployment.wait_received(ALICE["apns"], 1)
    assert apns["provider"] == "apns"
    assert apns["payload"]["aps"]["alert"] == {"title": "Goal!", "body": "2:1"}
    assert apns["payload"]["aps"]["sound"] == "default"
    assert apns["payload"]["ExpirySecs"] == "3600"
    expiration = int(apns["headers"]["apns-expiration"])
    assert 3500 < expiration - time.time() <= 3600
    (fcm,) = deployment.wait_received(ALICE["fcm"], 1)
    assert fcm["provider"] == "fcm"
    assert fcm["payload"]["notification"] == {"title": "Goal!", "body": "2:1"}
    assert fcm["payload"]["data"]["ExpirySecs"] == "3600"
    assert deployment.received(BOB_APNS) == []


@pytest.mark.parametrize("content_type", ["application/xml", None])
def test_an_xml_body_reaches_bobs_device(deployment: Deployment, content_type: str | None) -> None:
    before = len(deployment.received(BOB_APNS))
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<PushRequest xmlns:i="{XSI}">
  <UserId></UserId>
  <UserEmail>bob@example.com</UserEmail>
  <UserExternalId i:nil="true"/>
  <Title>Hello &amp; welcome</Title>
  <Body>from XML</Body>
  <Sound>false</Sound>
  <ExpirySecs>0</ExpirySecs>
  <CompanyId>{deployment.company_id}</CompanyId>
  <IntegrationKey>{deployment.key}</IntegrationKey>
</PushRequest>""".encode()
    status, answer_type, answer = deployment.post(body, content_type=content_type)
    assert status == 200, answer
    assert answer_type == "application/xml; charset=utf-8"
    root = fromstring(answer)
    assert (root.tag, root.findtext("UserId")) == ("PushResponse", "bob")
    assert re.fullmatch(r"[0-9a-f]{32}", root.findtext("NotificationId") or "")
    assert root.findtext("Devices/Device/Status") == "SENT"
    received = deployment.wait_received(BOB_APNS, before + 1)
    assert received[-1]["payload"]["aps"]["alert"] == {
        "title": "Hello & welcome",
        "body": "from XML",
    }
    assert "sound" not in received[-1]["payload"]["aps"]


def test_a_wrong_key_is_401_and_sends_nothing(deployment: Deployment) -> None:
    before = len(deployment.received(ALICE["apns"]))
    body = deployment.seed_body(UserId="alice", Body="hi", IntegrationKey="pgk_wrong")
    status, _, answer = deployment.post(
        json.dumps(body).encode(), content_type="application/json", answer="json"
    )
    assert status == 401, answer
    assert json.loads(answer)["ResponseStatus"]["ErrorCode"] == "Unauthenticated"
    assert len(deployment.received(ALICE["apns"])) == before
