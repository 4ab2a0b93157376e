"""batch marks: exactly-once recording of batches on queues that may redeliver (Redis)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pushgate.store.tables import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "batch_marks",
        sa.Column("notification_id", sa.String(32), nullable=False),
        sa.Column("batch_key", sa.String(100), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name="fk_batch_marks_notification_id_notifications",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("notification_id", "batch_key", name="pk_batch_marks"),
    )


def downgrade() -> None:
    op.drop_table("batch_marks")
