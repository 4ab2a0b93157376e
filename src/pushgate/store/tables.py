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
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
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
    # {provider: sends per second}, JSON; absent: no limit of ours (the provider's still apply).
    Column("rate_limits", Text, nullable=True),
    # The HS256 secret app back ends sign user JWTs with, sealed under the master key.
    Column("user_token_secret", Text, nullable=True),
    *_times(),
    # MobileFirst's application `enabled`: false refuses new messages through that API.
    Column("enabled", Boolean, nullable=False, server_default=true()),
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
    # SHA-256 (hex) of the DER of the client certificate attached to this key (an X.509
    # service key, SAP seed): a TLS client presenting it authenticates as this key.
    Column("cert_sha256", String(64), nullable=True),
    UniqueConstraint("app_id", "alias"),
    Index(None, "cert_sha256", unique=True),
)

# An app's end users (ServiceNow's sys_user, SAP's and MobileFirst's user ids, the POST Push
# API's UserId): what devices authenticate as, and what registrations are grouped by.
app_users = Table(
    "app_users",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("app_id", ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    # scrypt, with its parameters and salt in the value; NULL: password sign-in is off.
    Column("password_hash", String(255), nullable=True),
    Column("email", String(320), nullable=True),
    Column("external_id", String(255), nullable=True),
    Column("user_uuid", String(255), nullable=True),  # the global user id
    *_times(),
    UniqueConstraint("app_id", "name"),
    Index(None, "app_id", "email"),
    Index(None, "app_id", "external_id"),
    Index(None, "app_id", "user_uuid"),
)

# Opaque tokens pushgate issued to a user; only their SHA-256 is kept (256 random bits).
user_tokens = Table(
    "user_tokens",
    metadata,
    Column("id", String(32), primary_key=True),  # public, names the token for revocation
    Column("app_id", ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ForeignKey("app_users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=True),
    Index(None, "user_id"),
)

# An app's named push platforms (ServiceNow's sys_push_platform): a vendor-facing name
# mapped onto a provider platform. New apps start with Apple -> apns and Android -> fcm.
push_platforms = Table(
    "push_platforms",
    metadata,
    Column("app_id", ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("platform", String(16), nullable=False),
    Column("sandbox", Boolean, nullable=False, default=False),
    *_times(),
)

# What happened that an operator or a webhook should hear of (a credential turned suspect,
# ...): an append-only log per app, read in id order.
events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("app_id", ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("subject", String(255), nullable=True),
    Column("data", Text, nullable=False),  # JSON object
    Column("created_at", UtcDateTime(), nullable=False),
    Index(None, "app_id", "id"),
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
    # Set by the mass-invalidation guard: most of a batch came back "invalid token", which
    # means our configuration (sandbox/production, topic) is wrong, not that devices died.
    Column("suspect_at", UtcDateTime(), nullable=True),
    Column("suspect_reason", Text, nullable=True),
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
    Index(None, "app_id", "device_id"),
    # Fan-out pages through an audience in id order (keyset): these serve "the whole app" and
    # "a push group" without sorting the audience on every page.
    Index(None, "app_id", "id"),
    Index(None, "app_id", "push_group", "id"),
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
    Index(None, "name", "registration_id"),  # fan-out by capability, in id order
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

# Further accounts a registration's device receives pushes for, besides its own user_name
# (Discord seed's device sync: one device token, several signed-in accounts). Written only by
# services/device_sync.py; the users audience matches them like user_name while the
# registration still belongs to `owner_name`, the user who synced it: a token that moves to
# another user, through whichever API, leaves the previous owner's accounts behind.
registration_accounts = Table(
    "registration_accounts",
    metadata,
    Column(
        "registration_id",
        ForeignKey("registrations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("user_name", String(255), primary_key=True),
    Column("owner_name", String(255), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index(None, "user_name"),
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
    Index(None, "topic_id", "registration_id"),  # fan-out by topic, in id order
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_id", ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),  # the target kind
    Column("lane", String(8), nullable=False),  # fast (one device, high priority) or bulk
    Column("state", String(16), nullable=False),  # scheduled, queued, sending, done, cancelled
    # The validated request (target, message, options) as JSON: what the workers deliver.
    Column("request", Text, nullable=False),
    # Bumped when a recovery sweep re-plans the fan-out; work of an older epoch is dropped.
    Column("epoch", Integer, nullable=False, server_default="0"),
    Column("send_at", UtcDateTime(), nullable=True),
    Column("local_time", Boolean, nullable=False, server_default=false()),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("idempotency_key", String(255), nullable=True),
    Column("request_hash", String(64), nullable=True),
    # The first answer, replayed to a request repeating the Idempotency-Key.
    Column("response", Text, nullable=True),
    Column("response_status", SmallInteger, nullable=True),
    # Progress: registrations in batches still open, batches still open, then the outcome of
    # every registration reached. QUEUED = planned + targeted - (every final status).
    Column("planned", BigInteger, nullable=False, server_default="0"),
    Column("batches_open", Integer, nullable=False, server_default="0"),
    Column("fanout_done", Boolean, nullable=False, server_default=false()),
    Column("targeted", BigInteger, nullable=False, server_default="0"),
    Column("sent", BigInteger, nullable=False, server_default="0"),
    Column("errors", BigInteger, nullable=False, server_default="0"),
    Column("received", BigInteger, nullable=False, server_default="0"),
    Column("consumed", BigInteger, nullable=False, server_default="0"),
    Column("confirmed", BigInteger, nullable=False, server_default="0"),
    *_times(),
    Column("started_at", UtcDateTime(), nullable=True),
    Column("completed_at", UtcDateTime(), nullable=True),
    UniqueConstraint("app_id", "idempotency_key"),
    Index(None, "app_id", "id"),
    Index(None, "state", "updated_at"),  # the recovery sweep's scan
)

# The database queue (outbox): committed with the notification, claimed with a lease.
jobs = Table(
    "jobs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "notification_id",
        ForeignKey("notifications.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("kind", String(8), nullable=False),  # fanout (a cursor) or batch (a range)
    Column("lane", String(8), nullable=False),
    Column("epoch", Integer, nullable=False),
    # Keyset range of registration ids: (after_id, upto_id]; fanout jobs have no upper bound.
    Column("after_id", String(32), nullable=True),
    Column("upto_id", String(32), nullable=True),
    Column("expected", Integer, nullable=False, server_default="0"),
    Column("ids", Text, nullable=True),  # explicit registration ids (JSON), e.g. local time
    Column("available_at", UtcDateTime(), nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UtcDateTime(), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Index(None, "lane", "available_at"),
    Index(None, "notification_id"),
)

# One row per registration reached, written once per attempt batch. Keyed by the two
# time-ordered ids (appends, not random inserts); no foreign keys on this hot table: rows
# go with their notification (services delete them), and a deleted registration keeps
# its delivery history.
deliveries = Table(
    "deliveries",
    metadata,
    Column("notification_id", String(32), primary_key=True),
    Column("registration_id", String(32), primary_key=True),
    Column("status", SmallInteger, nullable=False),
    Column("code", SmallInteger, nullable=False),
    Column("attempts", SmallInteger, nullable=False),
    Column("platform", String(16), nullable=False),
    Column("reason", String(255), nullable=True),
    Column("provider_ref", String(128), nullable=True),
    Column("next_attempt_at", UtcDateTime(), nullable=True),  # QUEUED: when to retry
    Column("updated_at", UtcDateTime(), nullable=False),
    sqlite_with_rowid=False,
)
# Batches whose results are recorded, for queues that may deliver a job twice (Redis
# Streams): a batch redelivered after its results were committed is recognised here.
batch_marks = Table(
    "batch_marks",
    metadata,
    Column(
        "notification_id",
        ForeignKey("notifications.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("batch_key", String(100), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

# Retries come due from here (status 0 = QUEUED).
Index(
    "ix_deliveries_due",
    deliveries.c.next_attempt_at,
    sqlite_where=deliveries.c.status == 0,
    postgresql_where=deliveries.c.status == 0,
)

# An app's OAuth confidential clients (MobileFirst's): the token endpoint exchanges their
# id and secret for bearer tokens carrying some of their scopes. Only the secret's SHA-256 is
# kept (256 random bits, as API keys).
oauth_clients = Table(
    "oauth_clients",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("app_id", ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    Column("client_id", String(64), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", Text, nullable=False),  # space-separated
    Column("created_at", UtcDateTime(), nullable=False),
    Index(None, "app_id"),
)

# Webhooks: an app's endpoints that get its events as signed POSTs. The secret is sealed under
# the master key (the sender signs with it). The head of each webhook's line of deliveries is
# worked by one process at a time: lease_owner/lease_until, and next_attempt_at while the head
# waits for a retry (docs/decisions.md, "Webhooks").
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("app_id", ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("sealed_secret", Text, nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UtcDateTime(), nullable=True),
    *_times(),
    UniqueConstraint("app_id", "name"),
)

# The event kinds each webhook subscribes to ("*": all), in the order given.
webhook_kinds = Table(
    "webhook_kinds",
    metadata,
    Column("webhook_id", ForeignKey("webhooks.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(64), primary_key=True),
    Column("position", SmallInteger, nullable=False),
)

# One event for one webhook: written in the event's transaction (so none is lost), delivered
# in id order per webhook, kept a while afterwards to show what happened.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("webhook_id", ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),  # pending, delivered, failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_status", SmallInteger, nullable=True),  # HTTP status of the last attempt
    Column("last_error", String(255), nullable=True),
    Column("last_attempt_at", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("completed_at", UtcDateTime(), nullable=True),
    Index(None, "webhook_id", "id"),
    Index(None, "event_id"),
)
# A webhook's line: its pending deliveries in id order (the sender's head-of-line read).
Index(
    "ix_webhook_deliveries_pending",
    webhook_deliveries.c.webhook_id,
    webhook_deliveries.c.id,
    sqlite_where=webhook_deliveries.c.status == "pending",
    postgresql_where=webhook_deliveries.c.status == "pending",
)

# Console sign-ins (console/, docs/operations.md "Console"): the SHA-256 of the session
# cookie's random token, never the token; the key the session was opened with (NULL: the admin
# key) and that key's hash, so revoking or replacing the key ends the session; the session's
# CSRF token; and its absolute expiry.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("key_id", ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=True),
    Column("key_hash", String(64), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Index(None, "key_id"),
    Index(None, "expires_at"),
)
