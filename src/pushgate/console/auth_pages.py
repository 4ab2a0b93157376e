"""Sign-in, sign-out and the static files."""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from pushgate.console.web import (
    COOKIE,
    LOGIN_COOKIE,
    PREFIX,
    SECURITY_HEADERS,
    STATIC_DIR,
    ConsoleRoute,
    posted,
    read_form,
    redirect,
    render,
    signed_in,
)
from pushgate.errors import Forbidden, Unauthenticated
from pushgate.http.deps import Runtime
from pushgate.http.rate_limits import count_failure, refuse_locked_out
from pushgate.services.console_sessions import close_session, open_session
from pushgate.store.uow import unit_of_work

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
MAX_KEY_LENGTH = 512


def _over_https(request: Request) -> bool:
    """Served over TLS, here or at a proxy. Trusting the proxy's header is safe for this one
    use: a client that forges it only gets a cookie it will not send over plain http."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=_over_https(request),
    )


def _login_page(request: Request, message: str | None, status_code: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request, "login.html", {"login_csrf": token, "message": message}, status_code=status_code
    )
    _cookie(response, request, LOGIN_COOKIE, token, 3600)
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _login_page(request, None)


@router.post("/login")
async def login(request: Request) -> Response:
    # An address locked out by failed sign-ins (API or console) is refused before the key is
    # looked at, and every rejected key here counts against it (http/rate_limits.py).
    await refuse_locked_out(request)
    form = await read_form(request)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    submitted = form.get("login_csrf")
    if not expected or not hmac.compare_digest(expected.encode(), submitted.encode()):
        raise Forbidden("the sign-in form is stale or forged: reload the page", field="csrf")
    key = form.get("key")
    if not key or len(key) > MAX_KEY_LENGTH:
        return _login_page(request, "Enter the admin key or an app key.", 401)
    runtime: Runtime = request.app.state.runtime
    try:
        async with unit_of_work(runtime.db) as uow:
            opened = await open_session(uow, runtime.auth, key, runtime.clock())
    except Unauthenticated as exc:
        count_failure(request, exc)
        return _login_page(request, "Unknown or revoked key.", 401)
    response = redirect("/")
    ttl = int((opened.session.expires_at - runtime.clock()).total_seconds())
    _cookie(response, request, COOKIE, opened.token, ttl)
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    page, _ = await posted(request)
    async with unit_of_work(page.runtime.db) as uow:
        await close_session(uow, request.cookies.get(COOKIE, ""))
    response = redirect("/login")
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


@router.get("/static/console.css")
async def stylesheet() -> Response:
    return FileResponse(STATIC_DIR / "console.css", media_type="text/css", headers=SECURITY_HEADERS)


@router.get("/static/console.js")
async def script(request: Request) -> Response:
    await signed_in(request)  # only the sign-in page and its CSS are open
    return FileResponse(
        STATIC_DIR / "console.js", media_type="text/javascript", headers=SECURITY_HEADERS
    )
