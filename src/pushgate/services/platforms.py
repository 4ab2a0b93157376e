"""An app's named push platforms: the names vendor clients use (ServiceNow's platform)."""

from __future__ import annotations

from datetime import datetime

from pushgate.domain.platforms import resolve_platform
from pushgate.domain.records import PushPlatform
from pushgate.errors import InvalidInput, NotFound
from pushgate.store.uow import UnitOfWork

# Every app starts with ServiceNow's two stock Push Platform records.
DEFAULT_PLATFORMS = (("Apple", "apns"), ("Android", "fcm"))
MAX_NAME_LENGTH = 64


async def seed_default_platforms(uow: UnitOfWork, app_id: int, now: datetime) -> None:
    for name, platform in DEFAULT_PLATFORMS:
        await put_platform(uow, app_id, name, platform, now)


async def put_platform(
    uow: UnitOfWork, app_id: int, name: str, platform_name: str, now: datetime
) -> tuple[PushPlatform, bool]:
    """Map `name` onto a platform (any alias; apns_internal names the sandbox)."""
    if not name.strip() or name.strip() != name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"must be 1-{MAX_NAME_LENGTH} characters without surrounding spaces", field="name"
        )
    resolved = resolve_platform(platform_name)
    return await uow.platforms.put(app_id, name, resolved.platform, bool(resolved.sandbox), now)


async def get_platform(uow: UnitOfWork, app_id: int, name: str) -> PushPlatform:
    found = await uow.platforms.get(app_id, name)
    if found is None:
        raise NotFound("no push platform with this name", field="platform")
    return found


async def delete_platform(uow: UnitOfWork, app_id: int, name: str) -> None:
    if not await uow.platforms.delete(app_id, name):
        raise NotFound("no push platform with this name", field="platform")
