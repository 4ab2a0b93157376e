"""Provider credentials of an app: validated on write, sealed at rest, never returned."""

from __future__ import annotations

from datetime import datetime

from pushgate.domain.records import CredentialInfo, JsonObject
from pushgate.errors import NotFound
from pushgate.services.credential_checks import check_credential, check_endpoint
from pushgate.services.vault import Vault
from pushgate.store.uow import UnitOfWork


async def set_credential(
    uow: UnitOfWork,
    vault: Vault,
    app_id: int,
    provider: str,
    fields: JsonObject,
    endpoint: str | None,
    now: datetime,
) -> CredentialInfo:
    """Validate and store (replacing any previous) credential of one provider."""
    checked = check_credential(provider, fields)
    return await uow.credentials.put(
        app_id,
        provider,
        checked.settings,
        vault.seal(checked.secret),
        check_endpoint(endpoint),
        now,
    )


async def get_credential(uow: UnitOfWork, app_id: int, provider: str) -> CredentialInfo:
    info = await uow.credentials.get(app_id, provider)
    if info is None:
        raise NotFound("no credential for this provider", field="provider")
    return info


async def delete_credential(uow: UnitOfWork, app_id: int, provider: str) -> None:
    if not await uow.credentials.delete(app_id, provider):
        raise NotFound("no credential for this provider", field="provider")
