"""direct (tus) uploads streamed into object storage: the S3 multipart upload, its parts, the tail
object and the lease of the request writing it

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 17:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("source_key", sa.String(length=512), nullable=True),
        sa.Column("storage_upload_id", sa.String(length=1024), nullable=True),
        sa.Column("part_size", sa.BigInteger(), nullable=True),
        sa.Column("parts", sa.JSON(), nullable=True),
        sa.Column("tail_key", sa.String(length=512), nullable=True),
        sa.Column("lease_holder", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=True),
    ]


def upgrade() -> None:
    for column in _columns():
        op.add_column("uploads", column)


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        for column in reversed(_columns()):
            batch.drop_column(column.name)
