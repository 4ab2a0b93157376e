"""delivery: notifications, the job queue, deliveries; fan-out indexes; limits and suspects

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pushgate.store.tables import UtcDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _counter(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")


def upgrade() -> None:
    with op.batch_alter_table("apps") as batch_op:
        batch_op.add_column(sa.Column("rate_limits", sa.Text(), nullable=True))
    with op.batch_alter_table("credentials") as batch_op:
        batch_op.add_column(sa.Column("suspect_at", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("suspect_reason", sa.Text(), nullable=True))
    # Keyset fan-out indexes: audiences are paged in registration-id order.
    op.drop_index("ix_registrations_app_id_push_group", table_name="registrations")
    op.create_index("ix_registrations_app_id_id", "registrations", ["app_id", "id"])
    op.create_index(
        "ix_registrations_app_id_push_group_id", "registrations", ["app_id", "push_group", "id"]
    )
    op.drop_index("ix_subscriptions_topic_id", table_name="subscriptions")
    op.create_index(
        "ix_subscriptions_topic_id_registration_id",
        "subscriptions",
        ["topic_id", "registration_id"],
    )
    op.drop_index("ix_registration_capabilities_name", table_name="registration_capabilities")
    op.create_index(
        "ix_registration_capabilities_name_registration_id",
        "registration_capabilities",
        ["name", "registration_id"],
    )
    _create_notifications()
    _create_jobs()
    _create_deliveries()


def _create_notifications() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("app_id", _BIG_ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("lane", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("send_at", UtcDateTime(), nullable=True),
        sa.Column("local_time", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("response_status", sa.SmallInteger(), nullable=True),
        _counter("planned"),
        sa.Column("batches_open", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("fanout_done", sa.Boolean(), nullable=False, server_default=sa.false()),
        _counter("targeted"),
        _counter("sent"),
        _counter("errors"),
        _counter("received"),
        _counter("consumed"),
        _counter("confirmed"),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name="fk_notifications_app_id_apps", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint(
            "app_id", "idempotency_key", name="uq_notifications_app_id_idempotency_key"
        ),
    )
    op.create_index("ix_notifications_app_id_id", "notifications", ["app_id", "id"])
    op.create_index("ix_notifications_state_updated_at", "notifications", ["state", "updated_at"])


def _create_jobs() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("lane", sa.String(8), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("after_id", sa.String(32), nullable=True),
        sa.Column("upto_id", sa.String(32), nullable=True),
        sa.Column("expected", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("ids", sa.Text(), nullable=True),
        sa.Column("available_at", UtcDateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name="fk_jobs_notification_id_notifications",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_lane_available_at", "jobs", ["lane", "available_at"])
    op.create_index("ix_jobs_notification_id", "jobs", ["notification_id"])


def _create_deliveries() -> None:
    op.create_table(
        "deliveries",
        sa.Column("notification_id", sa.String(32), nullable=False),
        sa.Column("registration_id", sa.String(32), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("code", sa.SmallInteger(), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(255), nullable=True),
        sa.Column("provider_ref", sa.String(128), nullable=True),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("notification_id", "registration_id", name="pk_deliveries"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["next_attempt_at"],
        sqlite_where=sa.text("status = 0"),
        postgresql_where=sa.text("status = 0"),
    )


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("jobs")
    op.drop_table("notifications")
    op.drop_index(
        "ix_registration_capabilities_name_registration_id", table_name="registration_capabilities"
    )
    op.create_index("ix_registration_capabilities_name", "registration_capabilities", ["name"])
    op.drop_index("ix_subscriptions_topic_id_registration_id", table_name="subscriptions")
    op.create_index("ix_subscriptions_topic_id", "subscriptions", ["topic_id"])
    op.drop_index("ix_registrations_app_id_push_group_id", table_name="registrations")
    op.drop_index("ix_registrations_app_id_id", table_name="registrations")
    op.create_index("ix_registrations_app_id_push_group", "registrations", ["app_id", "push_group"])
    with op.batch_alter_table("credentials") as batch_op:
        batch_op.drop_column("suspect_reason")
        batch_op.drop_column("suspect_at")
    with op.batch_alter_table("apps") as batch_op:
        batch_op.drop_column("rate_limits")
