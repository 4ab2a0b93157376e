"""Sending to one app user named by name, e-mail or external id (the POST Push API's use case).

The caller proves itself with an app id and an API key of that app holding a push role,
both in the request body; the user is resolved before anything is stored, so a refused
request leaves nothing behind. The send itself is the ordinary one (services/notifications.py):
a users target, delivered inline, with a result per registration of that user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pushgate.delivery.engine import DeliveryEngine
from pushgate.domain.notifications import NotificationRequest
from pushgate.domain.payload import DeliveryOptions, Message
from pushgate.domain.records import AppUser
from pushgate.domain.roles import Role, grants
from pushgate.domain.targets import Target, TargetKind
from pushgate.errors import (
    CredentialRejected,
    InvalidInput,
    MissingField,
    NotFound,
    Unauthenticated,
)
from pushgate.services import notifications
from pushgate.services.auth import Authenticator
from pushgate.store.uow import UnitOfWork, unit_of_work

# Any role that sends: the caller names one user, which is neither one device nor the app.
PUSH_ROLES = (Role.PUSH_SINGLE, Role.PUSH_MULTIPLE, Role.PUSH_ALL)
# One message for every wrong pair (unknown key, another app's key, the admin key, a
# company id that does not exist), so the answer never tells which app ids exist.
_WRONG_PAIR = "the company id and key do not match an API key of that app"


@dataclass(frozen=True, slots=True)
class UserSelector:
    """Names one user; every identifier given must name that same user."""

    name: str | None = None
    email: str | None = None
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class UserPushed:
    user: AppUser
    accepted: notifications.Accepted


async def authorize_sender(auth: Authenticator, app_id: int | None, key: str | None) -> int:
    """The app id, when `key` is an API key of app `app_id` with a push role (401 otherwise)."""
    if not key or app_id is None:
        raise Unauthenticated(_WRONG_PAIR, field="key")
    try:
        principal = await auth.by_key(key)
    except Unauthenticated:
        raise CredentialRejected(_WRONG_PAIR, field="key") from None
    if principal.is_admin or principal.app_id != app_id:
        raise Unauthenticated(_WRONG_PAIR, field="key")
    # The caller holds a key of this very app: telling it which role is missing leaks nothing.
    if not any(grants(principal.roles, role) for role in PUSH_ROLES):
        names = ", ".join(role.value for role in PUSH_ROLES)
        raise Unauthenticated(f"this key has no push role ({names})", field="key")
    return app_id


async def resolve_user(uow: UnitOfWork, app_id: int, selector: UserSelector) -> AppUser:
    """The one user every given identifier names.

    Each identifier must name exactly one user (404 when none, 400 when an e-mail or
    external id is shared by several users), and all of them the same user (400).
    """
    found: list[tuple[str, AppUser]] = []
    if selector.name:
        user = await uow.users.get(app_id, selector.name)
        if user is None:
            raise NotFound("no user with this name", field="user_name")
        found.append(("user_name", user))
    if selector.email:
        found.append(("email", _one(await uow.users.find(app_id, email=selector.email), "email")))
    if selector.external_id:
        matches = await uow.users.find(app_id, external_id=selector.external_id)
        found.append(("external_id", _one(matches, "external_id")))
    if not found:
        raise MissingField("name the user by name, e-mail or external id", field="user_name")
    first_field, user = found[0]
    for field, other in found[1:]:
        if other.id != user.id:
            raise InvalidInput(
                f"names another user than the {_WORDS[first_field]} does", field=field
            )
    return user


def _one(matches: list[AppUser], field: str) -> AppUser:
    if not matches:
        raise NotFound(f"no user with this {_WORDS[field]}", field=field)
    if len(matches) > 1:
        raise InvalidInput(
            f"several users have this {_WORDS[field]}; name the user by name", field=field
        )
    return matches[0]


_WORDS = {"user_name": "name", "email": "e-mail", "external_id": "external id"}


async def push_to_user(
    engine: DeliveryEngine,
    auth: Authenticator,
    *,
    app_id: int | None,
    key: str | None,
    selector: UserSelector,
    message: Message,
    options: DeliveryOptions,
    now: datetime,
) -> UserPushed:
    """Authenticate, resolve the user, then send to every active registration of that user."""
    verified = await authorize_sender(auth, app_id, key)
    async with unit_of_work(engine.db, readonly=True) as uow:
        user = await resolve_user(uow, verified, selector)
    request = NotificationRequest(Target(TargetKind.USERS, users=(user.name,)), message, options)
    accepted = await notifications.accept(
        engine, verified, request, idempotency_key=None, body_hash=None, now=now
    )
    # Without an idempotency key there is nothing to replay.
    assert isinstance(accepted, notifications.Accepted)  # noqa: S101
    return UserPushed(user, accepted)
