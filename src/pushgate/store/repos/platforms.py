"""An app's named push platforms (ServiceNow's Push Platform table)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from pushgate.domain.platforms import Platform
from pushgate.domain.records import PushPlatform
from pushgate.store.repos._base import Repo
from pushgate.store.tables import push_platforms


def _platform(row: Any) -> PushPlatform:
    return PushPlatform(
        row.app_id, row.name, Platform(row.platform), row.sandbox, row.created_at, row.updated_at
    )


class PushPlatformRepo(Repo):
    async def put(
        self, app_id: int, name: str, platform: Platform, sandbox: bool, now: datetime
    ) -> tuple[PushPlatform, bool]:
        """Create or replace; True when it was created."""
        created = await self.get(app_id, name) is None
        values = {"platform": platform.value, "sandbox": sandbox, "updated_at": now}
        stmt = self.upsert_insert(push_platforms).values(
            app_id=app_id, name=name, created_at=now, **values
        )
        stmt = stmt.on_conflict_do_update(index_elements=["app_id", "name"], set_=values)
        row = (await self.conn.execute(stmt.returning(*push_platforms.c))).one()
        return _platform(row), created

    async def get(self, app_id: int, name: str) -> PushPlatform | None:
        stmt = select(push_platforms).where(
            push_platforms.c.app_id == app_id, push_platforms.c.name == name
        )
        row = (await self.conn.execute(stmt)).first()
        return _platform(row) if row else None

    async def list_for_app(self, app_id: int) -> list[PushPlatform]:
        stmt = (
            select(push_platforms)
            .where(push_platforms.c.app_id == app_id)
            .order_by(push_platforms.c.name)
        )
        return [_platform(r) for r in await self.conn.execute(stmt)]

    async def delete(self, app_id: int, name: str) -> bool:
        stmt = delete(push_platforms).where(
            push_platforms.c.app_id == app_id, push_platforms.c.name == name
        )
        return bool((await self.conn.execute(stmt)).rowcount)
