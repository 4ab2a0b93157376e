"""Discord-style device registration against `pushgate serve --fake-providers`.

Devices register through the dialect as their signed-in users (one synced to a second
account); sends to those users through the native API arrive at the fake APNs and FCM with
the registered tokens.
"""

from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.e2e.server import LiveServer, free_port, live_server
from tests.e2e.test_fake_providers import KEY_PATTERN, control

SEED_EXAMPLE = "ODUyODkyMjk3NjYxOTA2OTkz.ZfoufA.rHvCtpfHjr9kdRab1ZTl83PRhhZ"


def _user(server: LiveServer, admin: dict[str, str], name: str) -> dict[str, str]:
    """Create the user; the Authorization header its device sends (the bare token)."""
    status, body = server.request("POST", "/v1/apps/news/users", {"name": name}, admin)
    assert status == 201, body
    status, body = server.request("POST", f"/v1/apps/news/users/{name}/tokens", {}, admin)
    assert status == 201, body
    return {"Authorization": body["token"]}


def _send_and_wait(server: LiveServer, admin: dict[str, str], users: list[str]) -> dict[str, Any]:
    status, sent = server.request(
        "POST",
        "/v1/apps/news/notifications",
        {"target": {"users": users}, "notification": {"alert": "Incoming call"}},
        admin,
    )
    assert status in (200, 202), sent
    deadline = time.monotonic() + 30
    found: dict[str, Any] = {}
    while time.monotonic() < deadline:  # another process's progress: polled
        _, found = server.request("GET", f"/v1/apps/news/notifications/{sent['id']}",
                                  headers=admin)  # fmt: skip
        if found["state"] == "done":
            return found
        time.sleep(0.1)
    raise AssertionError(f"notification not done in 30 s: {found}")


def _received(fakes: str) -> list[tuple[str, str, str | None]]:
    """What the fakes accepted since the last call: (provider, token, apns-push-type)."""
    items = control(f"{fakes}/received")
    forget = urllib.request.Request(f"{fakes}/received", method="DELETE")  # noqa: S310
    with urllib.request.urlopen(forget, timeout=10):  # noqa: S310 - the fakes, on loopback
        pass
    return sorted((i["provider"], i["token"], i["headers"].get("apns-push-type")) for i in items)


def test_devices_registered_and_synced_through_the_dialect_get_the_users_pushes(
    tmp_path: Path,
) -> None:
    fakes_port = free_port()
    with live_server(
        tmp_path / "data", {}, "--fake-providers", "--fakes-port", str(fakes_port)
    ) as server:
        admin = {"X-API-Key": KEY_PATTERN.findall(server.log.read_text())[0]}
        fakes = f"http://127.0.0.1:{fakes_port}"
        assert server.request("POST", "/v1/apps", {"name": "news"}, admin)[0] == 201
        alice, bob, carol = (_user(server, admin, n) for n in ("alice", "bob", "carol"))
        # The seed's fields; APNs tokens are hex, as the fake (and Apple) require.
        status, body = server.request(
            "POST",
            "/users/@me/devices",
            {"provider": "apns", "token": "a1b2c3d4", "voip_provider": "apns_voip",
             "voip_token": "e5f6a7b8"},
            alice,
        )  # fmt: skip
        assert (status, body) == (204, None)
        status, _ = server.request(
            "POST", "/api/v10/users/@me/devices", {"provider": "gcm", "token": "fcm-bob"}, bob
        )
        assert status == 204
        status, body = server.request("GET", "/users/@me/devices/sync-token", headers=carol)
        assert status == 200
        assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", body["token"]), body
        status, synced = server.request(
            "PUT",
            "/users/@me/devices/sync",
            {"provider": "apns", "token": "a1b2c3d4",
             "push_sync_tokens": [body["token"], SEED_EXAMPLE]},
            alice,
        )  # fmt: skip
        assert (status, synced) == (200, {"invalid_push_sync_tokens": [SEED_EXAMPLE]})

        done = _send_and_wait(server, admin, ["alice", "bob"])
        assert done["counts"]["SENT"] == 3, done
        assert _received(fakes) == [
            ("apns", "a1b2c3d4", "alert"),
            ("apns", "e5f6a7b8", "voip"),
            ("fcm", "fcm-bob", None),
        ]
        # carol is signed in on alice's phone: the synced token receives her pushes.
        done = _send_and_wait(server, admin, ["carol"])
        assert done["counts"]["SENT"] == 1, done
        assert _received(fakes) == [("apns", "a1b2c3d4", "alert")]

        status, _ = server.request(
            "DELETE", "/users/@me/devices", {"provider": "gcm", "token": "fcm-bob"}, bob
        )
        assert status == 204
        status, refused = server.request("POST", "/users/@me/devices", {"provider": "fcm"}, bob)
        assert (status, refused["code"]) == (400, 50035), refused
        assert set(refused["errors"]) == {"provider", "token"}
        status, refused = server.request("GET", "/users/@me/devices/sync-token")
        assert (status, refused) == (401, {"code": 0, "message": "401: Unauthorized"})
        done = _send_and_wait(server, admin, ["bob"])
        assert done["counts"].get("SENT", 0) == 0, done
        assert _received(fakes) == []
