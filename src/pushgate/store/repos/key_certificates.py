"""Client certificates attached to API keys (X.509 service keys), by SHA-256 fingerprint.

Only the fingerprint of the certificate's DER is kept: it names the certificate exactly, and
whoever completes a TLS handshake with it holds its private key.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from pushgate.domain.records import ApiKey, App
from pushgate.domain.roles import Role
from pushgate.errors import Conflict
from pushgate.store.repos._base import Repo
from pushgate.store.tables import api_keys, apps

_K = api_keys


class KeyCertificateRepo(Repo):
    async def fingerprint(self, app_id: int, alias: str) -> tuple[bool, str | None]:
        """(the key exists, the fingerprint of its certificate or None)."""
        stmt = select(_K.c.cert_sha256).where(_K.c.app_id == app_id, _K.c.alias == alias)
        row = (await self.conn.execute(stmt)).first()
        if row is None:
            return False, None
        return True, row.cert_sha256

    async def attach(self, app_id: int, alias: str, fingerprint: str) -> bool:
        """Attach the certificate to the key (replacing one); False when there is no such key."""
        stmt = (
            update(_K)
            .where(_K.c.app_id == app_id, _K.c.alias == alias)
            .values(cert_sha256=fingerprint)
        )
        try:
            async with self.conn.begin_nested():
                result = await self.conn.execute(stmt)
        except IntegrityError:
            raise Conflict(
                "this certificate is attached to another key already", field="certificate"
            ) from None
        return bool(result.rowcount)

    async def detach(self, app_id: int, alias: str) -> None:
        stmt = update(_K).where(_K.c.app_id == app_id, _K.c.alias == alias).values(cert_sha256=None)
        await self.conn.execute(stmt)

    async def key_of(self, fingerprint: str) -> tuple[ApiKey, App] | None:
        """The key a certificate is attached to, with its app."""
        stmt = (
            select(
                _K.c.id,
                _K.c.app_id,
                _K.c.alias,
                _K.c.roles,
                _K.c.created_at,
                apps.c.name,
                apps.c.description,
                apps.c.created_at.label("app_created_at"),
                apps.c.updated_at.label("app_updated_at"),
            )
            .join(apps, apps.c.id == _K.c.app_id)
            .where(_K.c.cert_sha256 == fingerprint)
        )
        row = (await self.conn.execute(stmt)).first()
        if row is None:
            return None
        roles = frozenset(Role(r) for r in row.roles.split(",") if r)
        key = ApiKey(row.id, row.app_id, row.alias, roles, row.created_at)
        app = App(row.app_id, row.name, row.description, row.app_created_at, row.app_updated_at)
        return key, app
