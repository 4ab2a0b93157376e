"""Webhooks of an app: endpoints that get its events as signed POSTs (docs/webhooks.md).

A webhook has a name (unique in its app), a URL, the event kinds it wants and a signing
secret, shown once when created or rotated and sealed under the master key at rest. Its URL
must pass the SSRF guard now and again at every send (delivery/webhook_sender.py): http or
https, no credentials in it, and a host that resolves only to public addresses, unless the
operator's allow-list or fake-provider mode admits it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from pushgate.domain.names import check_name
from pushgate.domain.webhooks import (
    DeliveryState,
    Webhook,
    WebhookDelivery,
    parse_kinds,
)
from pushgate.errors import InvalidInput, NotFound
from pushgate.providers.addresses import check_public_url
from pushgate.services.auth import new_secret
from pushgate.services.vault import Vault
from pushgate.store.engine import Database
from pushgate.store.uow import UnitOfWork

MAX_URL_LENGTH = 2048
_CHECK_S = 2.0  # DNS for the registration-time SSRF check
_STATES = (DeliveryState.PENDING, DeliveryState.DELIVERED, DeliveryState.FAILED)


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    """The SSRF guard's settings: endpoint_allow_private and endpoint_allow_hosts."""

    allow_private: bool = False
    allow_hosts: frozenset[str] = frozenset()


async def check_webhook_url(url: str, policy: UrlPolicy, *, field: str = "url") -> str:
    """Refuse a URL a worker must not call (module docstring), naming `field`."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"must be at most {MAX_URL_LENGTH} characters", field=field)
    try:
        scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    except ValueError:
        raise InvalidInput("must be a valid URL", field=field) from None
    if scheme not in ("http", "https"):
        raise InvalidInput("must be an http:// or https:// URL", field=field)
    try:
        async with asyncio.timeout(_CHECK_S):
            await check_public_url(
                url,
                allow_private=policy.allow_private,
                allow_hosts=policy.allow_hosts,
                field=field,
                scheme=scheme,
            )
    except TimeoutError:
        raise InvalidInput("names a host that did not resolve in time", field=field) from None
    return url


def _seal(vault: Vault, secret: str) -> str:
    return vault.seal({"secret": secret})


def _forget_after_commit(uow: UnitOfWork, db: Database, app_id: int) -> None:
    """This process sees the change at once (the hot registration path caches interest)."""

    async def forget() -> None:
        db.event_interest.forget(app_id)

    uow.after_commit.append(forget)


async def create_webhook(
    uow: UnitOfWork,
    db: Database,
    vault: Vault,
    policy: UrlPolicy,
    app_id: int,
    *,
    name: str,
    url: str,
    kinds: list[str],
    now: datetime,
) -> tuple[Webhook, str]:
    """Create a webhook; its signing secret is returned this once."""
    checked_name = check_name(name, field="name")
    checked_kinds = parse_kinds(kinds)
    await check_webhook_url(url, policy)
    secret = new_secret("pgw")
    webhook = await uow.webhooks.create(
        app_id, checked_name, url, checked_kinds, _seal(vault, secret), now
    )
    _forget_after_commit(uow, db, app_id)
    return webhook, secret


async def update_webhook(
    uow: UnitOfWork,
    db: Database,
    vault: Vault,
    policy: UrlPolicy,
    app_id: int,
    name: str,
    *,
    url: str | None,
    kinds: list[str] | None,
    rotate_secret: bool,
    now: datetime,
) -> tuple[Webhook, str | None]:
    """Change the URL, the kinds, or the secret (the new one is returned this once)."""
    checked_kinds = parse_kinds(kinds) if kinds is not None else None
    if url is not None:
        await check_webhook_url(url, policy)
    secret = new_secret("pgw") if rotate_secret else None
    webhook = await uow.webhooks.update(
        app_id,
        name,
        url=url,
        kinds=checked_kinds,
        sealed_secret=_seal(vault, secret) if secret else None,
        now=now,
    )
    if webhook is None:
        raise NotFound("no webhook with this name", field="name")
    _forget_after_commit(uow, db, app_id)
    return webhook, secret


async def get_webhook(uow: UnitOfWork, app_id: int, name: str) -> Webhook:
    webhook = await uow.webhooks.get(app_id, name)
    if webhook is None:
        raise NotFound("no webhook with this name", field="name")
    return webhook


async def list_webhooks(
    uow: UnitOfWork, app_id: int, *, after: str | None, limit: int
) -> list[Webhook]:
    return await uow.webhooks.list_page(app_id, after=after, limit=limit)


async def delete_webhook(uow: UnitOfWork, db: Database, app_id: int, name: str) -> None:
    """Delete the webhook with its undelivered events (nothing more is sent to it)."""
    if not await uow.webhooks.delete(app_id, name):
        raise NotFound("no webhook with this name", field="name")
    _forget_after_commit(uow, db, app_id)


async def list_deliveries(
    uow: UnitOfWork,
    app_id: int,
    name: str,
    *,
    status: str | None,
    after: int | None,
    limit: int,
) -> list[WebhookDelivery]:
    """The webhook's deliveries, newest first, with their attempts and last answer."""
    if status is not None and status not in _STATES:
        raise InvalidInput(f"must be one of {', '.join(_STATES)}", field="status")
    webhook = await get_webhook(uow, app_id, name)
    return await uow.webhooks.deliveries_page(webhook.id, status=status, after=after, limit=limit)
