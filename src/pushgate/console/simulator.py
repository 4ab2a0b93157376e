"""The device simulator (serve --fake-providers): simulated devices registered through the
registration service, what the fakes received for each, shown as a phone shows it, and
receipts (received, opened) reported through the notification service as an app would.

The fakes run beside the server and are read over their control API (style.md: the console
never imports fakes/); its address is in the fakes.json written next to the fake credentials.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from fastapi import APIRouter, Request, Response

from pushgate.console.web import (
    PREFIX,
    ConsoleRoute,
    Page,
    posted,
    redirect,
    render,
    signed_in,
    visible_app,
)
from pushgate.domain.notifications import delivery_id
from pushgate.domain.records import Registration, RegistrationWrite
from pushgate.domain.roles import Role
from pushgate.domain.statuses import DeliveryStatus
from pushgate.errors import InvalidInput, NotFound, StorageUnavailable
from pushgate.services import notifications as notification_service
from pushgate.services.registrations import register_device
from pushgate.store.repos.deliveries import DeliveryRecord
from pushgate.store.uow import unit_of_work

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
MARKER = "pushgate simulator"  # the device_model of simulated registrations
DEVICES = 20
PLATFORMS = {"apns": "apns", "fcm": "fcm", "webpush": "webpush", "sms": "sms"}
_RECEIPTS = {"received": DeliveryStatus.RECEIVED, "opened": DeliveryStatus.CONSUMED}
_TIMEOUT_S = 5.0  # the fakes run on loopback in this very process


@dataclass(frozen=True, slots=True)
class Shown:
    """One notification on a simulated phone, with the delivery it came from (if known)."""

    title: str
    body: str
    received_at: str
    delivery_id: str | None
    status: str | None


@dataclass(frozen=True, slots=True)
class Device:
    app_name: str
    registration: Registration
    provider: str
    shown: list[Shown]


def control_url(page: Page) -> str:
    """The fakes' control API, or 404 when the server does not run them."""
    credentials = page.runtime.settings.fake_credentials
    description = Path(credentials).parent / "fakes.json" if credentials else None
    if description is None or not description.is_file():
        raise NotFound("the device simulator needs serve --fake-providers", field="simulator")
    url: str = json.loads(description.read_text())["endpoints"]["control"]
    return url


async def _control(method: str, url: str, body: Any = None, **params: str) -> Any:
    try:
        async with httpx2.AsyncClient(timeout=_TIMEOUT_S) as http:
            response = await http.request(method, url, json=body, params=params or None)
            response.raise_for_status()
            return response.json()
    except (httpx2.HTTPError, ValueError) as exc:
        raise StorageUnavailable(f"the fake providers did not answer: {exc}") from None


def phone_text(provider: str, payload: Any) -> tuple[str, str]:
    """(title, body) as a phone would show the payload a fake received."""
    if not isinstance(payload, dict):
        return "", str(payload)
    alert: Any = None
    if provider == "apns":
        alert = payload.get("aps", {}).get("alert")
    elif provider == "fcm":
        alert = payload.get("notification") or payload.get("message", {}).get("notification")
    elif provider == "webpush":
        alert = payload
    elif provider == "sms":
        return "", str(payload.get("body", ""))
    if isinstance(alert, dict):
        return str(alert.get("title", "")), str(alert.get("body", ""))
    return "", str(alert or "")


def _match(message_id: str | None, history: list[DeliveryRecord]) -> DeliveryRecord | None:
    """The delivery whose provider reference is the fake's answer (Web Push: a URL to it)."""
    if not message_id:
        return None
    for record in history:
        ref = record.provider_ref or ""
        if ref == message_id or ref.endswith("/" + message_id):
            return record
    return None


async def _device(page: Page, url: str, app_name: str, registration: Registration) -> Device:
    provider = PLATFORMS.get(registration.platform.value, registration.platform.value)
    received = await _control("GET", url + "/received", provider=provider, token=registration.token)
    async with unit_of_work(page.runtime.db, readonly=True) as uow:
        history = await uow.console_views.registration_history(
            registration.app_id, registration.id, 100
        )
    shown = []
    for item in reversed(received[-20:]):  # newest first
        title, body = phone_text(provider, item.get("payload"))
        record = _match(item.get("message_id"), history)
        shown.append(
            Shown(
                title,
                body,
                str(item.get("received_at", ""))[:19].replace("T", " "),
                delivery_id(record.notification_id, record.registration_id) if record else None,
                record.status.name if record else None,
            )
        )
    return Device(app_name, registration, provider, shown)


@router.get("/simulator")
async def simulator(request: Request) -> Response:
    page = await signed_in(request)
    url = control_url(page)
    principal = page.principal
    async with unit_of_work(page.runtime.db, readonly=True) as uow:
        apps = await uow.apps.list_page(after=None, limit=200, only_id=principal.app_id)
        names = {app.id: app.name for app in apps}
        marked = await uow.console_views.registrations_marked(MARKER, principal.app_id, DEVICES)
        found = [await uow.registrations.get(app_id, rid) for app_id, rid in marked]
    devices = [
        await _device(page, url, names.get(r.app_id, "?"), r) for r in found if r is not None
    ]
    return render(
        request,
        "simulator.html",
        {"apps": apps, "devices": devices, "platforms": list(PLATFORMS)},
        session=page.session,
    )


async def _token(platform: str, url: str) -> tuple[str, dict[str, Any]]:
    """A fresh token the fakes accept normally (no behaviour prefix such as dead/bad/500)."""
    if platform == "apns":
        return "f0" + secrets.token_hex(31), {}
    if platform == "fcm":
        return "sim-" + secrets.token_hex(16), {}
    if platform == "sms":
        return "+1555" + str(secrets.randbelow(9_000_000) + 1_000_000), {}
    if platform == "webpush":
        subscription = await _control("POST", url + "/webpush/subscriptions", {})
        keys = subscription["keys"]
        return subscription["endpoint"], {"p256dh": keys["p256dh"], "auth_secret": keys["auth"]}
    raise InvalidInput("choose apns, fcm, webpush or sms", field="platform")


@router.post("/simulator/devices")
async def create_device(request: Request) -> Response:
    """A simulated device registers through the registration service, as a device would."""
    page, form = await posted(request)
    url = control_url(page)
    async with unit_of_work(page.runtime.db, readonly=True) as uow:
        app = await visible_app(uow, page.principal, form.get("app"), Role.REGISTRATIONS_WRITE)
    token, values = await _token(form.get("platform"), url)
    values["device_model"] = MARKER
    for name, column in (("user", "user_name"), ("locale", "locale")):
        if form.get(name):
            values[column] = form.get(name)[:255]
    topics = tuple(t for t in form.get("topics").replace(",", " ").split() if t)[:20]
    write = RegistrationWrite(values=values, topics=topics or None)
    await register_device(
        page.runtime.db,
        app.id,
        form.get("platform"),
        token,
        write,
        page.runtime.clock(),
        endpoints=page.runtime.engine.registry.options,
    )
    return redirect("/simulator")


@router.post("/simulator/receipt")
async def receipt(request: Request) -> Response:
    """Mark a notification received or opened: the receipt the native API's
    POST /v1/deliveries/{id}/receipt reports, through the same service."""
    page, form = await posted(request)
    control_url(page)
    status = _RECEIPTS.get(form.get("status"))
    if status is None:
        raise InvalidInput("must be received or opened", field="status")
    async with unit_of_work(page.runtime.db) as uow:
        await notification_service.report_receipt(
            uow, page.principal, form.get("delivery_id"), status, page.runtime.clock()
        )
    return redirect("/simulator")
