"""Restore point retention: a deleted point keeps its row, marked with when it was deleted.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("restore_points") as batch:
        batch.add_column(sa.Column("deleted_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("restore_points") as batch:
        batch.drop_column("deleted_at")
