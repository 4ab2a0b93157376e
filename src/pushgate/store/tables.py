"""The schema, as SQLAlchemy Core tables. Migrations in store/migrations create and upgrade it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC in and out; SQLite has no time zones, so it stores naive UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)  # noqa: S101 - the column type guarantees it
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _times() -> list[Column[Any]]:
    return [
        Column("created_at", UtcDateTime(), nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
    ]


apps = Table(
    "apps",
    metadata,
    # The numeric id is also the app's `company_id` in the POST Push API dialect.
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    *_times(),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("app_id", ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(128), nullable=False),
    # SHA-256 of a 256-bit random key: a slow hash buys nothing against such entropy.
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("roles", String(255), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("app_id", "alias"),
)

system_secrets = Table(
    "system_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

credentials = Table(
    "credentials",
    metadata,
    Column("app_id", ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
    Column("provider", String(16), primary_key=True),
    # Non-secret settings (key id, team id, topic, project id, public key...) as JSON.
    Column("settings", Text, nullable=False),
    # The secret parts as one Fernet token under the master key.
    Column("sealed_secret", Text, nullable=False),
    Column("endpoint", String(2048), nullable=True),
    *_times(),
)

registrations = Table(
    "registrations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    Column("platform", String(16), nullable=False),
    Column("token", String(2048), nullable=False),
    Column("p256dh", String(255), nullable=True),
    Column("auth_secret", String(255), nullable=True),
    Column("sandbox", Boolean, nullable=False, default=False),
    Column("device_id", String(255), nullable=True),
    Column("user_name", String(255), nullable=True),
    Column("user_uuid", String(255), nullable=True),
    Column("email", String(320), nullable=True),
    Column("external_id", String(255), nullable=True),
    Column("locale", String(35), nullable=True),
    Column("time_zone", String(64), nullable=True),
    Column("form_factor", String(32), nullable=True),
    Column("device_model", String(255), nullable=True),
    Column("push_group", String(255), nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("deactivated_at", UtcDateTime(), nullable=True),
    Column("deactivation_reason", String(255), nullable=True),
    *_times(),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    UniqueConstraint("app_id", "platform", "token"),
    Index(None, "app_id", "user_name"),
    Index(None, "app_id", "user_uuid"),
    Index(None, "app_id", "push_group"),
    Index(None, "app_id", "device_id"),
)

registration_capabilities = Table(
    "registration_capabilities",
    metadata,
    Column(
        "registration_id",
        ForeignKey("registrations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("name", String(255), primary_key=True),
    Index(None, "name"),
)

# Every global user id a registration has carried, so old ids still reach it (SAP seed).
user_uuid_history = Table(
    "user_uuid_history",
    metadata,
    Column(
        "registration_id",
        ForeignKey("registrations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("user_uuid", String(255), primary_key=True),
    Column("first_seen_at", UtcDateTime(), nullable=False),
    Index(None, "user_uuid"),
)

topics = Table(
    "topics",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("app_id", ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=False, default=""),
    *_times(),
    UniqueConstraint("app_id", "name"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column(
        "registration_id",
        ForeignKey("registrations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Index(None, "topic_id"),
)
