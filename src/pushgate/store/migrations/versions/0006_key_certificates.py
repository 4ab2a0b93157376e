"""api_keys.cert_sha256: a client certificate attached to an API key (X.509 service keys)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("cert_sha256", sa.String(64), nullable=True))
    op.create_index("ix_api_keys_cert_sha256", "api_keys", ["cert_sha256"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_api_keys_cert_sha256", table_name="api_keys")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("cert_sha256")
