"""pushgate's records as MobileFirst shows them (its field names, ISO 8601 times, no nulls)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pushgate.domain.records import App, Registration, Topic
from pushgate.services.app_devices import AppDevice, Subscription, platform_letter

CREATED_MODE = "API"  # every record here was made through an API


def iso(value: datetime) -> str:
    """2015-05-20T11:42:11Z, as the seed writes times."""
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def _present(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if v is not None}


def device(found: AppDevice, *, expand: bool = True) -> dict[str, Any]:
    return device_of(found.push, found.phone.token if found.phone else None, expand=expand)


def device_of(push: Registration, phone: str | None, *, expand: bool = True) -> dict[str, Any]:
    """A device: its push registration and its phone number."""
    view: dict[str, Any] = {
        "deviceId": push.device_id,
        "phoneNumber": phone,
        "platform": platform_letter(push.platform),
        "token": push.token,
        "userId": push.user_name,
    }
    if expand:
        view.update(
            createdMode=CREATED_MODE,
            createdTime=iso(push.created_at),
            lastUpdatedTime=iso(push.updated_at),
            userAgent=push.device_model,
        )
    return _present(dict(sorted(view.items())))


def subscription(found: Subscription, *, expand: bool = True) -> dict[str, Any]:
    push = found.device.push
    view: dict[str, Any] = {
        "deviceId": found.device.device_id,
        "tagName": found.tag,
        "subscriptionId": found.subscription_id,
        "platform": platform_letter(push.platform),
        "token": push.token,
        "userId": push.user_name,
    }
    if expand:
        view.update(
            createdMode=CREATED_MODE,
            createdTime=iso(found.created_at) if found.created_at else None,
        )
    return _present(view)


def tag(topic: Topic, *, expand: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {"name": topic.name, "description": topic.description}
    if expand:
        view.update(
            createdMode=CREATED_MODE,
            createdTime=iso(topic.created_at),
            lastUpdatedTime=iso(topic.updated_at),
            subscriptionCount=str(topic.subscribers) if topic.subscribers is not None else None,
        )
    return _present(view)


def application(app: App, enabled: bool, *, expand: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {"applicationId": app.name, "enabled": "true" if enabled else "false"}
    if expand:
        view.update(createdTime=iso(app.created_at), lastUpdatedTime=iso(app.updated_at))
    return view
