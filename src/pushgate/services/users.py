"""App users: create, read, update, delete; their passwords, tokens and the JWT secret."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import argon2

from pushgate.domain.names import check_user_name
from pushgate.domain.records import WRITABLE_USER_FIELDS, AppUser, UserToken
from pushgate.errors import InvalidInput, NotFound
from pushgate.services.auth import hash_secret, new_secret
from pushgate.services.vault import Vault
from pushgate.store.uow import UnitOfWork

USER_TOKEN_PREFIX = "pgu"  # noqa: S105 - the prefix of issued user tokens, not a secret
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this bounds the work per sign-in
MAX_TOKEN_TTL = timedelta(days=366)
# argon2id with OWASP's minimum profile (19 MiB, 2 passes, 1 lane): ~50 ms here, paid once
# per sign-in and then cached (services/user_auth.py); the library default (64 MiB, 4 lanes)
# measured 300-400 ms on this 2-core machine under load.
_HASHER = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_DUMMY_TEXT = "pushgate-dummy"  # hashed once: a wrong name costs what a wrong password does
_dummy_hash: str | None = None


def set_password_cost(memory_kib: int, passes: int) -> None:
    """The argon2id parameters of new hashes (Settings.password_hash_*), set at start-up."""
    global _HASHER, _dummy_hash  # one process-wide policy, set by the runtime
    _HASHER = argon2.PasswordHasher(time_cost=passes, memory_cost=memory_kib, parallelism=1)
    _dummy_hash = None


async def verify_password_of_nobody(password: str) -> None:
    """Spend what verifying a real user's password costs, for a name that has none.

    So an unknown name answers as slowly as a wrong password (no user enumeration by
    timing): the hash is made once with the current parameters.
    """
    global _dummy_hash  # a cache of one value
    if _dummy_hash is None:
        _dummy_hash = await asyncio.to_thread(_HASHER.hash, _DUMMY_TEXT)
    await verify_password(_dummy_hash, password)


_SECRET_NAME = "secret"  # noqa: S105 - the key of the sealed JSON object


@dataclass(frozen=True, slots=True)
class UserValues:
    """A create or patch: the fields named change; `password` None leaves it, "" clears it."""

    fields: dict[str, Any]
    password: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.fields) - WRITABLE_USER_FIELDS
        if unknown:
            raise ValueError(f"not writable: {sorted(unknown)}")


def _check_password(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"must be {MIN_PASSWORD_LENGTH}-{MAX_PASSWORD_LENGTH} characters", field="password"
        )


async def hash_password(password: str) -> str:
    """argon2id, in a thread: the hash is deliberately slow and must not stall the loop."""
    _check_password(password)
    return await asyncio.to_thread(_HASHER.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    if len(password) > MAX_PASSWORD_LENGTH:
        return False

    def _verify() -> bool:
        try:
            return _HASHER.verify(password_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    return await asyncio.to_thread(_verify)


async def _values(values: UserValues) -> dict[str, Any]:
    written = dict(values.fields)
    if values.password is not None:
        written["password_hash"] = await hash_password(values.password) if values.password else None
    return written


async def create_user(
    uow: UnitOfWork, app_id: int, name: str, values: UserValues, now: datetime
) -> AppUser:
    """Create a user (409 when the name is taken in this app)."""
    check_user_name(name)
    return await uow.users.create(app_id, name, await _values(values), now)


async def put_user(
    uow: UnitOfWork, app_id: int, name: str, values: UserValues, now: datetime
) -> tuple[AppUser, bool]:
    """Create the user, or change the fields named; True when created."""
    found = await uow.users.get(app_id, name)
    if found is None:
        return await create_user(uow, app_id, name, values, now), True
    return await update_user(uow, app_id, name, values, now), False


async def get_user(uow: UnitOfWork, app_id: int, name: str) -> AppUser:
    found = await uow.users.get(app_id, name)
    if found is None:
        raise NotFound("no user with this name", field="user")
    return found


async def update_user(
    uow: UnitOfWork, app_id: int, name: str, values: UserValues, now: datetime
) -> AppUser:
    found = await get_user(uow, app_id, name)
    written = await _values(values)
    if written:
        await uow.users.update(found.id, written, now)
    return await get_user(uow, app_id, name)


async def delete_user(uow: UnitOfWork, app_id: int, name: str) -> list[str]:
    """Delete the user and its tokens; the hashes of those tokens, to evict caches.

    Registrations keep their user name: the devices are still there, and deleting a user
    account is not unregistering its devices (use the registrations API for that).
    """
    found = await get_user(uow, app_id, name)
    hashes = await uow.user_tokens.hashes_of_user(found.id)
    await uow.users.delete(app_id, name)
    return hashes


@dataclass(frozen=True, slots=True)
class IssuedUserToken:
    token: str
    record: UserToken


async def issue_user_token(
    uow: UnitOfWork, app_id: int, name: str, now: datetime, ttl: timedelta | None
) -> IssuedUserToken:
    """A new opaque token for the user (shown once; only its hash is kept)."""
    if ttl is not None and not timedelta(0) < ttl <= MAX_TOKEN_TTL:
        raise InvalidInput(
            f"must be more than 0 and at most {MAX_TOKEN_TTL.days} days", field="ttl_s"
        )
    user = await get_user(uow, app_id, name)
    token = new_secret(USER_TOKEN_PREFIX)
    record = await uow.user_tokens.create(
        secrets.token_hex(16),
        app_id,
        user.id,
        hash_secret(token),
        now,
        now + ttl if ttl is not None else None,
    )
    return IssuedUserToken(token, record)


async def list_user_tokens(uow: UnitOfWork, app_id: int, name: str) -> list[UserToken]:
    user = await get_user(uow, app_id, name)
    return await uow.user_tokens.list_for_user(user.id)


async def revoke_user_token(uow: UnitOfWork, app_id: int, name: str, token_id: str) -> str:
    """Revoke one token; its hash, to evict caches."""
    user = await get_user(uow, app_id, name)
    token_hash = await uow.user_tokens.delete(user.id, token_id)
    if token_hash is None:
        raise NotFound("no token with this id", field="token_id")
    return token_hash


async def rotate_user_token_secret(
    uow: UnitOfWork, vault: Vault, app_id: int, now: datetime
) -> str:
    """A new HS256 secret for user JWTs minted by the app's back end (shown once).

    JWTs signed with the previous secret stop verifying at once.
    """
    secret = secrets.token_urlsafe(32)
    await uow.apps.update(app_id, {"user_token_secret": vault.seal({_SECRET_NAME: secret})}, now)
    return secret


async def delete_user_token_secret(uow: UnitOfWork, app_id: int, now: datetime) -> None:
    if await uow.apps.user_token_secret(app_id) is None:
        raise NotFound("this app has no user-token secret", field="secret")
    await uow.apps.update(app_id, {"user_token_secret": None}, now)


async def user_token_secret(uow: UnitOfWork, vault: Vault, app_id: int) -> bytes | None:
    sealed = await uow.apps.user_token_secret(app_id)
    if sealed is None:
        return None
    return str(vault.open(sealed)[_SECRET_NAME]).encode()
