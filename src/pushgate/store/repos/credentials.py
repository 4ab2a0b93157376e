"""Provider credentials: public settings in clear, secrets as an opaque sealed token."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from pushgate.domain.records import CredentialInfo, JsonObject
from pushgate.store.repos._base import Repo
from pushgate.store.tables import credentials


def _info(row: Any) -> CredentialInfo:
    return CredentialInfo(
        row.provider,
        json.loads(row.settings),
        row.endpoint,
        row.created_at,
        row.updated_at,
        row.suspect_at,
        row.suspect_reason,
    )


class CredentialRepo(Repo):
    async def put(
        self,
        app_id: int,
        provider: str,
        settings: JsonObject,
        sealed_secret: str,
        endpoint: str | None,
        now: datetime,
    ) -> CredentialInfo:
        values = {
            "settings": json.dumps(settings, sort_keys=True),
            "sealed_secret": sealed_secret,
            "endpoint": endpoint,
            "updated_at": now,
            # A new credential starts trusted again (the guard judged the old one).
            "suspect_at": None,
            "suspect_reason": None,
        }
        stmt = self.upsert_insert(credentials).values(
            app_id=app_id, provider=provider, created_at=now, **values
        )
        stmt = stmt.on_conflict_do_update(index_elements=["app_id", "provider"], set_=values)
        row = (await self.conn.execute(stmt.returning(*credentials.c))).one()
        return _info(row)

    async def get(self, app_id: int, provider: str) -> CredentialInfo | None:
        row = (await self.conn.execute(self._select(app_id, provider))).first()
        return _info(row) if row else None

    async def get_sealed(self, app_id: int, provider: str) -> str | None:
        row = (await self.conn.execute(self._select(app_id, provider))).first()
        return str(row.sealed_secret) if row else None

    async def list_for_app(self, app_id: int) -> list[CredentialInfo]:
        stmt = select(credentials).where(credentials.c.app_id == app_id)
        return [_info(r) for r in await self.conn.execute(stmt.order_by(credentials.c.provider))]

    async def mark_suspect(self, app_id: int, provider: str, reason: str, now: datetime) -> bool:
        """Mark a trusted credential suspect; False when it already was (or is not stored).

        The first evidence stands until the credential is replaced.
        """
        result = await self.conn.execute(
            update(credentials)
            .where(
                credentials.c.app_id == app_id,
                credentials.c.provider == provider,
                credentials.c.suspect_at.is_(None),
            )
            .values(suspect_at=now, suspect_reason=reason)
        )
        return bool(result.rowcount)

    async def delete(self, app_id: int, provider: str) -> bool:
        stmt = delete(credentials).where(
            credentials.c.app_id == app_id, credentials.c.provider == provider
        )
        return bool((await self.conn.execute(stmt)).rowcount)

    @staticmethod
    def _select(app_id: int, provider: str) -> Any:
        return select(credentials).where(
            credentials.c.app_id == app_id, credentials.c.provider == provider
        )
