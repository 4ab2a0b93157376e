"""Apps and their API keys."""

from __future__ import annotations

import json
from datetime import datetime

from pushgate.domain.names import check_name
from pushgate.domain.records import ApiKey, App
from pushgate.domain.roles import Role, parse_roles
from pushgate.errors import InvalidInput, NotFound
from pushgate.services.auth import Principal, hash_secret, new_secret
from pushgate.services.credential_checks import PROVIDERS
from pushgate.services.platforms import seed_default_platforms
from pushgate.store.uow import UnitOfWork


async def create_app(uow: UnitOfWork, name: str, description: str, now: datetime) -> App:
    """Create an app; its name is its identifier in every path."""
    app = await uow.apps.create(check_name(name, field="name"), description, now)
    await seed_default_platforms(uow, app.id, now)
    return app


async def list_apps(
    uow: UnitOfWork, principal: Principal, *, after: str | None, limit: int
) -> list[App]:
    """Every app for the admin; an app key sees only its own app."""
    return await uow.apps.list_page(after=after, limit=limit, only_id=principal.app_id)


async def update_app(
    uow: UnitOfWork,
    app: App,
    *,
    name: str | None,
    description: str | None,
    now: datetime,
    rate_limits: dict[str, float] | None = None,
) -> App:
    values: dict[str, str | None] = {}
    if name is not None:
        values["name"] = check_name(name, field="name")
    if description is not None:
        values["description"] = description
    if rate_limits is not None:
        values["rate_limits"] = json.dumps(check_rate_limits(rate_limits)) if rate_limits else None
    return await uow.apps.update(app.id, values, now)


MAX_RATE_PER_S = 1_000_000.0


def check_rate_limits(limits: dict[str, float]) -> dict[str, float]:
    """{provider: sends per second}, each provider known and each rate positive."""
    for provider, rate in limits.items():
        if provider not in PROVIDERS:
            raise InvalidInput(
                f"unknown provider; use {', '.join(PROVIDERS)}", field=f"rate_limits.{provider}"
            )
        if not 0 < rate <= MAX_RATE_PER_S:
            raise InvalidInput(
                f"must be more than 0 and at most {MAX_RATE_PER_S:.0f} sends per second",
                field=f"rate_limits.{provider}",
            )
    return dict(limits)


async def delete_app(uow: UnitOfWork, app: App) -> None:
    """Delete the app with everything it owns (keys, credentials, registrations, topics)."""
    await uow.notifications.delete_for_app(app.id)
    await uow.apps.delete(app.id)


async def create_key(
    uow: UnitOfWork, app_id: int, alias: str, roles: list[str], now: datetime
) -> tuple[ApiKey, str]:
    """Mint a key; the secret is returned this once and only its hash is stored."""
    secret = new_secret("pgk")
    key = await uow.keys.create(
        app_id, check_name(alias, field="alias"), hash_secret(secret), parse_roles(roles), now
    )
    return key, secret


async def get_key(uow: UnitOfWork, app_id: int, alias: str) -> ApiKey:
    key = await uow.keys.get(app_id, alias)
    if key is None:
        raise NotFound("no key with this alias", field="alias")
    return key


async def revoke_key(uow: UnitOfWork, app_id: int, alias: str) -> str:
    """Delete the key; returns its hash so callers can evict caches."""
    key_hash = await uow.keys.delete(app_id, alias)
    if key_hash is None:
        raise NotFound("no key with this alias", field="alias")
    return key_hash


def role_names() -> list[str]:
    return sorted(role.value for role in Role)
