"""Clock skew between the process that issues an access token and the one that checks it.

reliability.md F12 ("bearer leeway exact at ±60 s"): a token issued by a clock up to 60 s
ahead (its `iat` in the future) or whose `exp` passed up to 60 s ago is accepted; 61 s is
refused with 401. The issuing clock is moved; the checking side reads the real time, as every
process of a deployment does.
"""

from __future__ import annotations

import base64
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from pushgate.app import build_runtime
from pushgate.http.deps import Runtime
from pushgate.store.engine import Database
from tests.conftest import make_settings, shared_app
from tests.integration.api.helpers import make_app, make_key

pytestmark = pytest.mark.anyio


class SkewedClock:
    """The real time plus an offset the test sets."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
def clock() -> SkewedClock:
    return SkewedClock()


@pytest.fixture
async def skewed_runtime(database: Database, tmp_path: Path, clock: SkewedClock) -> Runtime:
    built, _ = await build_runtime(make_settings(tmp_path), db=database, clock=clock)
    return built


@pytest.fixture
async def skewed_client(skewed_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=shared_app(skewed_runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://pushgate.test") as http:
        yield http


async def _issue(client: httpx.AsyncClient, key: str) -> tuple[str, int]:
    basic = base64.b64encode(f"ci:{key}".encode()).decode()
    response = await client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return str(body["access_token"]), int(body["expires_in"])


async def _answer(client: httpx.AsyncClient, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return (await client.get("/v1/apps/news/registrations", headers=headers)).status_code


async def test_bearer_tokens_are_accepted_within_60_s_of_skew_and_refused_beyond(
    skewed_client: httpx.AsyncClient, clock: SkewedClock
) -> None:
    await make_app(skewed_client, "news")
    key = await make_key(skewed_client, "news", "pushregistrations_read", alias="ci")
    _, lifetime_s = await _issue(skewed_client, key)
    answers: dict[str, int] = {}
    # Seconds of skew. Tokens carry whole seconds and PyJWT checks against whole seconds, so
    # the issuing clock is put half a second into the next whole second plus the skew: `iat`
    # is then exactly that whole second plus the skew, and each case holds unless issuing and
    # checking are a whole second apart. (An offset of exactly 61 s was accepted whenever a
    # second boundary fell between the two, as it did once in CI.)
    for name, offset_s in {
        "issued 59 s ahead": 59,
        "issued 61 s ahead": 61,
        "expired 59 s ago": -(lifetime_s + 59),
        "expired 61 s ago": -(lifetime_s + 61),
    }.items():
        now = datetime.now(UTC).timestamp()
        clock.offset = timedelta(seconds=offset_s + (math.ceil(now) - now) + 0.5)
        token, _ = await _issue(skewed_client, key)
        clock.offset = timedelta()
        answers[name] = await _answer(skewed_client, token)
    print(f"\nbearer tokens under clock skew: {answers}")  # noqa: T201 - the test's figures
    assert answers == {
        "issued 59 s ahead": 200,
        "issued 61 s ahead": 401,
        "expired 59 s ago": 200,
        "expired 61 s ago": 401,
    }
