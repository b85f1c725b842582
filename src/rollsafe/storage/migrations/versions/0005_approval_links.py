"""Approval links: one row per signed approve/reject link used, so each works only once.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "approval_links",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("used_by", sa.Text(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_approval_links"),
    )
    op.create_index("ix_approval_links_run_id", "approval_links", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_approval_links_run_id", table_name="approval_links")
    op.drop_table("approval_links")
