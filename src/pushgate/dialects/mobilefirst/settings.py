"""An application's provider settings: APNS, GCM (FCM), WNS and SMS, mapped onto pushgate's
provider credentials (settings_io.py), and all of them at once (`GET .../settings`).

Scopes: `settings.write` (reads: `settings.read`), or MobileFirst's own per provider
(`apnsConf.write`, `gcmConf.write`, `wnsConf.write`, `smsConf.write` and their `.read`),
with `push.application.<applicationId>`. Writes answer the settings as they now read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from pushgate.dialects.mobilefirst import settings_io as io
from pushgate.dialects.mobilefirst.errors import Missing, render
from pushgate.dialects.mobilefirst.openapi import TAG, documented
from pushgate.dialects.mobilefirst.requests import COMMON, Caller, authorized, body_of, the_app
from pushgate.dialects.mobilefirst.schemas import ApplicationSettings
from pushgate.domain.records import CredentialInfo, JsonObject
from pushgate.errors import InvalidInput, NotFound
from pushgate.http.deps import Runtime, RuntimeDep
from pushgate.http.dialect import dialect_route
from pushgate.services import credentials, platforms
from pushgate.store.uow import UnitOfWork, unit_of_work

router = APIRouter(route_class=dialect_route(render), tags=[TAG], dependencies=COMMON)

SETTINGS = "/imfpush/v1/apps/{applicationId}/settings"
APNS_PLATFORM = "A"  # the app's push platform that records MobileFirst's isSandBox


@dataclass(frozen=True, slots=True)
class Conf:
    name: str  # apnsConf ...
    provider: str
    title: str
    model: type[BaseModel]
    fields: Callable[[Any], JsonObject]
    fields_of: dict[str, str]  # pushgate's field names -> MobileFirst's, for errors


CONFS = (
    Conf("apnsConf", "apns", "APNS", io.ApnsConfIn, io.apns_fields,
         {"key_id": "keyId", "team_id": "teamId", "private_key": "key", "key": "key"}),
    Conf("gcmConf", "fcm", "GCM", io.GcmConfIn, io.gcm_fields,
         {"service_account": "serviceAccount"}),
    Conf("wnsConf", "wns", "WNS", io.WnsConfIn, io.wns_fields,
         {"client_id": "packageSID", "client_secret": "clientSecret"}),
    Conf("smsConf", "sms", "SMS", io.SmsConfIn, io.sms_fields,
         {"gateway_url": "host", "body_template": "parameters"}),
)  # fmt: skip


async def _sandbox(uow: UnitOfWork, app_id: int) -> bool:
    found = await uow.platforms.get(app_id, APNS_PLATFORM)
    return bool(found and found.sandbox)


def _view(conf: Conf, info: CredentialInfo, sandbox: bool) -> JsonObject:
    if conf.name == "apnsConf":
        return io.apns_view(info, sandbox)
    views = {"gcmConf": io.gcm_view, "wnsConf": io.wns_view, "smsConf": io.sms_view}
    return {k: v for k, v in views[conf.name](info).items() if v is not None}


def _mobilefirst_field(conf: Conf, field: str | None) -> str | None:
    if field is None:
        return None
    head, dot, rest = field.partition(".")
    return conf.fields_of.get(head, head) + dot + rest


async def _store(runtime: Runtime, conf: Conf, app_id: int, body: Any, now: datetime) -> JsonObject:
    async with unit_of_work(runtime.db) as uow:
        try:
            info = await credentials.set_credential(
                uow, runtime.vault, app_id, conf.provider, conf.fields(body), None, now
            )
        except InvalidInput as exc:
            exc.field = _mobilefirst_field(conf, exc.field)
            raise
        sandbox = await _sandbox(uow, app_id)
        if conf.name == "apnsConf" and body.isSandBox is not None:
            sandbox = io.truthy(body.isSandBox)
            alias = "apns_internal" if sandbox else "apns"
            await platforms.put_platform(uow, app_id, APNS_PLATFORM, alias, now)
            await uow.app_flags.set_apns_sandbox(app_id, sandbox, now)
        return _view(conf, info, sandbox)


def _routes(conf: Conf) -> None:
    path = f"{SETTINGS}/{conf.name}"
    writer = Depends(authorized("settings.write", f"{conf.name}.write"))
    reader = Depends(authorized("settings.read", f"{conf.name}.read"))

    async def read(
        applicationId: str, runtime: RuntimeDep, caller: Caller = reader
    ) -> JSONResponse:
        app = the_app(caller)
        async with unit_of_work(runtime.db, readonly=True) as uow:
            info = await uow.credentials.get(app.id, conf.provider)
            sandbox = await _sandbox(uow, app.id)
        if info is None:
            raise Missing(
                "settings_not_found", f"the app has no {conf.title} settings", field=conf.name
            )
        return JSONResponse(_view(conf, info, sandbox))

    async def write(
        applicationId: str, request: Request, runtime: RuntimeDep, caller: Caller = writer
    ) -> JSONResponse:
        body = await body_of(request, conf.model)
        view = await _store(runtime, conf, the_app(caller).id, body, runtime.clock())
        return JSONResponse(view)

    async def remove(applicationId: str, runtime: RuntimeDep, caller: Caller = writer) -> Response:
        async with unit_of_work(runtime.db) as uow:
            try:
                await credentials.delete_credential(uow, the_app(caller).id, conf.provider)
            except NotFound as exc:
                raise Missing("settings_not_found", exc.message, field=conf.name) from None
        return Response(status_code=204)

    router.get(path, **documented(f"Push {conf.title} Settings (GET)", ok=200, answer=None,
                                  errors=(404,)))(read)  # fmt: skip
    for method in ("PUT", "POST"):
        router.api_route(
            path,
            methods=[method],
            **documented(
                f"Push {conf.title} Settings ({method}): set them (replacing any before)",
                ok=200,
                answer=None,
                errors=(400, 404, 405),
                body=conf.model,
            ),
        )(write)
    router.delete(path, **documented(f"Push {conf.title} Settings (DELETE)", ok=204,
                                     answer=None, errors=(404,)))(remove)  # fmt: skip


for _conf in CONFS:
    _routes(_conf)


SettingsReader = Depends(authorized("settings.read"))


@router.get(
    SETTINGS,
    **documented(
        "Push Application Settings (GET): every provider's settings",
        ok=200,
        answer=ApplicationSettings,
        errors=(404,),
    ),
)
async def all_settings(
    applicationId: str, runtime: RuntimeDep, caller: Caller = SettingsReader
) -> JSONResponse:
    app = the_app(caller)
    async with unit_of_work(runtime.db, readonly=True) as uow:
        found = {i.provider: i for i in await uow.credentials.list_for_app(app.id)}
        sandbox = await _sandbox(uow, app.id)
    view = {c.name: _view(c, found[c.provider], sandbox) for c in CONFS if c.provider in found}
    return JSONResponse(view)
