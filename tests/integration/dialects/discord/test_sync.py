"""Sync tokens, and one device token synced to several accounts: sends to each reach it."""

from __future__ import annotations

import base64
import re

import httpx
import pytest

from pushgate.domain.platforms import Platform
from pushgate.http.deps import Runtime
from pushgate.providers.recording import Recorder
from pushgate.store.uow import unit_of_work
from tests.conftest import FixedClock
from tests.integration.api.helpers import ADMIN, make_app
from tests.integration.delivery.conftest import send
from tests.integration.dialects.discord.conftest import Users, make_user
from tests.integration.dialects.discord.test_devices import DEVICES, auth, registrations

pytestmark = pytest.mark.anyio

SEED_EXAMPLE = "ODUyODkyMjk3NjYxOTA2OTkz.ZfoufA.rHvCtpfHjr9kdRab1ZTl83PRhhZ"
SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
DEVICE = {"provider": "gcm", "token": "fcm-shared"}


async def sync_token(client: httpx.AsyncClient, user_token: str) -> str:
    response = await client.get(DEVICES + "/sync-token", headers=auth(user_token))
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"token"}
    token: str = response.json()["token"]
    return token


async def sync(client: httpx.AsyncClient, user_token: str, *tokens: str) -> list[str]:
    body = {**DEVICE, "push_sync_tokens": list(tokens)}
    response = await client.put(DEVICES + "/sync", json=body, headers=auth(user_token))
    assert response.status_code == 200, response.text
    invalid: list[str] = response.json()["invalid_push_sync_tokens"]
    return invalid


async def reached(client: httpx.AsyncClient, recorder: Recorder, user: str) -> list[str]:
    """The tokens a send to `user` reaches (delivered inline, the target is small)."""
    recorder.accepted.clear()
    response = await send(client, ADMIN, {"users": [user]})
    assert response.status_code in (200, 202), response.text
    return sorted(recorder.tokens())


async def synced_accounts(runtime: Runtime) -> list[str]:
    """The accounts the shared FCM token is synced to, besides its owner."""
    async with unit_of_work(runtime.db, readonly=True) as uow:
        app = await uow.apps.get_by_name("news")
        assert app is not None
        found = await uow.registration_accounts.device(app.id, Platform.FCM, DEVICE["token"])
        return await uow.registration_accounts.names(found[0]) if found else []


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def test_a_sync_token_names_the_user_and_its_issue_time(
    client: httpx.AsyncClient, users: Users, clock: FixedClock
) -> None:
    token = await sync_token(client, users.alice)
    assert SHAPE.match(token), token  # the seed's <id>.<time>.<mac>
    user_part, time_part, _ = token.split(".")
    assert unb64(user_part).decode().isdigit()
    assert int.from_bytes(unb64(time_part), "big") == int(clock.now.timestamp())
    assert "alice" not in token


async def test_sync_reaches_every_valid_account_and_reports_the_others(
    client: httpx.AsyncClient, users: Users, clock: FixedClock, recorder: Recorder,
    runtime: Runtime,
) -> None:  # fmt: skip
    expired = await sync_token(client, users.carol)
    clock.advance(7 * 86400 + 1)
    bob, carol = await sync_token(client, users.bob), await sync_token(client, users.carol)
    user_part, time_part, mac = bob.split(".")
    forged = f"{user_part}.{time_part}.{mac[:-2]}AA"
    carol_id = carol.split(".")[0]
    impersonating = f"{carol_id}.{time_part}.{mac}"  # bob's MAC on carol's id
    await make_app(client, "other")
    other_app = await sync_token(client, await make_user(client, "other", "bob"))
    invalid = [SEED_EXAMPLE, "not-a-token", "a.b.c", forged, impersonating, expired, other_app]
    reported = await sync(client, users.alice, bob, *invalid, carol, bob, "not-a-token")
    assert reported == invalid  # in the order given, each once
    assert await synced_accounts(runtime) == ["bob", "carol"]
    found = await registrations(client)
    assert [(r["token"], r["user"]) for r in found] == [("fcm-shared", "alice")]
    for user in ("alice", "bob", "carol"):
        assert await reached(client, recorder, user) == ["fcm-shared"], user


async def test_a_new_sync_drops_accounts_no_longer_listed(
    client: httpx.AsyncClient, users: Users, recorder: Recorder, runtime: Runtime
) -> None:
    bob, carol = await sync_token(client, users.bob), await sync_token(client, users.carol)
    assert await sync(client, users.alice, bob, carol) == []
    own = await sync_token(client, users.alice)
    assert await sync(client, users.alice, carol, own) == []  # its own token: no extra row
    assert await synced_accounts(runtime) == ["carol"]
    assert await reached(client, recorder, "bob") == []
    assert await reached(client, recorder, "carol") == ["fcm-shared"]
    assert await sync(client, users.alice) == []
    assert await synced_accounts(runtime) == []
    assert await reached(client, recorder, "carol") == []
    assert await reached(client, recorder, "alice") == ["fcm-shared"]


async def test_a_deleted_users_sync_token_is_invalid(
    client: httpx.AsyncClient, users: Users, runtime: Runtime
) -> None:
    carol = await sync_token(client, users.carol)
    assert (await client.delete("/v1/apps/news/users/carol", headers=ADMIN)).status_code == 204
    assert await sync(client, users.alice, carol) == [carol]
    assert await synced_accounts(runtime) == []


async def test_a_token_that_moves_to_another_user_leaves_its_synced_accounts(
    client: httpx.AsyncClient, users: Users, recorder: Recorder, runtime: Runtime
) -> None:
    assert await sync(client, users.alice, await sync_token(client, users.carol)) == []
    # The same owner registering again keeps the accounts it synced.
    assert (await client.post(DEVICES, json=DEVICE, headers=auth(users.alice))).status_code == 204
    assert await synced_accounts(runtime) == ["carol"]
    # bob takes the token over (alice signed out without unregistering): carol's pushes stop.
    assert (await client.post(DEVICES, json=DEVICE, headers=auth(users.bob))).status_code == 204
    assert await synced_accounts(runtime) == []
    assert await reached(client, recorder, "carol") == []
    assert await reached(client, recorder, "bob") == ["fcm-shared"]


async def test_unregistering_as_a_synced_account_or_as_the_owner(
    client: httpx.AsyncClient, users: Users, recorder: Recorder, runtime: Runtime
) -> None:
    bob, carol = await sync_token(client, users.bob), await sync_token(client, users.carol)
    assert await sync(client, users.alice, bob, carol) == []
    response = await client.request("DELETE", DEVICES, json=DEVICE, headers=auth(users.bob))
    assert response.status_code == 204
    assert await synced_accounts(runtime) == ["carol"]
    assert await reached(client, recorder, "bob") == []
    response = await client.request("DELETE", DEVICES, json=DEVICE, headers=auth(users.alice))
    assert response.status_code == 204
    assert await registrations(client) == []
    assert await reached(client, recorder, "carol") == []


async def test_a_token_moved_to_another_user_elsewhere_leaves_the_synced_accounts_behind(
    client: httpx.AsyncClient, users: Users, recorder: Recorder
) -> None:
    assert await sync(client, users.alice, await sync_token(client, users.bob)) == []
    assert await reached(client, recorder, "bob") == [DEVICE["token"]]
    # The same device token re-registered for carol through the native API, not the dialect.
    moved = await client.post(
        "/v1/apps/news/registrations",
        json={"platform": "fcm", "token": DEVICE["token"], "user": "carol"},
        headers=ADMIN,
    )
    assert moved.status_code == 200, moved.text
    assert await reached(client, recorder, "bob") == []  # alice's grant left with alice
    assert await reached(client, recorder, "carol") == [DEVICE["token"]]
