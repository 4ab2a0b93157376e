"""Overview, apps, credentials (write-only), keys and OAuth clients, topics."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response

from pushgate.console import charts
from pushgate.console.web import (
    PREFIX,
    ConsoleRoute,
    Page,
    may,
    posted,
    redirect,
    render,
    signed_in,
    visible_app,
)
from pushgate.domain.roles import Role
from pushgate.errors import Forbidden, InvalidInput, NotFound
from pushgate.services import apps as app_service
from pushgate.services import credential_probes, oauth_clients
from pushgate.services import credentials as credential_service
from pushgate.services.credential_checks import check_credential
from pushgate.store.uow import unit_of_work

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
PROVIDERS = ("apns", "fcm", "webpush", "wns", "sms")
_LIST = 200


@router.get("/")
async def overview(request: Request) -> Response:
    page = await signed_in(request)
    principal = page.principal
    window = charts.overview_window(page.runtime.clock())
    async with unit_of_work(page.runtime.db, readonly=True) as uow:
        found = await uow.apps.list_page(after=None, limit=_LIST, only_id=principal.app_id)
        rows = await uow.console_views.overview(principal.app_id, window.start, window.width_s)
    return render(
        request,
        "overview.html",
        {"apps": found, "charts": charts.overview(window, rows), "hours": charts.OVERVIEW_HOURS},
        session=page.session,
    )


@router.post("/apps")
async def new_app(request: Request) -> Response:
    """Only the admin creates apps, as in the API."""
    page, form = await posted(request)
    if not page.principal.is_admin:
        raise Forbidden("only the admin key creates apps")
    async with unit_of_work(page.runtime.db) as uow:
        app = await app_service.create_app(
            uow, form.get("name"), form.get("description")[:1000], page.runtime.clock()
        )
    return redirect(f"/apps/{app.name}")


async def _app_page(
    page: Page,
    name: str,
    message: str | None = None,
    shown: object = None,
    probe: credential_probes.ProbeResult | None = None,
) -> Response:
    principal = page.principal
    async with unit_of_work(page.runtime.db, readonly=True) as uow:
        app = await visible_app(uow, principal, name, None)
        admin = may(principal, Role.APP_ADMIN)
        credentials = await uow.credentials.list_for_app(app.id) if admin else []
        keys = await uow.keys.list_page(app.id, after=None, limit=_LIST) if admin else []
        clients = (
            await oauth_clients.list_clients(uow, app.id, after=None, limit=_LIST) if admin else []
        )
        notifications = await uow.notifications.list_page(app.id, after=None, limit=20)
    return render(
        page.request,
        "app.html",
        {
            "app": app,
            "admin": admin,
            "credentials": credentials,
            "keys": keys,
            "clients": clients,
            "notifications": notifications,
            "providers": PROVIDERS,
            "roles": app_service.role_names(),
            "message": message,
            "shown": shown,
            "probe": probe,
        },
        session=page.session,
    )


@router.get("/apps/{app}")
async def app_page(app: str, request: Request) -> Response:
    return await _app_page(await signed_in(request), app)


def _fields(provider: str, text: str, subject: str) -> dict[str, object]:
    if provider not in PROVIDERS:
        raise InvalidInput("choose apns, fcm, webpush, wns or sms", field="provider")
    if provider == "webpush" and subject and not text:
        return {"subject": subject, "generate": True}  # a fresh VAPID key pair
    try:
        fields = json.loads(text or "{}")
    except (ValueError, RecursionError):  # deeper than the parser goes: was a 500 (B4)
        raise InvalidInput(
            "must be a JSON object of the provider's fields", field="fields"
        ) from None
    if not isinstance(fields, dict):
        raise InvalidInput("must be a JSON object of the provider's fields", field="fields")
    return fields


@router.post("/apps/{app}/credentials")
async def set_credential(app: str, request: Request) -> Response:
    """Set, replace, test or delete one provider's credential."""
    page, form = await posted(request)
    provider, action = form.get("provider"), form.get("action")
    if provider not in PROVIDERS:  # named in every message below: never echo what it is not
        provider = "provider"
    if action == "test":
        return await _test_credential(page, app, provider, form.raw("fields").strip())
    try:
        async with unit_of_work(page.runtime.db) as uow:
            found = await visible_app(uow, page.principal, app, Role.APP_ADMIN)
            if action == "delete":
                await credential_service.delete_credential(uow, found.id, provider)
                return redirect(f"/apps/{app}")
            fields = _fields(provider, form.raw("fields").strip(), form.get("subject"))
            endpoint = form.get("endpoint") or None
            await credential_service.set_credential(
                uow, page.runtime.vault, found.id, provider, fields, endpoint, page.runtime.clock()
            )
            message = f"{provider}: saved"
    except InvalidInput as exc:
        message = _refusal(provider, exc)
    return await _app_page(page, app, message)


def _refusal(provider: str, exc: InvalidInput) -> str:
    return f"{provider}: {exc.message}" + (f" ({exc.field})" if exc.field else "")


async def _test_credential(page: Page, app: str, provider: str, text: str) -> Response:
    """Validate the submitted fields offline (when any), then probe the stored credential
    against the provider (when one is stored); both results are shown, nothing is saved."""
    if provider not in PROVIDERS:
        return await _app_page(page, app, f"{provider}: choose apns, fcm, webpush, wns or sms")
    notes: list[str] = []
    credential = None
    async with unit_of_work(page.runtime.db, readonly=True) as uow:
        found = await visible_app(uow, page.principal, app, Role.APP_ADMIN)
        if text:
            notes.append(_offline_check(provider, text))
        try:
            credential = await credential_probes.load_credential(
                uow, page.runtime.vault, found.id, provider
            )
        except NotFound:
            notes.append("no stored credential to test against the provider")
    # The transaction is over before the provider is asked (up to the probe's timeout).
    probe = None
    if credential is not None:
        probe = await credential_probes.probe_credential(credential, page.runtime.engine.registry)
        notes.append("stored credential tested (below)")
    return await _app_page(page, app, f"{provider}: " + "; ".join(notes), probe=probe)


def _offline_check(provider: str, text: str) -> str:
    try:
        checked = check_credential(provider, _fields(provider, text, ""))
    except InvalidInput as exc:
        return "form invalid: " + exc.message + (f" ({exc.field})" if exc.field else "")
    return f"valid (settings {json.dumps(checked.settings)}); form not saved"


@router.post("/apps/{app}/keys")
async def keys(app: str, request: Request) -> Response:
    """Create a key (shown this once) or revoke one."""
    page, form = await posted(request)
    shown = None
    async with unit_of_work(page.runtime.db) as uow:
        found = await visible_app(uow, page.principal, app, Role.APP_ADMIN)
        alias = form.get("alias")
        if form.get("action") == "revoke":
            key_hash = await app_service.revoke_key(uow, found.id, alias)
            page.runtime.auth.forget(key_hash, found.id, alias)
            message = f"key {alias} revoked"
        else:
            key, secret = await app_service.create_key(
                uow, found.id, alias, form.all("roles"), page.runtime.clock()
            )
            message, shown = f"key {key.alias} created; copy it now, it is not shown again", secret
    return await _app_page(page, app, message, shown)


@router.post("/apps/{app}/clients")
async def clients(app: str, request: Request) -> Response:
    """Create an OAuth client (its secret shown this once) or delete one."""
    page, form = await posted(request)
    shown = None
    async with unit_of_work(page.runtime.db) as uow:
        found = await visible_app(uow, page.principal, app, Role.APP_ADMIN)
        if form.get("action") == "delete":
            await oauth_clients.delete_client(uow, found.id, form.get("client_id"))
            message = "client deleted"
        else:
            client, secret = await oauth_clients.create_client(
                uow, found.id, found.name, form.get("scopes").split(), page.runtime.clock()
            )
            message = f"client {client.client_id} created; copy its secret now"
            shown = secret
    return await _app_page(page, app, message, shown)


@router.get("/apps/{app}/topics")
async def topics(app: str, request: Request) -> Response:
    page = await signed_in(request)
    async with unit_of_work(page.runtime.db, readonly=True) as uow:
        found = await visible_app(uow, page.principal, app, Role.PUSHREGISTRATIONS_READ)
        listed = await uow.topics.list_page(found.id, after=None, limit=_LIST)
    return render(request, "topics.html", {"app": found, "topics": listed}, session=page.session)
