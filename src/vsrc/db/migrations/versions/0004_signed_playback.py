"""signed playback: playback_policy on media and live streams, signing keys

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("media", "live_streams"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("playback_policy", sa.String(length=8), nullable=False, server_default="public")
            )
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_id"),
    )
    op.create_index("ix_signing_keys_account_id", "signing_keys", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_signing_keys_account_id", table_name="signing_keys")
    op.drop_table("signing_keys")
    for table in ("live_streams", "media"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("playback_policy")
