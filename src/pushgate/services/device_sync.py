"""A signed-in app user's own devices, and one device token synced to several of its accounts.

A device signed in to several accounts of one app has one push token per provider. The
registration of (app, platform, token) belongs to one user (the one who registered or
synced it last); sync adds the other accounts the device is signed in to, each proven by a
sync token that account obtained (`issue_sync_token`). A send to any of them reaches the
device (the users audience matches synced accounts, store/repos/audience.py).

Sync token: `<b64 user id>.<b64 issue time>.<b64 HMAC-SHA256>` (base64url, unpadded), the
shape of the Discord seed's example. The MAC covers the app id, so a token names its app and
user; it expires SYNC_TOKEN_TTL after issue. Holding one lets a device receive that
account's pushes, hence the short life.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pushgate.domain.platforms import ResolvedPlatform, resolve_platform
from pushgate.domain.records import Registration, RegistrationWrite
from pushgate.providers.base import ProviderOptions
from pushgate.services.registrations import delete_registration, register_device
from pushgate.services.user_auth import UserPrincipal
from pushgate.services.vault import Vault
from pushgate.store.engine import Database
from pushgate.store.uow import unit_of_work

SYNC_TOKEN_TTL = timedelta(days=7)
MAX_SYNC_TOKENS = 100  # accounts one sync names; a phone holds a handful
_KEY_PURPOSE = "device-sync-token"
_CLOCK_SKEW_S = 60  # a token issued this far "in the future" (another node's clock) passes
_TIME_BYTES = 4  # unsigned seconds since the epoch, big-endian, as in the seed's example


@dataclass(frozen=True, slots=True)
class DeviceToken:
    """A push token as a device names it: a provider alias and the provider's token."""

    provider: str
    token: str


async def register_user_devices(
    db: Database,
    user: UserPrincipal,
    devices: Sequence[DeviceToken],
    now: datetime,
    *,
    endpoints: ProviderOptions | None = None,
) -> list[Registration]:
    """Register each token as the user's; a token another user held moves to this one.

    The provider names the environment whole: an alias without `_internal` is production,
    whatever the registration said before. Every provider is resolved before anything is
    written (the token's shape is register_device's check, the dialects' schemas check it
    up front).
    """
    resolved = [resolve_platform(device.provider, field="provider") for device in devices]
    registered: list[Registration] = []
    for device, platform in zip(devices, resolved, strict=True):
        async with unit_of_work(db) as uow:
            await uow.registration_accounts.clear_unless_owner(
                user.app_id, platform.platform, device.token, user.user_name
            )
        registered.append(await _register(db, user, device, platform, now, endpoints))
    return registered


async def unregister_user_device(
    db: Database, user: UserPrincipal, device: DeviceToken, now: datetime
) -> None:
    """Stop pushing the user's notifications to this token; unknown tokens are no error.

    The owner's unregistration deletes the registration (and its synced accounts: the
    device signed out of the account that registered it); a synced account only leaves it.
    """
    platform = resolve_platform(device.provider, field="provider").platform
    async with unit_of_work(db) as uow:
        found = await uow.registration_accounts.device(user.app_id, platform, device.token)
        if found is None:
            return
        registration_id, owner = found
        if owner == user.user_name:
            await delete_registration(uow, user.app_id, registration_id, now)
        else:
            await uow.registration_accounts.remove(registration_id, user.user_name)


def issue_sync_token(vault: Vault, user: UserPrincipal, now: datetime) -> str:
    """A token proving, until it expires, that a device may receive this user's pushes."""
    user_part = _b64(str(user.user_id).encode())
    time_part = _b64(int(now.timestamp()).to_bytes(_TIME_BYTES, "big"))
    return f"{user_part}.{time_part}.{_mac(_key(vault), user.app_id, user_part, time_part)}"


async def sync_device(
    db: Database,
    vault: Vault,
    user: UserPrincipal,
    device: DeviceToken,
    sync_tokens: Sequence[str],
    now: datetime,
    *,
    endpoints: ProviderOptions | None = None,
) -> list[str]:
    """Register the token as the user's, synced to exactly the accounts of the valid tokens.

    Accounts synced before but not named now are dropped. Returns the tokens that are
    malformed, forged, expired, of another app or of a user that no longer exists, in the
    order given, each once.
    """
    platform = resolve_platform(device.provider, field="provider")
    given = list(dict.fromkeys(sync_tokens))
    claimed: dict[str, int] = {}
    key = _key(vault)
    for token in given:
        user_id = _user_id_of(key, user.app_id, token, now)
        if user_id is not None:
            claimed[token] = user_id
    names: dict[int, str] = {}
    async with unit_of_work(db, readonly=True) as uow:
        for user_id in set(claimed.values()):
            found = await uow.users.get_by_id(user_id)
            if found is not None and found.app_id == user.app_id:
                names[user_id] = found.name
    registration = await _register(db, user, device, platform, now, endpoints)
    synced = {names[i] for i in claimed.values() if i in names} - {user.user_name}
    async with unit_of_work(db) as uow:
        await uow.registration_accounts.replace(registration.id, user.user_name, synced, now)
    return [token for token in given if claimed.get(token) not in names]


async def _register(
    db: Database,
    user: UserPrincipal,
    device: DeviceToken,
    platform: ResolvedPlatform,
    now: datetime,
    endpoints: ProviderOptions | None,
) -> Registration:
    write = RegistrationWrite(
        values={"user_name": user.user_name, "sandbox": platform.sandbox is True}
    )
    registration, _ = await register_device(
        db, user.app_id, device.provider, device.token, write, now, endpoints=endpoints
    )
    return registration


def _user_id_of(key: bytes, app_id: int, token: str, now: datetime) -> int | None:
    """The user a sync token of this app names, if it is intact and current."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        return None
    user_part, time_part, mac = parts
    expected = _mac(key, app_id, user_part, time_part)
    # The MAC first: nothing of a forged token is decoded.
    if not hmac.compare_digest(mac.encode(), expected.encode()):
        return None
    try:
        user_id = int(_unb64(user_part).decode("ascii"))
        issued = int.from_bytes(_unb64(time_part), "big")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    age_s = now.timestamp() - issued
    if not -_CLOCK_SKEW_S <= age_s <= SYNC_TOKEN_TTL.total_seconds():
        return None
    return user_id


def _key(vault: Vault) -> bytes:
    return vault.derive(_KEY_PURPOSE)


def _mac(key: bytes, app_id: int, user_part: str, time_part: str) -> str:
    message = f"{app_id}.{user_part}.{time_part}".encode()
    return _b64(hmac.new(key, message, hashlib.sha256).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
