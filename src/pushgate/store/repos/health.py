"""What the health checker reads: retries waiting per platform, suspect credentials."""

from __future__ import annotations

from sqlalchemy import func, select

from pushgate.store.repos._base import Repo
from pushgate.store.tables import credentials, deliveries


class HealthRepo(Repo):
    async def retrying(self) -> dict[str, int]:
        """Deliveries waiting for a retry, per platform (the partial due index holds them)."""
        d = deliveries.c
        stmt = (
            select(d.platform, func.count())
            .where(d.status == 0, d.next_attempt_at.is_not(None))
            .group_by(d.platform)
        )
        return {str(platform): int(count) for platform, count in await self.conn.execute(stmt)}

    async def suspect_credentials(self) -> dict[str, int]:
        c = credentials.c
        stmt = (
            select(c.provider, func.count()).where(c.suspect_at.is_not(None)).group_by(c.provider)
        )
        return {str(provider): int(count) for provider, count in await self.conn.execute(stmt)}
