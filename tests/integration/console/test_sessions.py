"""Console sign-in: cookie flags, CSRF, expiry, revocation, and one app's key kept to its app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from pushgate.app import build_runtime
from pushgate.http.deps import Runtime
from pushgate.store.engine import Database
from pushgate.store.tables import api_keys, console_sessions
from tests.conftest import FixedClock, make_settings, shared_app
from tests.integration.api.helpers import ADMIN, make_app, make_key
from tests.integration.console.helpers import csrf_of, sign_in

pytestmark = pytest.mark.anyio


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
async def clocked(database: Database, tmp_path: Path, clock: FixedClock) -> Runtime:
    built, _ = await build_runtime(make_settings(tmp_path), db=database, clock=clock)
    return built


@pytest.fixture
async def browser(clocked: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=shared_app(clocked))
    async with httpx.AsyncClient(transport=transport, base_url="http://pushgate.test") as http:
        yield http


async def test_pages_need_a_session_and_the_cookie_is_strict(
    browser: httpx.AsyncClient, clocked: Runtime
) -> None:
    assert (await browser.get("/console/")).headers["location"] == "/console/login"
    assert (await browser.get("/console/static/console.css")).status_code == 200
    assert (await browser.get("/console/static/console.js")).status_code == 303
    wrong = await sign_in(browser, "pga_not-the-key")
    assert wrong.status_code == 401
    assert "Unknown or revoked key" in wrong.text
    answer = await sign_in(browser, ADMIN["X-API-Key"])
    assert answer.status_code == 303
    cookie = next(v for k, v in answer.headers.multi_items() if v.startswith("pushgate_console="))
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/console"} <= flags
    assert "secure" not in flags  # plain http here; https below
    token = cookie.split(";")[0].split("=", 1)[1]
    async with clocked.db.connect(readonly=True) as conn:
        stored = (await conn.execute(select(console_sessions.c.token_hash))).scalars().all()
    assert len(stored) == 1
    assert token not in stored[0]  # only a hash of the token is kept
    page = await browser.get("/console/")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    transport = httpx.ASGITransport(app=shared_app(clocked))
    async with httpx.AsyncClient(transport=transport, base_url="https://pushgate.test") as tls:
        secure = await sign_in(tls, ADMIN["X-API-Key"])
    assert "secure" in secure.headers["set-cookie"].lower()
    proxied = await browser.get("/console/login", headers={"X-Forwarded-Proto": "https"})
    assert "secure" in proxied.headers["set-cookie"].lower()  # TLS ended at a proxy


async def test_posts_without_the_session_csrf_token_change_nothing(
    browser: httpx.AsyncClient, clocked: Runtime
) -> None:
    form = await browser.get("/console/login")
    forged = await browser.post(
        "/console/login", data={"login_csrf": "guess", "key": ADMIN["X-API-Key"]}
    )
    assert form.status_code == 200
    assert forged.status_code == 403
    await sign_in(browser, ADMIN["X-API-Key"])
    await make_app(browser, "news")  # the API, with the admin key, on the same app
    for data in ({"alias": "evil", "roles": "app_admin"}, {"alias": "evil", "csrf": "guess"}):
        refused = await browser.post("/console/apps/news/keys", data=data)
        assert refused.status_code == 403
        assert "stale or forged" in refused.text
    csrf = await csrf_of(browser)
    made = await browser.post(
        "/console/apps/news/keys", data={"alias": "good", "roles": "push_all", "csrf": csrf}
    )
    assert made.status_code == 200
    assert 'id="shown-secret">pgk_' in made.text
    async with clocked.db.connect(readonly=True) as conn:
        aliases = (await conn.execute(select(api_keys.c.alias))).scalars().all()
    assert aliases == ["good"]


async def test_a_session_ends_at_its_expiry_and_at_sign_out(
    browser: httpx.AsyncClient, clocked: Runtime, clock: FixedClock
) -> None:
    await sign_in(browser, ADMIN["X-API-Key"])
    clock.advance(8 * 3600 - 1)
    assert (await browser.get("/console/")).status_code == 200
    clock.advance(1)
    assert (await browser.get("/console/")).headers["location"] == "/console/login"
    await sign_in(browser, ADMIN["X-API-Key"])  # sweeps the expired session
    csrf = await csrf_of(browser)
    cookie = browser.cookies["pushgate_console"]
    out = await browser.post("/console/logout", data={"csrf": csrf})
    assert out.headers["location"] == "/console/login"
    browser.cookies.set("pushgate_console", cookie, path="/console")  # replayed after sign-out
    assert (await browser.get("/console/")).status_code == 303
    async with clocked.db.connect(readonly=True) as conn:
        left = (await conn.execute(select(func.count()).select_from(console_sessions))).scalar()
    assert left == 0


async def test_an_app_key_sees_its_app_only_and_its_revocation_ends_the_session(
    browser: httpx.AsyncClient,
) -> None:
    await make_app(browser, "news")
    await make_app(browser, "sport")
    key = await make_key(browser, "news", "pushregistrations_read", "push_single")
    assert (await sign_in(browser, key)).status_code == 303
    own = await browser.get("/console/apps/news/registrations")
    assert own.status_code == 200
    overview = await browser.get("/console/")
    assert "/console/apps/news" in overview.text
    assert "sport" not in overview.text
    other = await browser.get("/console/apps/sport/registrations")
    unknown = await browser.get("/console/apps/nosuch/registrations")
    assert other.status_code == unknown.status_code == 404
    assert other.text == unknown.text
    assert (await browser.get("/console/apps/sport")).text == (
        await browser.get("/console/apps/nosuch")
    ).text
    assert (await browser.get("/console/apps/news/topics")).status_code == 200
    assert (await browser.get("/console/apps/news/compose")).status_code == 200
    # Credentials and keys need app_admin, as in the API: the app page leaves them out.
    assert 'id="credentials"' not in (await browser.get("/console/apps/news")).text
    revoked = await browser.delete("/v1/apps/news/keys/k", headers=ADMIN)
    assert revoked.status_code == 204
    assert (await browser.get("/console/apps/news/registrations")).status_code == 303
