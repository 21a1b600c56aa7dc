"""process heartbeats (worker liveness for /health)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 11:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "process_heartbeats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("instance", sa.String(length=128), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("beat_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance"),
    )
    op.create_index("ix_process_heartbeats_kind", "process_heartbeats", ["kind"])
    op.create_index("ix_process_heartbeats_beat_at", "process_heartbeats", ["beat_at"])


def downgrade() -> None:
    op.drop_index("ix_process_heartbeats_beat_at", table_name="process_heartbeats")
    op.drop_index("ix_process_heartbeats_kind", table_name="process_heartbeats")
    op.drop_table("process_heartbeats")
