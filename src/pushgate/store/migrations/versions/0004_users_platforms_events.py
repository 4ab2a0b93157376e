"""app users and their tokens, named push platforms, the event log, the user-token secret

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from pushgate.store.tables import UtcDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# What every app starts with (ServiceNow's two stock sys_push_platform rows).
_DEFAULT_PLATFORMS = (("Apple", "apns"), ("Android", "fcm"))


def _app_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["app_id"], ["apps.id"], name=f"fk_{table}_app_id_apps", ondelete="CASCADE"
    )


def _times() -> list[sa.Column[datetime]]:
    return [
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("apps") as batch_op:
        batch_op.add_column(sa.Column("user_token_secret", sa.Text(), nullable=True))
    op.create_table(
        "app_users",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("app_id", _BIG_ID, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("external_id", sa.String(255), nullable=True),
        sa.Column("user_uuid", sa.String(255), nullable=True),
        *_times(),
        _app_fk("app_users"),
        sa.PrimaryKeyConstraint("id", name="pk_app_users"),
        sa.UniqueConstraint("app_id", "name", name="uq_app_users_app_id_name"),
    )
    for column in ("email", "external_id", "user_uuid"):
        op.create_index(f"ix_app_users_app_id_{column}", "app_users", ["app_id", column])
    op.create_table(
        "user_tokens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("app_id", _BIG_ID, nullable=False),
        sa.Column("user_id", _BIG_ID, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        _app_fk("user_tokens"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_users.id"],
            name="fk_user_tokens_user_id_app_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_user_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_user_tokens_token_hash"),
    )
    op.create_index("ix_user_tokens_user_id", "user_tokens", ["user_id"])
    push_platforms = op.create_table(
        "push_platforms",
        sa.Column("app_id", _BIG_ID, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        *_times(),
        _app_fk("push_platforms"),
        sa.PrimaryKeyConstraint("app_id", "name", name="pk_push_platforms"),
    )
    op.create_table(
        "events",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("app_id", _BIG_ID, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(255), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        _app_fk("events"),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_app_id_id", "events", ["app_id", "id"])
    _seed_platforms(push_platforms)


def _seed_platforms(push_platforms: sa.Table | None) -> None:
    """Existing apps get the default platforms, as new ones do."""
    assert push_platforms is not None  # noqa: S101 - op.create_table returns the table
    now = datetime.now(UTC)
    app_ids = [row[0] for row in op.get_bind().execute(sa.text("SELECT id FROM apps"))]
    rows = [
        {
            "app_id": app_id,
            "name": name,
            "platform": platform,
            "sandbox": False,
            "created_at": now,
            "updated_at": now,
        }
        for app_id in app_ids
        for name, platform in _DEFAULT_PLATFORMS
    ]
    if rows:
        op.bulk_insert(push_platforms, rows)


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("push_platforms")
    op.drop_table("user_tokens")
    op.drop_table("app_users")
    with op.batch_alter_table("apps") as batch_op:
        batch_op.drop_column("user_token_secret")
