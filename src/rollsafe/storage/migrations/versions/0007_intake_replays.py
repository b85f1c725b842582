"""Webhook replay memory in the store: signatures accepted, until they expire.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "intake_replays",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("keep_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_intake_replays"),
    )
    op.create_index("ix_intake_replays_keep_until", "intake_replays", ["keep_until"])


def downgrade() -> None:
    op.drop_index("ix_intake_replays_keep_until", table_name="intake_replays")
    op.drop_table("intake_replays")
