"""The send composer (with its payload preview), notifications, and a notification's
delivery funnel and timeline, refreshed live (console.js polls the JSON endpoint)."""

from __future__ import annotations

import re
from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from markupsafe import Markup

from pushgate.console import charts
from pushgate.console.previews import preview
from pushgate.console.web import (
    PREFIX,
    SECURITY_HEADERS,
    ConsoleRoute,
    Form,
    Page,
    posted,
    redirect,
    render,
    render_fragment,
    signed_in,
    visible_app,
)
from pushgate.domain.notifications import Notification, NotificationRequest, NotificationState
from pushgate.domain.payload import Content, DeliveryOptions, build_message, expiry
from pushgate.domain.platforms import resolve_platform
from pushgate.domain.records import App
from pushgate.domain.roles import Role, grants
from pushgate.domain.targets import Target, TargetKind, check_target, required_role
from pushgate.errors import Forbidden, InvalidInput
from pushgate.services import notifications as notification_service
from pushgate.services.auth import Principal
from pushgate.services.delivery_status import error_breakdown
from pushgate.store.uow import UnitOfWork, unit_of_work

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
LOCALE_ROWS = 3
_READERS = (Role.PUSH_SINGLE, Role.PUSH_MULTIPLE, Role.PUSH_ALL, Role.PUSHREGISTRATIONS_READ)
_SENDERS = (Role.PUSH_SINGLE, Role.PUSH_MULTIPLE, Role.PUSH_ALL)
_KINDS = {
    "app": TargetKind.APP,
    "topics": TargetKind.TOPICS,
    "users": TargetKind.USERS,
    "registrations": TargetKind.REGISTRATIONS,
}
_FINISHED = (NotificationState.DONE, NotificationState.CANCELLED)


def _require_any(principal: Principal, roles: tuple[Role, ...]) -> None:
    if not any(grants(principal.roles, role) for role in roles):
        names = ", ".join(r.value for r in roles)
        raise Forbidden(f"this key needs one of the roles {names}")


def _content(form: Form, suffix: str) -> Content:
    title, body = form.raw("title" + suffix).strip(), form.raw("body" + suffix).strip()
    return Content(title=title or None, body=body or None)


def _target(form: Form) -> Target:
    kind = _KINDS.get(form.get("target_kind"))
    if kind is None:
        raise InvalidInput("choose app, topics, users or registrations", field="target")
    names = tuple(n for n in re.split(r"[\s,]+", form.get("target_value")) if n)[:1000]
    platforms = frozenset(resolve_platform(p).platform for p in form.all("platforms") if p)
    return check_target(
        Target(
            kind=kind,
            topics=names if kind is TargetKind.TOPICS else (),
            users=names if kind is TargetKind.USERS else (),
            registration_ids=names if kind is TargetKind.REGISTRATIONS else (),
            platforms=platforms,
        )
    )


def build_request(form: Form, now: datetime) -> NotificationRequest:
    """The notification the form describes, checked by the domain's own rules."""
    default = _content(form, "")
    if default.title is None and default.body is None:
        raise InvalidInput("write a title or a text", field="notification.body")
    variants = {
        form.get(f"locale_{i}"): _content(form, f"_{i}")
        for i in range(1, LOCALE_ROWS + 1)
        if form.get(f"locale_{i}")
    }
    message = build_message(default, variants)
    options = DeliveryOptions(expires_at=expiry(now, ttl=None, expires_at=None))
    return NotificationRequest(_target(form), message, options)


async def _apns_topic(uow: UnitOfWork, app: App) -> str | None:
    info = await uow.credentials.get(app.id, "apns")
    topic = info.settings.get("topic") if info else None
    return topic if isinstance(topic, str) else None


def _composer(page: Page, app: App, form: Form | None, **extra: object) -> Response:
    values = {k: v[0] for k, v in form.fields.items() if k != "csrf"} if form else {}
    return render(
        page.request,
        "compose.html",
        {"app": app, "values": values, "rows": range(1, LOCALE_ROWS + 1), **extra},
        session=page.session,
    )


@router.get("/apps/{app}/compose")
async def compose(app: str, request: Request) -> Response:
    page = await signed_in(request)
    async with unit_of_work(page.runtime.db, readonly=True) as uow:
        found = await visible_app(uow, page.principal, app, None)
    _require_any(page.principal, _SENDERS)
    return _composer(page, found, None)


@router.post("/apps/{app}/compose")
async def compose_post(app: str, request: Request) -> Response:
    """action=preview renders the payloads; action=send sends and shows the notification."""
    page, form = await posted(request)
    now = page.runtime.clock()
    async with unit_of_work(page.runtime.db, readonly=True) as uow:
        found = await visible_app(uow, page.principal, app, None)
        topic = await _apns_topic(uow, found)
    _require_any(page.principal, _SENDERS)
    try:
        parsed = build_request(form, now)
    except InvalidInput as exc:
        return _composer(page, found, form, error=exc)
    if form.get("action") != "send":
        return _composer(page, found, form, previews=preview(parsed, now, topic))
    async with unit_of_work(page.runtime.db, readonly=True) as uow:
        await visible_app(uow, page.principal, app, required_role(parsed.target))
    outcome = await notification_service.accept(
        page.runtime.engine, found.id, parsed, idempotency_key=None, body_hash=None, now=now
    )
    assert isinstance(outcome, notification_service.Accepted)  # noqa: S101 - no idempotency key
    return redirect(f"/apps/{app}/notifications/{outcome.notification.id}")


async def _notification(
    page: Page, app: str, notification_id: str
) -> tuple[App, Notification, dict[str, object]]:
    async with unit_of_work(page.runtime.db, readonly=True) as uow:
        found = await visible_app(uow, page.principal, app, None)
        _require_any(page.principal, _READERS)
        notification = await notification_service.get_notification(
            uow, found.id, notification_id[:64]
        )
        errors = await error_breakdown(uow, found.id, notification.id)
        until = notification.completed_at or page.runtime.clock()
        window = charts.timeline_window(notification.created_at, until)
        rows = await uow.console_views.notification_timeline(
            notification.id, window.start, window.width_s
        )
    live = {
        "notification": notification,
        "counts": notification.counts.by_status(),
        "errors": errors,
        "funnel": charts.funnel(notification.counts, errors),
        "timeline": charts.timeline(window, rows),
        "done": notification.state in _FINISHED,
    }
    return found, notification, live


@router.get("/apps/{app}/notifications/{notification_id}")
async def notification_page(app: str, notification_id: str, request: Request) -> Response:
    page = await signed_in(request)
    found, notification, live = await _notification(page, app, notification_id)
    request_text = notification.request().message.to_dict()
    return render(
        request,
        "notification.html",
        {"app": found, "message": request_text, **live},
        session=page.session,
    )


@router.get("/apps/{app}/notifications/{notification_id}/live")
async def notification_live(app: str, notification_id: str, request: Request) -> Response:
    """The charts and counts as HTML, for console.js to swap in while the send runs."""
    page = await signed_in(request)
    found, notification, live = await _notification(page, app, notification_id)
    html: Markup = render_fragment("notification_live.html", {"app": found, **live})
    body = {"done": bool(live["done"]), "state": notification.state.value, "html": str(html)}
    return JSONResponse(body, headers=SECURITY_HEADERS)
