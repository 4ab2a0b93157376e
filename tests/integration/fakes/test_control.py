"""The fakes' control API over real HTTP on loopback, with a FakeWns sharing its inbox and plan."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from pushgate.fakes.behaviour import ServerPlan
from pushgate.fakes.control import ControlServer
from pushgate.fakes.inbox import Inbox
from pushgate.fakes.tls import FakeCertificates
from pushgate.fakes.wns import FakeWns

pytestmark = pytest.mark.anyio

CLIENT_ID = "ms-app://s-1-15-2-7"
SECRET = "control-test-" + secrets.token_hex(6)


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def plans() -> dict[str, ServerPlan]:
    return {"wns": ServerPlan(), "apns": ServerPlan(initial_max_streams=1)}


@pytest.fixture
async def control(inbox: Inbox, plans: dict[str, ServerPlan]) -> AsyncIterator[ControlServer]:
    async with ControlServer(inbox, plans, port=0) as server:
        yield server


@pytest.fixture
async def http(control: ControlServer) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=control.url, trust_env=False) as client:
        yield client


@pytest.fixture
async def fake(
    tmp_path: Path, inbox: Inbox, plans: dict[str, ServerPlan]
) -> AsyncIterator[tuple[FakeWns, httpx2.AsyncClient]]:
    certs = FakeCertificates(tmp_path / "ca")
    async with (
        FakeWns(certs, inbox, plans["wns"]) as server,
        httpx2.AsyncClient(verify=certs.client_context(), trust_env=False) as client,
    ):
        server.register_client(CLIENT_ID, SECRET)
        yield server, client


async def notify(fake: tuple[FakeWns, httpx2.AsyncClient], channel: str) -> httpx2.Response:
    server, client = fake
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "scope": "notify.windows.com",
    }
    token = (await client.post(server.token_url, data=form)).json()["access_token"]
    headers = {
        "authorization": f"Bearer {token}",
        "x-wns-type": "wns/badge",
        "content-type": "text/xml",
    }
    return await client.post(channel, headers=headers, content=b'<badge value="3"/>')


async def test_received_lists_what_the_fakes_accepted_oldest_first(
    http: httpx2.AsyncClient, fake: tuple[FakeWns, httpx2.AsyncClient]
) -> None:
    first, second = fake[0].channel(), fake[0].channel()
    assert (await notify(fake, first)).status_code == 200
    assert (await notify(fake, second)).status_code == 200
    answer = await http.get("/received")
    assert answer.status_code == 200
    items = answer.json()
    assert [item["token"] for item in items] == [first.rsplit("/", 1)[1], second.rsplit("/", 1)[1]]
    assert {item["provider"] for item in items} == {"wns"}
    assert items[0]["payload"] == '<badge value="3"/>'
    assert items[0]["headers"]["x-wns-type"] == "wns/badge"
    assert set(items[0]) >= {"received_at", "message_id"}


async def test_received_filters_by_provider_and_token(
    http: httpx2.AsyncClient, fake: tuple[FakeWns, httpx2.AsyncClient]
) -> None:
    channel = fake[0].channel()
    await notify(fake, channel)
    await notify(fake, fake[0].channel())
    token = channel.rsplit("/", 1)[1]
    assert len((await http.get("/received", params={"token": token})).json()) == 1
    assert (await http.get("/received", params={"provider": "sms"})).json() == []


async def test_delete_received_empties_the_ledger(
    http: httpx2.AsyncClient, inbox: Inbox, fake: tuple[FakeWns, httpx2.AsyncClient]
) -> None:
    await notify(fake, fake[0].channel())
    assert (await http.delete("/received")).status_code == 204
    assert (await http.get("/received")).json() == []
    assert not inbox.received
    assert not inbox.attempts


async def test_get_behaviour_shows_every_plan(http: httpx2.AsyncClient) -> None:
    state = (await http.get("/behaviour")).json()
    assert sorted(state) == ["apns", "wns"]
    assert state["apns"]["initial_max_streams"] == 1
    assert state["wns"]["fail_status"] is None
    assert (await http.get("/behaviour/apns")).json() == state["apns"]


async def test_put_behaviour_changes_the_fakes_answers(
    http: httpx2.AsyncClient, fake: tuple[FakeWns, httpx2.AsyncClient]
) -> None:
    answer = await http.put("/behaviour/wns", json={"fail_status": 503, "fail_retry_after": "9"})
    assert answer.status_code == 200
    assert answer.json()["fail_status"] == 503
    failed = await notify(fake, fake[0].channel())
    assert (failed.status_code, failed.headers["retry-after"]) == (503, "9")
    await http.put("/behaviour", json={"wns": {"fail_status": None}})
    assert (await notify(fake, fake[0].channel())).status_code == 200


async def test_put_behaviour_sets_stream_and_goaway_fields(
    http: httpx2.AsyncClient, plans: dict[str, ServerPlan]
) -> None:
    changes = {
        "max_streams": 1,
        "goaway_after_streams": 5,
        "reset_after_streams": 9,
        "delay_s": 0.5,
    }
    answer = await http.put("/behaviour", json={"apns": changes})
    assert answer.status_code == 200
    plan = plans["apns"]
    assert (plan.max_streams, plan.goaway_after_streams, plan.reset_after_streams) == (1, 5, 9)
    assert plan.delay_s == 0.5


@pytest.mark.parametrize(
    ("path", "body", "names"),
    [
        ("/behaviour/wns", {"fail_status": 99}, "wns.fail_status"),
        ("/behaviour/wns", {"max_streams": 0}, "wns.max_streams"),
        ("/behaviour/wns", {"delay_s": "slow"}, "wns.delay_s"),
        ("/behaviour/wns", {"colour": "red"}, "wns.colour"),
        ("/behaviour", {"wns": {"delay_s": 1}, "apns": {"goaway_after_streams": True}}, "apns"),
        ("/behaviour", {"fcm": {}}, "fcm"),
        ("/behaviour", [1, 2], "JSON object"),
    ],
)
async def test_bad_put_is_400_and_changes_nothing(
    http: httpx2.AsyncClient,
    plans: dict[str, ServerPlan],
    path: str,
    body: object,
    names: str,
) -> None:
    answer = await http.put(path, json=body)
    assert answer.status_code == 400
    assert names in answer.json()["error"]
    assert plans["wns"] == ServerPlan()
    assert plans["apns"] == ServerPlan(initial_max_streams=1)


async def test_unknown_routes_and_methods(http: httpx2.AsyncClient) -> None:
    assert (await http.get("/nothing")).status_code == 404
    assert (await http.get("/behaviour/fcm")).status_code == 404
    assert (await http.post("/received")).status_code == 405
    assert (await http.put("/behaviour/wns", content=b"{")).status_code == 400


def test_only_loopback_addresses_are_bound(inbox: Inbox) -> None:
    with pytest.raises(ValueError, match="loopback"):
        ControlServer(inbox, {}, host="0.0.0.0")  # noqa: S104 - the refusal under test
