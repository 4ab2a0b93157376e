"""Logs of a real `pushgate serve` at INFO: JSON lines with request, app, notification and job
ids, and none of the secrets, tokens or payloads that went through it.

Canaries (an admin key, an app key, a rejected key, provider secrets, a .p8 key, a user's
password, device tokens and a Web Push subscription, a notification's text and data, a
malformed body) are planted in a run that registers, imports, sends and fails; then the
whole log is searched for each of them.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import MASTER_KEY
from tests.e2e.server import LiveServer, free_port, live_server

CANARY = "canary" + secrets.token_hex(6)
ADMIN_KEY = f"pga_{CANARY}-admin"
ADMIN = {"X-API-Key": ADMIN_KEY}


def _call(server: LiveServer, method: str, path: str, body: Any = None, key: str = "") -> Any:
    status, answer = server.request(method, path, body, {"X-API-Key": key or ADMIN_KEY})
    assert status < 300, (method, path, status, answer)
    return answer


def _raw(url: str, data: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _plant(server: LiveServer, fakes: str) -> list[str]:
    """A run through the product with secrets in every place one can go; the secrets."""
    _call(server, "POST", "/v1/apps", {"name": "shop"})
    app_key = _call(
        server, "POST", "/v1/apps/shop/keys", {"alias": "ops", "roles": ["app_admin", "push_all"]}
    )["key"]
    wns_secret, sms_password = f"wns-{CANARY}-secret", f"sms-{CANARY}-password"
    _call(
        server,
        "PUT",
        "/v1/apps/shop/credentials/wns",
        {"client_id": "sid", "client_secret": wns_secret},
        app_key,
    )
    _call(
        server,
        "PUT",
        "/v1/apps/shop/credentials/sms",
        {
            "gateway_url": "https://93.184.215.14/sms",
            "auth_type": "basic",
            "username": "u",
            "password": sms_password,
            "sender": "+15550100",
        },
        app_key,
    )
    p8 = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _call(server, "POST", "/v1/apps", {"name": "apple"})
    _call(
        server,
        "PUT",
        "/v1/apps/apple/credentials/apns",
        {
            "key": p8.decode(),
            "key_id": "ABC123DEFG",
            "team_id": "TEAM123456",
            "topic": "com.example",
        },
    )
    password = f"pw-{CANARY}"
    _call(server, "POST", "/v1/apps/shop/users", {"name": "alice", "password": password})

    _call(server, "POST", "/v1/apps", {"name": "demo"})  # no credentials: the fakes get it
    live, dead = "ca" * 30 + CANARY[-4:], "dead" + CANARY[-6:] * 6
    ask = urllib.request.Request(f"{fakes}/webpush/subscriptions", data=b"{}", method="POST")  # noqa: S310
    with urllib.request.urlopen(ask, timeout=10) as answer:  # noqa: S310 - the fakes' control API
        subscription = json.loads(answer.read())
    endpoint, keys = subscription["endpoint"], subscription["keys"]
    for token in (live, dead):
        _call(
            server,
            "POST",
            "/v1/apps/demo/registrations",
            {"platform": "ios", "token": token, "user": "bob", "topics": ["news"]},
        )
    _call(
        server,
        "POST",
        "/v1/apps/demo/registrations/import",
        {
            "rows": [
                {
                    "platform": "webpush",
                    "token": endpoint,
                    "keys": keys,
                    "user": "bob",
                    "topics": ["news"],
                },
                {"platform": "pager", "token": f"import-{CANARY}"},
            ]
        },
    )
    alert, data = f"alert-{CANARY}", f"data-{CANARY}"
    sent = _call(
        server,
        "POST",
        "/v1/apps/demo/notifications",
        {"target": {"topics": ["news"]}, "notification": {"alert": alert, "data": {"k": data}}},
    )
    _call(
        server,
        "POST",
        "/v1/apps/demo/notifications",
        {"target": {"users": ["bob"]}, "notification": {"title": alert}},
    )
    deadline = time.monotonic() + 30
    while _call(server, "GET", f"/v1/apps/demo/notifications/{sent['id']}")["state"] != "done":
        assert time.monotonic() < deadline, "the broadcast did not finish in 30 s"
        time.sleep(0.1)  # another process's progress: polled with a deadline

    wrong = f"pga_{CANARY}-wrong"
    assert server.request("GET", "/v1/apps", headers={"X-API-Key": wrong})[0] == 401
    malformed = b'{"platform": "ios", "token": "body-' + CANARY.encode() + b'"'
    status = _raw(
        server.base_url + "/v1/apps/demo/registrations",
        malformed,
        {"X-API-Key": ADMIN_KEY, "Content-Type": "application/json"},
    )
    assert status == 400
    pem_line = p8.decode().splitlines()[1]
    return [
        ADMIN_KEY,
        app_key,
        wrong,
        wns_secret,
        sms_password,
        pem_line,
        password,
        live,
        dead,
        endpoint,
        keys["auth"],
        keys["p256dh"],
        alert,
        data,
        f"import-{CANARY}",
        f"body-{CANARY}",
        CANARY,
    ]


def test_logs_are_json_with_ids_and_never_show_a_secret(tmp_path: Path) -> None:
    fakes_port = free_port()
    env = {
        "PUSHGATE_ADMIN_KEY": ADMIN_KEY,
        "PUSHGATE_MASTER_KEY": MASTER_KEY,
        "PUSHGATE_LOG_LEVEL": "INFO",
    }
    args = ("--fake-providers", "--fakes-port", str(fakes_port))
    with live_server(tmp_path / "data", env, *args) as server:
        planted = _plant(server, f"http://127.0.0.1:{fakes_port}")
    log = server.log.read_text()
    leaked = [canary for canary in planted if canary in log]
    assert not leaked, f"in the log: {leaked}"

    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert lines, log[-2000:]
    for line in lines:
        assert {"event", "level", "timestamp", "logger"} <= line.keys(), line
    access = [line for line in lines if line["logger"] == "pushgate.access"]
    assert access
    assert all(
        line["request_id"] and "{" in line["route"]
        for line in access
        if line["route"] != "unmatched" and line["route"].count("/") > 2
    )
    accepted = [line for line in lines if line["event"] == "notification accepted"]
    assert accepted
    assert {line["app"] for line in accepted} == {"demo"}
    request_ids = {line["request_id"] for line in access}
    assert all(line["request_id"] in request_ids for line in accepted)
    jobs = [line for line in lines if line["event"] == "job done"]
    assert jobs
    assert all(line["job"] and line["notification"] for line in jobs)
