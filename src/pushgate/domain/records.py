"""The stored aggregates as plain values, passed between store, services and front doors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pushgate.domain.platforms import Platform
from pushgate.domain.roles import Role

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class App:
    id: int
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
    # {provider: sends per second} this app may send at; empty: no limit of ours.
    rate_limits: dict[str, float] = field(default_factory=dict)

    @property
    def company_id(self) -> int:
        """The POST Push API dialect names apps by a number; it is the app's row id."""
        return self.id


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    app_id: int
    alias: str
    roles: frozenset[Role]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CredentialInfo:
    """What may be shown of a provider credential: never its secret parts."""

    provider: str
    settings: JsonObject
    endpoint: str | None
    created_at: datetime
    updated_at: datetime
    # Set by the mass-invalidation guard (see delivery/sender.py), cleared by a new credential.
    suspect_at: datetime | None = None
    suspect_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Topic:
    id: int
    app_id: int
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
    subscribers: int | None = None


@dataclass(frozen=True, slots=True)
class Registration:
    id: str
    app_id: int
    platform: Platform
    token: str
    p256dh: str | None
    auth_secret: str | None
    sandbox: bool
    device_id: str | None
    user_name: str | None
    user_uuid: str | None
    email: str | None
    external_id: str | None
    locale: str | None
    time_zone: str | None
    form_factor: str | None
    device_model: str | None
    push_group: str | None
    active: bool
    deactivated_at: datetime | None
    deactivation_reason: str | None
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime
    topics: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    user_uuid_history: tuple[str, ...] = field(default=())


# Registration columns a client may write; the rest are the service's to set.
WRITABLE_REGISTRATION_FIELDS: frozenset[str] = frozenset(
    {
        "p256dh",
        "auth_secret",
        "sandbox",
        "device_id",
        "user_name",
        "user_uuid",
        "email",
        "external_id",
        "locale",
        "time_zone",
        "form_factor",
        "device_model",
        "push_group",
    }
)


@dataclass(frozen=True, slots=True)
class RegistrationWrite:
    """An upsert or patch: the fields it names change, the others are kept."""

    values: dict[str, Any]
    topics: tuple[str, ...] | None = None
    capabilities: tuple[str, ...] | None = None
    active: bool | None = None

    def __post_init__(self) -> None:
        unknown = set(self.values) - WRITABLE_REGISTRATION_FIELDS
        if unknown:
            raise ValueError(f"not writable: {sorted(unknown)}")


@dataclass(frozen=True, slots=True)
class RegistrationFilter:
    user_name: str | None = None
    user_uuid: str | None = None
    push_group: str | None = None
    platform: Platform | None = None
    topic: str | None = None
    capability: str | None = None
    active: bool | None = None
    device_id: str | None = None
    token_prefix: str | None = None  # the console's search: tokens starting with this


@dataclass(frozen=True, slots=True)
class AppUser:
    """An end user of an app; devices authenticate as one and registrations carry its name."""

    id: int
    app_id: int
    name: str
    has_password: bool
    email: str | None
    external_id: str | None
    user_uuid: str | None
    created_at: datetime
    updated_at: datetime


# User columns a client may write (the password is written as its hash, by the service).
WRITABLE_USER_FIELDS: frozenset[str] = frozenset({"email", "external_id", "user_uuid"})


@dataclass(frozen=True, slots=True)
class UserToken:
    """A token pushgate issued to a user: what may be shown of it (never the token)."""

    id: str
    user_id: int
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class PushPlatform:
    """One of an app's named platforms (ServiceNow's Push Platform record)."""

    app_id: int
    name: str
    platform: Platform
    sandbox: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Event:
    """Something an operator or a webhook should hear of, in the order it happened."""

    id: int
    app_id: int
    kind: str
    subject: str | None
    data: JsonObject
    created_at: datetime
