"""Console plumbing: templates, the session cookie, forms with CSRF, errors as pages."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from pushgate.domain.records import App
from pushgate.domain.roles import Role, grants
from pushgate.errors import (
    BodyTooLarge,
    Forbidden,
    InvalidInput,
    NotFound,
    PushgateError,
    RateLimited,
    Unauthenticated,
    UnsupportedMediaType,
)
from pushgate.http.deps import Runtime
from pushgate.http.errors import STATUS
from pushgate.services.auth import Principal
from pushgate.services.console_sessions import ConsoleSession, check_csrf, resolve_session
from pushgate.store.uow import UnitOfWork, unit_of_work

PREFIX = "/console"
COOKIE = "pushgate_console"
LOGIN_COOKIE = "pushgate_console_login"  # the sign-in form's CSRF (double submit)
MAX_FORM_BYTES = 256 * 1024  # a credential's PEM or service account fits many times over
MAX_FORM_FIELDS = 200
STATIC_DIR = Path(__file__).parent / "static"
# No inline script or style, nothing from elsewhere: the pages load only our CSS and JS.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class Form:
    """A parsed urlencoded body: first value per name, or all of them."""

    fields: Mapping[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0].strip() if values else default

    def raw(self, name: str) -> str:
        values = self.fields.get(name)
        return values[0] if values else ""

    def all(self, name: str) -> list[str]:
        return list(self.fields.get(name, []))


@dataclass(frozen=True, slots=True)
class Page:
    """A signed-in request: who, their session, and the runtime."""

    request: Request
    runtime: Runtime
    session: ConsoleSession

    @property
    def principal(self) -> Principal:
        return self.session.principal


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    session: ConsoleSession | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    runtime: Runtime = request.app.state.runtime
    html = _templates.get_template(template).render(
        {
            "prefix": PREFIX,
            "session": session,
            "principal": session.principal if session else None,
            "csrf": session.csrf_token if session else "",
            "simulator": runtime.settings.fake_credentials is not None,
            **context,
        }
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def render_fragment(template: str, context: Mapping[str, Any]) -> Markup:
    """A piece of a page (the live charts), rendered with the same escaping."""
    return Markup(_templates.get_template(template).render({"prefix": PREFIX, **context}))  # noqa: S704 - autoescaped template output  # nosec B704


async def read_form(request: Request) -> Form:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("send the form urlencoded", field="content-type")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise BodyTooLarge(f"a console form is at most {MAX_FORM_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BodyTooLarge(f"a console form is at most {MAX_FORM_BYTES} bytes")
    try:
        fields = parse_qs(
            body.decode(),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
            strict_parsing=False,
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("the form could not be read", field="body") from None
    return Form(fields)


async def current_session(request: Request) -> tuple[Runtime, ConsoleSession]:
    runtime: Runtime = request.app.state.runtime
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 128:
        raise Unauthenticated("sign in to use the console")
    async with unit_of_work(runtime.db, readonly=True) as uow:
        session = await resolve_session(uow, runtime.auth, token, runtime.clock())
    return runtime, session


async def signed_in(request: Request) -> Page:
    """GET pages: the session (401 -> a redirect to the sign-in page, see ConsoleRoute)."""
    runtime, session = await current_session(request)
    return Page(request, runtime, session)


async def posted(request: Request) -> tuple[Page, Form]:
    """POST handlers: the session, the form, and its CSRF token checked."""
    runtime, session = await current_session(request)
    form = await read_form(request)
    check_csrf(session, form.get("csrf"))
    return Page(request, runtime, session), form


async def visible_app(uow: UnitOfWork, principal: Principal, name: str, role: Role | None) -> App:
    """The app if the caller may see it. Another app's key gets the same 404 as an unknown
    name (the console does not tell which apps exist); a missing role on its own app is 403."""
    missing = NotFound("no app with this name", field="app")
    if not principal.is_admin and principal.app_name != name:
        raise missing
    app = await uow.apps.get_by_name(name)
    if app is None or (not principal.is_admin and app.id != principal.app_id):
        raise missing
    if role is not None and not grants(principal.roles, role):
        raise Forbidden(f"this key lacks the role {role.value}")
    return app


def may(principal: Principal, role: Role) -> bool:
    return grants(principal.roles, role)


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(PREFIX + path, status_code=303, headers=SECURITY_HEADERS)


def error_page(request: Request, exc: PushgateError) -> Response:
    status = STATUS.get(exc.code, 400)
    if isinstance(exc, Unauthenticated) and request.method == "GET":
        return redirect("/login")
    page = render(request, "error.html", {"status": status, "error": exc}, status_code=status)
    if isinstance(exc, RateLimited):
        page.headers["retry-after"] = str(exc.retry_after_s)
    return page


class ConsoleRoute(APIRoute):
    """Console routes answer errors as pages (the API's JSON envelope is for API clients)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except PushgateError as exc:
                return error_page(request, exc)

        return route
