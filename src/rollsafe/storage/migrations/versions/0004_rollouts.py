"""Rollouts: guarded upgrades in waves, their targets' steps, and pinned targets.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # A server default fills the rows already there: no target starts out pinned.
    op.add_column(
        "targets",
        sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("targets", sa.Column("pin_reason", sa.Text(), nullable=True))

    op.create_table(
        "rollouts",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("plan", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("desired", sa.String(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("halt_reason", sa.Text(), nullable=True),
        sa.Column("wave_log", sa.JSON(), nullable=False),
        sa.Column("active", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_rollouts"),
        sa.UniqueConstraint("active", name="uq_rollouts_active"),
    )
    op.create_index("ix_rollouts_created_at", "rollouts", ["created_at"])

    op.create_table(
        "rollout_targets",
        sa.Column("rollout_id", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("restore_point", sa.String(), nullable=True),
        sa.Column("upgrade_key", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("upgraded_at", sa.Float(), nullable=True),
        sa.Column("bake_until", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["rollout_id"],
            ["rollouts.id"],
            name="fk_rollout_targets_rollout_id_rollouts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rollout_id", "target", name="pk_rollout_targets"),
    )
    op.create_index("ix_rollout_targets_target", "rollout_targets", ["target"])


def downgrade() -> None:
    op.drop_table("rollout_targets")
    op.drop_table("rollouts")
    # SQLite cannot drop a column in place on every version: batch mode rebuilds the table.
    with op.batch_alter_table("targets") as batch:
        batch.drop_column("pin_reason")
        batch.drop_column("pinned")
