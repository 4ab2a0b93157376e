"""How many notifications an app had accepted lately (quotas)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from pushgate.store.repos._base import Repo
from pushgate.store.tables import notifications


class NotificationUsageRepo(Repo):
    async def count_since(self, app_id: int, since: datetime, *, cap: int) -> int:
        """Notifications of the app created at or after `since`, counted up to `cap`.

        Counting stops at the cap, so a quota check never walks an app's whole history.
        """
        n = notifications
        recent = (
            select(n.c.id)
            .where(n.c.app_id == app_id, n.c.created_at >= since)
            .limit(cap)
            .subquery()
        )
        stmt = select(func.count()).select_from(recent)
        return int((await self.conn.execute(stmt)).scalar_one())
