"""What MobileFirst's messages need beyond the notification repo: devices by device id, and
removing one notification with its deliveries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select

from pushgate.store.repos._base import Repo
from pushgate.store.tables import deliveries, notifications, registrations


class MessageRecordRepo(Repo):
    async def registrations_of_devices(self, app_id: int, device_ids: Sequence[str]) -> list[str]:
        """Ids of the app's registrations (push and SMS) carrying any of the device ids."""
        r = registrations.c
        found: list[str] = []
        for start in range(0, len(device_ids), 500):  # bounded IN lists
            chunk = list(dict.fromkeys(device_ids[start : start + 500]))
            stmt = select(r.id).where(r.app_id == app_id, r.device_id.in_(chunk))
            found.extend(row[0] for row in await self.conn.execute(stmt))
        return sorted(set(found))

    async def delete(self, app_id: int, notification_id: str) -> bool:
        """The notification, its jobs and marks (cascade) and its deliveries (no foreign key)."""
        n = notifications.c
        await self.conn.execute(
            delete(deliveries).where(deliveries.c.notification_id == notification_id)
        )
        stmt = delete(notifications).where(n.id == notification_id, n.app_id == app_id)
        return bool((await self.conn.execute(stmt)).rowcount)
