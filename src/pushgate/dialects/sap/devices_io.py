"""The runtime API's translations: the device a path names, the registration payload, the
Web Push subscription in pushToken, and receipt statuses."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from fastapi import Request

from pushgate.dialects.sap.auth import app_user
from pushgate.dialects.sap.names import platform_name_of_os
from pushgate.dialects.sap.schemas import DeviceRegistrationIn
from pushgate.domain.locales import normalize_locale
from pushgate.domain.notifications import delivery_id
from pushgate.domain.platforms import Platform, resolve_platform
from pushgate.domain.records import RegistrationWrite
from pushgate.domain.statuses import RECEIPT_STATUSES, DeliveryStatus, ResultCode
from pushgate.domain.timezones import resolve_time_zone
from pushgate.errors import InvalidInput
from pushgate.http.deps import Runtime
from pushgate.services.delivery_status import DeliveryState
from pushgate.services.devices import Device
from pushgate.store.repos.deliveries import DeliveryRecord

MAX_DEVICE_ID = 255
_FIELDS = {  # payload field -> registration column
    "pushGroup": "push_group",
    "timeZone": "time_zone",
    "formFactor": "form_factor",
    "userLocale": "locale",
    "deviceModel": "device_model",
}


async def device_of(request: Request, runtime: Runtime) -> tuple[Device, str]:
    """The signed-in user's device the path names, and the platform alias of its `os`."""
    user = await app_user(request, runtime, request.path_params["applicationId"])
    platform_name = platform_name_of_os(request.path_params["os"])
    device_id = request.path_params["deviceId"]
    if len(device_id) > MAX_DEVICE_ID:
        raise InvalidInput(f"must be at most {MAX_DEVICE_ID} characters", field="deviceId")
    platform = resolve_platform(platform_name, field="os").platform
    return Device(user, platform, device_id), platform_name


def write_of(body: DeviceRegistrationIn) -> RegistrationWrite:
    """The fields the payload names (the others keep their values)."""
    named = body.model_fields_set
    if body.timeZone is not None and resolve_time_zone(body.timeZone) is None:
        raise InvalidInput(
            "must be an IANA time zone, a common abbreviation (MESZ, PST) or an offset",
            field="timeZone",
        )
    if body.userLocale is not None:
        normalize_locale(body.userLocale, field="userLocale")
    values: dict[str, Any] = {
        column: getattr(body, field) for field, column in _FIELDS.items() if field in named
    }
    capabilities = None
    if body.capabilities is not None:
        # SAP capabilities are (name, category, value); "false" means the device lacks it.
        capabilities = tuple(
            c.name for c in body.capabilities if str(c.value).strip().lower() != "false"
        )
    return RegistrationWrite(values=values, capabilities=capabilities)


def token_of(
    push_token: str, platform: Platform, write: RegistrationWrite
) -> tuple[str, RegistrationWrite]:
    """The provider token; for Web Push, pushToken is the serialized PushSubscription
    (`{"endpoint", "keys": {"p256dh", "auth"}}`), or the bare endpoint URL."""
    if platform is not Platform.WEBPUSH or not push_token.lstrip().startswith("{"):
        return push_token, write
    try:
        subscription = json.loads(push_token)
        endpoint, keys = subscription["endpoint"], subscription.get("keys") or {}
        p256dh, auth = keys.get("p256dh"), keys.get("auth")
    # RecursionError: '{"a":[[[[...' nested deeper than the parser goes (was a 500; B3).
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise InvalidInput(
            "must be a serialized PushSubscription {endpoint, keys: {p256dh, auth}}",
            field="pushToken",
        ) from None
    if not all(isinstance(v, str) and 0 < len(v) <= 2048 for v in (endpoint, p256dh, auth)):
        raise InvalidInput(
            "the subscription needs endpoint, keys.p256dh and keys.auth", field="pushToken"
        )
    values = {**write.values, "p256dh": p256dh, "auth_secret": auth}
    return str(endpoint), replace(write, values=values)


def receipt_status(name: str) -> DeliveryStatus:
    try:
        status = DeliveryStatus[name.strip().upper()]
    except KeyError:
        status = DeliveryStatus.QUEUED
    if status not in RECEIPT_STATUSES:
        raise InvalidInput("must be RECEIVED, CONSUMED or CONFIRMED", field="status")
    return status


def state_of(record: DeliveryRecord, app_name: str) -> DeliveryState:
    return DeliveryState(
        delivery_id(record.notification_id, record.registration_id),
        record.notification_id,
        record.registration_id,
        app_name,
        record.platform,
        record.status,
        record.code if record.status.is_final else ResultCode.QUEUED,
        record.reason,
        record.provider_ref,
    )
