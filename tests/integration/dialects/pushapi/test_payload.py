"""What the devices get: Title and Body, Sound as the default sound, ExpirySecs as the
delivery TTL and a display-expiry hint in the payload's data."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from pushgate.providers.base import Push
from pushgate.providers.recording import Recorder
from tests.conftest import FixedClock
from tests.integration.api.helpers import ADMIN
from tests.integration.dialects.pushapi.conftest import Company, push_json

pytestmark = pytest.mark.anyio
DEFAULT_TTL = timedelta(days=28)


async def pushes(client: httpx.AsyncClient, recorder: Recorder, body: object) -> list[Push]:
    response = await push_json(client, body)
    assert response.status_code == 200, response.text
    assert len(recorder.accepted) == 2  # alice's two devices
    return [push for _, _, push in recorder.accepted]


async def test_expiry_secs_is_the_ttl_and_a_display_hint(
    client: httpx.AsyncClient, company: Company, recorder: Recorder, clock: FixedClock
) -> None:
    body = company.body(UserId="alice", Body="hi", ExpirySecs=3600)
    for push in await pushes(client, recorder, body):
        assert push.options.expires_at == clock.now + timedelta(seconds=3600)
        assert push.options.once is False
        assert push.content.data == {"ExpirySecs": "3600", "ExpiresAt": "2026-01-01T13:00:00Z"}
    (notification,) = (await client.get("/v1/apps/news/notifications", headers=ADMIN)).json()[
        "items"
    ]
    assert notification["expires_at"] == "2026-01-01T13:00:00Z"


async def test_expiry_secs_zero_means_none(
    client: httpx.AsyncClient, company: Company, recorder: Recorder, clock: FixedClock
) -> None:
    for push in await pushes(client, recorder, company.body(UserId="alice", Body="hi")):
        assert push.options.expires_at == clock.now + DEFAULT_TTL
        assert push.content.data is None


async def test_expiry_beyond_28_days_keeps_trying_28_days_and_hints_the_full_period(
    client: httpx.AsyncClient, company: Company, recorder: Recorder, clock: FixedClock
) -> None:
    sixty_days = 60 * 24 * 3600
    body = company.body(UserId="alice", Body="hi", ExpirySecs=sixty_days)
    for push in await pushes(client, recorder, body):
        assert push.options.expires_at == clock.now + DEFAULT_TTL
        assert push.content.data == {
            "ExpirySecs": str(sixty_days),
            "ExpiresAt": "2026-03-02T12:00:00Z",
        }


@pytest.mark.parametrize(("sound", "expected"), [(True, "default"), (False, None), (None, None)])
async def test_sound_true_plays_the_default_sound(
    client: httpx.AsyncClient,
    company: Company,
    recorder: Recorder,
    sound: bool | None,
    expected: str | None,
) -> None:
    body = company.body(UserId="alice", Title="Goal!", Body="2:1", Sound=sound)
    for push in await pushes(client, recorder, body):
        assert push.content.sound == expected
        assert (push.content.title, push.content.body, push.content.alert) == ("Goal!", "2:1", None)


async def test_an_empty_title_is_no_title(
    client: httpx.AsyncClient, company: Company, recorder: Recorder
) -> None:
    for push in await pushes(client, recorder, company.body(UserId="alice", Body="only body")):
        assert (push.content.title, push.content.body) == (None, "only body")
