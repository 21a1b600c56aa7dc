"""dashboard signing key: signing_keys.purpose ('api' or 'dashboard'), private_key of the internal key

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ONE_DASHBOARD_KEY = "purpose = 'dashboard' AND revoked_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("signing_keys") as batch:
        batch.add_column(sa.Column("purpose", sa.String(length=16), nullable=False, server_default="api"))
        batch.add_column(sa.Column("private_key", sa.Text(), nullable=True))
    op.create_index(
        "uq_signing_keys_dashboard",
        "signing_keys",
        ["account_id"],
        unique=True,
        sqlite_where=sa.text(ONE_DASHBOARD_KEY),
        postgresql_where=sa.text(ONE_DASHBOARD_KEY),
    )


def downgrade() -> None:
    op.drop_index("uq_signing_keys_dashboard", table_name="signing_keys")
    # The internal keys' private halves must not survive as customer keys.
    op.execute("DELETE FROM signing_keys WHERE purpose = 'dashboard'")
    with op.batch_alter_table("signing_keys") as batch:
        batch.drop_column("private_key")
        batch.drop_column("purpose")
