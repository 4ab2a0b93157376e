"""registration_accounts: further accounts a device token is synced to (Discord device sync)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pushgate.store.tables import UtcDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registration_accounts",
        sa.Column("registration_id", sa.String(32), nullable=False),
        sa.Column("user_name", sa.String(255), nullable=False),
        sa.Column("owner_name", sa.String(255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name="fk_registration_accounts_registration_id_registrations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("registration_id", "user_name", name="pk_registration_accounts"),
    )
    op.create_index("ix_registration_accounts_user_name", "registration_accounts", ["user_name"])


def downgrade() -> None:
    op.drop_index("ix_registration_accounts_user_name", table_name="registration_accounts")
    op.drop_table("registration_accounts")
