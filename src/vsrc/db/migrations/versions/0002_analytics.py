"""analytics events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_public_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("current_time", sa.Float(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("quality", sa.String(length=32), nullable=True),
        sa.Column("client_ts", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("analytics_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_analytics_events_media_created", ["media_public_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_analytics_events_created", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("analytics_events", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_events_created")
        batch_op.drop_index("ix_analytics_events_media_created")

    op.drop_table("analytics_events")
