"""send_at with local_time: the same wall-clock time in each registration's time zone."""

from __future__ import annotations

import httpx
import pytest

from pushgate.delivery.worker import Worker
from pushgate.providers.recording import Recorder
from tests.conftest import FixedClock
from tests.integration.delivery.conftest import register, send, wait_done, wait_for

pytestmark = pytest.mark.anyio


async def test_each_device_gets_it_at_nine_in_its_own_zone(
    client: httpx.AsyncClient,
    app_key: dict[str, str],
    recorder: Recorder,
    clock: FixedClock,
    worker: Worker,
) -> None:
    # The clock stands at 2026-01-01 12:00 UTC; Berlin is UTC+1 and New York UTC-5 in winter.
    zones = {
        "tok-berlin": "Europe/Berlin",
        "tok-mesz": "MESZ",  # an abbreviation, as the SAP seed's devices send it
        "tok-ny": "America/New_York",
        "tok-kiritimati": "Pacific/Kiritimati",  # UTC+14: the first to see 09:00
    }
    for token, zone in zones.items():
        await register(client, app_key, token, user="u", time_zone=zone)
    await register(client, app_key, "tok-nozone", user="u")  # no zone: UTC
    response = await send(
        client, app_key, {"users": ["u"]}, send_at="2026-01-02T09:00:00", local_time=True
    )
    assert response.status_code == 202, response.text
    assert response.json()["state"] == "scheduled"
    nid = response.json()["id"]

    async def delivered(*tokens: str) -> bool:
        return sorted(recorder.tokens()) == sorted(tokens)

    clock.now = clock.now.replace(hour=19)  # 09:00 on Jan 2 at UTC+14
    await wait_for(lambda: delivered("tok-kiritimati"), what="the UTC+14 device")
    clock.now = clock.now.replace(day=2, hour=8)  # 09:00 in Berlin
    await wait_for(
        lambda: delivered("tok-kiritimati", "tok-berlin", "tok-mesz"), what="Berlin's devices"
    )
    clock.now = clock.now.replace(hour=9)  # 09:00 UTC
    await wait_for(
        lambda: delivered("tok-kiritimati", "tok-berlin", "tok-mesz", "tok-nozone"),
        what="the device without a zone",
    )
    clock.now = clock.now.replace(hour=14)  # 09:00 in New York
    status = await wait_done(client, app_key, nid)
    assert status["counts"]["SENT"] == 5
    assert "tok-ny" in recorder.tokens()


async def test_local_time_needs_send_at(client: httpx.AsyncClient, app_key: dict[str, str]) -> None:
    response = await send(client, app_key, {"users": ["u"]}, local_time=True)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "local_time"
