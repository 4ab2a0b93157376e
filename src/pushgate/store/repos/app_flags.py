"""Per-app switches MobileFirst's API keeps: the application's `enabled`, its APNs environment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from pushgate.domain.platforms import Platform
from pushgate.store.repos._base import Repo
from pushgate.store.tables import apps, registrations


class AppFlagRepo(Repo):
    async def enabled(self, app_id: int) -> bool:
        stmt = select(apps.c.enabled).where(apps.c.id == app_id)
        return bool((await self.conn.execute(stmt)).scalar_one_or_none())

    async def set_enabled(self, app_id: int, enabled: bool, now: datetime) -> None:
        await self.conn.execute(
            update(apps).where(apps.c.id == app_id).values(enabled=enabled, updated_at=now)
        )

    async def set_apns_sandbox(self, app_id: int, sandbox: bool, now: datetime) -> int:
        """Move the app's APNs registrations to the sandbox or production (MobileFirst's
        isSandBox is the app's, not a device's)."""
        r = registrations.c
        stmt = (
            update(registrations)
            .where(
                r.app_id == app_id,
                r.platform.in_((Platform.APNS.value, Platform.APNS_VOIP.value)),
                r.sandbox.is_not(sandbox),
            )
            .values(sandbox=sandbox, updated_at=now)
        )
        return int((await self.conn.execute(stmt)).rowcount or 0)
