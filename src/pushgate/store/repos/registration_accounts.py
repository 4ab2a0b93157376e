"""Registration accounts: the further users one device token receives pushes for (device sync).

A registration belongs to one user (`registrations.user_name`); a device signed in to several
accounts of the same app is synced to the others here, and the users audience matches these
rows like the owner's name (store/repos/audience.py).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, or_, select

from pushgate.domain.platforms import Platform
from pushgate.store.repos._base import Repo
from pushgate.store.tables import registration_accounts, registrations

_A = registration_accounts
_R = registrations


class RegistrationAccountRepo(Repo):
    async def device(
        self, app_id: int, platform: Platform, token: str
    ) -> tuple[str, str | None] | None:
        """The id and owner (user name) of the registration of (app, platform, token)."""
        stmt = select(_R.c.id, _R.c.user_name).where(
            _R.c.app_id == app_id, _R.c.platform == platform.value, _R.c.token == token
        )
        row = (await self.conn.execute(stmt)).first()
        return (row.id, row.user_name) if row is not None else None

    async def names(self, registration_id: str) -> list[str]:
        """The accounts the registration is synced to, besides its owner, sorted."""
        stmt = select(_A.c.user_name).where(_A.c.registration_id == registration_id)
        return sorted((await self.conn.execute(stmt)).scalars())

    async def replace(
        self, registration_id: str, owner: str, names: Collection[str], now: datetime
    ) -> None:
        """Sync the registration of `owner` to exactly `names`; the ones kept keep their time."""
        wanted = sorted(set(names))
        stale = delete(_A).where(_A.c.registration_id == registration_id)
        if wanted:
            stale = stale.where(_A.c.user_name.not_in(wanted))
        await self.conn.execute(stale)
        if wanted:
            stmt = (
                self.upsert_insert(_A)
                .values(
                    [{"registration_id": registration_id, "user_name": n, "owner_name": owner,
                      "created_at": now}
                     for n in wanted]
                )
                .on_conflict_do_update(
                    index_elements=["registration_id", "user_name"], set_={"owner_name": owner}
                )
            )  # fmt: skip
            await self.conn.execute(stmt)

    async def remove(self, registration_id: str, user_name: str) -> bool:
        stmt = delete(_A).where(
            _A.c.registration_id == registration_id, _A.c.user_name == user_name
        )
        return bool((await self.conn.execute(stmt)).rowcount)

    async def clear_unless_owner(
        self, app_id: int, platform: Platform, token: str, user_name: str
    ) -> int:
        """Un-sync the registration of (app, platform, token) when another user owns it.

        A token that moves to another user moves alone: the accounts its previous owner synced
        it to were that owner's grant, not the new one's.
        """
        moved = select(_R.c.id).where(
            _R.c.app_id == app_id,
            _R.c.platform == platform.value,
            _R.c.token == token,
            or_(_R.c.user_name.is_(None), _R.c.user_name != user_name),
        )
        result = await self.conn.execute(delete(_A).where(_A.c.registration_id.in_(moved)))
        return int(result.rowcount or 0)
