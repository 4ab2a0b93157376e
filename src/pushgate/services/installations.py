"""Installations: an app user's device tokens, registered on one of the app's named platforms.

The ServiceNow Push Installation API (seed 000) names platforms by the app's Push Platform
records (`Apple`, `Android`, ...), never by pushgate's platform names; this module resolves
those names and keeps the registration tied to the signed-in user.
"""

from __future__ import annotations

from datetime import datetime

from pushgate.domain.records import PushPlatform, Registration, RegistrationWrite
from pushgate.errors import InvalidInput
from pushgate.providers.base import ProviderOptions
from pushgate.services.registrations import register_device
from pushgate.store.engine import Database
from pushgate.store.uow import unit_of_work

# What a registration removed by its own user shows as the reason it is inactive.
REMOVED_BY_USER = "installation removed by its user"


async def application_exists(db: Database, app_name: str) -> bool:
    """Whether an app has this name: tells an unknown app from a wrong password."""
    async with unit_of_work(db, readonly=True) as uow:
        return await uow.apps.get_by_name(app_name) is not None


async def _named_platform(db: Database, app_id: int, name: str) -> PushPlatform:
    async with unit_of_work(db, readonly=True) as uow:
        found = await uow.platforms.get(app_id, name)
    if found is None:
        # A request value, not a path: 400 (the body names what the app does not have).
        raise InvalidInput("this app has no push platform with this name", field="platform")
    return found


async def install(
    db: Database,
    app_id: int,
    user_name: str,
    platform_name: str,
    token: str,
    now: datetime,
    *,
    endpoints: ProviderOptions | None = None,
) -> tuple[Registration, bool]:
    """Add or update the user's token on the named platform; True when created.

    The same token again updates its registration (and re-activates it); a token installed
    by another user moves to this one.
    """
    platform = await _named_platform(db, app_id, platform_name)
    write = RegistrationWrite(values={"user_name": user_name, "sandbox": platform.sandbox})
    return await register_device(
        db, app_id, platform.platform.value, token, write, now, endpoints=endpoints
    )


async def remove_installations(
    db: Database, app_id: int, user_name: str, platform_name: str, now: datetime
) -> int:
    """Deactivate the user's active tokens on the named platform; how many were active.

    Only the environment the name maps to (production or the APNs sandbox) is touched, and
    the registrations are kept, inactive, with the time and reason: the same token installed
    again is active again.
    """
    platform = await _named_platform(db, app_id, platform_name)
    async with unit_of_work(db) as uow:
        return await uow.registrations.deactivate_for_user(
            app_id, user_name, platform.platform, platform.sandbox, REMOVED_BY_USER, now
        )
