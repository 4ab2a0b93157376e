"""Registrations: search (user, token prefix, topic, platform, active) and detail with the
registration's delivery history."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from pushgate.console.web import PREFIX, ConsoleRoute, render, signed_in, visible_app
from pushgate.domain.notifications import delivery_id
from pushgate.domain.platforms import resolve_platform
from pushgate.domain.records import RegistrationFilter
from pushgate.domain.roles import Role
from pushgate.services import registrations as registration_service
from pushgate.store.uow import unit_of_work

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
PAGE = 50
HISTORY = 50
_MAX_TERM = 255


def _term(request: Request, name: str) -> str | None:
    value = request.query_params.get(name, "").strip()[:_MAX_TERM]
    return value or None


def search_filter(request: Request) -> RegistrationFilter:
    platform = _term(request, "platform")
    active = _term(request, "active")
    return RegistrationFilter(
        user_name=_term(request, "user"),
        token_prefix=_term(request, "token"),
        topic=_term(request, "topic"),
        platform=resolve_platform(platform).platform if platform else None,
        active={"yes": True, "no": False}.get(active or ""),
    )


@router.get("/apps/{app}/registrations")
async def registrations(app: str, request: Request) -> Response:
    page = await signed_in(request)
    where = search_filter(request)
    after = _term(request, "after")
    async with unit_of_work(page.runtime.db, readonly=True) as uow:
        found = await visible_app(uow, page.principal, app, Role.PUSHREGISTRATIONS_READ)
        listed = await registration_service.list_registrations(
            uow, found.id, where, after=after, limit=PAGE
        )
    query = {k: v for k, v in request.query_params.items() if k != "after"}
    return render(
        request,
        "registrations.html",
        {
            "app": found,
            "registrations": listed,
            "query": query,
            "next_after": listed[-1].id if len(listed) == PAGE else None,
        },
        session=page.session,
    )


@router.get("/apps/{app}/registrations/{registration_id}")
async def registration(app: str, registration_id: str, request: Request) -> Response:
    page = await signed_in(request)
    async with unit_of_work(page.runtime.db, readonly=True) as uow:
        found = await visible_app(uow, page.principal, app, Role.PUSHREGISTRATIONS_READ)
        record = await registration_service.get_registration(uow, found.id, registration_id[:64])
        history = await uow.console_views.registration_history(found.id, record.id, HISTORY)
    return render(
        request,
        "registration.html",
        {
            "app": found,
            "registration": record,
            "history": [(delivery_id(d.notification_id, d.registration_id), d) for d in history],
        },
        session=page.session,
    )
