"""The store's tables, as SQLAlchemy Core metadata.

This is the schema the code expects; ``storage/migrations`` builds it step by step on disk,
and a test compares the two so they cannot drift apart. Portable on purpose (SQLite and
PostgreSQL): times are float epoch seconds, structured fields are JSON, and ids are the
domain's text ids. There are deliberately no foreign keys from runs, observations or
decisions to ``targets``: alerts and manual runs may name a target before (or after) it is in
the configuration, and history must outlive a target's removal.
"""

from __future__ import annotations

import sqlalchemy as sa

# Named constraints let later migrations alter them on every database (SQLite batch mode and
# PostgreSQL both need the name).
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# SQLite only auto-increments an INTEGER PRIMARY KEY; elsewhere 64 bits leave room forever.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

AUDIT_HEAD_ROW = 1
"""The primary key of the single row of ``audit_head``."""

targets = sa.Table(
    "targets",
    metadata,
    sa.Column("id", sa.String(), primary_key=True),
    sa.Column("address", sa.String(), nullable=False),
    sa.Column("labels", sa.JSON(), nullable=False),
    sa.Column("driver", sa.String(), nullable=True),
    sa.Column("quarantined", sa.Boolean(), nullable=False),
    sa.Column("quarantine_reason", sa.Text(), nullable=True),
    # Pinned by a rollout that rolled the target back: later waves and rollouts skip it until
    # a person clears it (``rollsafe target unpin``). Rollbacks are not affected.
    sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("pin_reason", sa.Text(), nullable=True),
)

observations = sa.Table(
    "observations",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("time", sa.Float(), nullable=False),
    sa.Column("target", sa.String(), nullable=False),
    sa.Column("source", sa.String(), nullable=False),
    sa.Column("value", sa.Float(), nullable=True),
    sa.Column("status", sa.Integer(), nullable=True),
    sa.Column("latency_s", sa.Float(), nullable=True),
    sa.Column("text", sa.Text(), nullable=True),
    sa.Column("alert_state", sa.String(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    # Reads are "this target (and source) since T"; pruning is "everything before T".
    sa.Index(None, "target", "source", "time"),
    sa.Index(None, "time"),
)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("time", sa.Float(), nullable=False),
    sa.Column("target", sa.String(), nullable=False),
    sa.Column("rule", sa.String(), nullable=False),
    sa.Column("severity", sa.String(), nullable=False),
    sa.Column("summary", sa.Text(), nullable=False),
    sa.Column("evidence", sa.JSON(), nullable=False),
    # "Latest decision per target and rule" walks this index backwards.
    sa.Index(None, "target", "rule", "time"),
    sa.Index(None, "time"),
)

restore_points = sa.Table(
    "restore_points",
    metadata,
    sa.Column("id", sa.String(), primary_key=True),
    sa.Column("target", sa.String(), nullable=False),
    sa.Column("driver", sa.String(), nullable=False),
    sa.Column("created_at", sa.Float(), nullable=False),
    sa.Column("label", sa.Text(), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Column("checks", sa.JSON(), nullable=False),
    # Set when retention deleted the point on its back end: the row stays for the audit
    # trail and for runs that name it, but lists no longer show it.
    sa.Column("deleted_at", sa.Float(), nullable=True),
    sa.Index(None, "target", "created_at"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(), primary_key=True),
    sa.Column("target", sa.String(), nullable=False),
    sa.Column("state", sa.String(), nullable=False),
    sa.Column("trigger", sa.Text(), nullable=False),
    sa.Column("actor", sa.Text(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("created_at", sa.Float(), nullable=False),
    sa.Column("updated_at", sa.Float(), nullable=False),
    sa.Column("restore_point", sa.String(), nullable=True),
    sa.Column("approval_mode", sa.String(), nullable=False),
    sa.Column("approval_deadline", sa.Float(), nullable=True),
    sa.Column("approval_decided_by", sa.Text(), nullable=True),
    sa.Column("approval_decision", sa.String(), nullable=True),
    sa.Column("approval_reason", sa.Text(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("evidence", sa.JSON(), nullable=False),
    # The target while the run is open, NULL once it is terminal. Unique (NULLs never clash),
    # so the database itself refuses a second open run for a target, whichever process asks.
    sa.Column("open_target", sa.String(), nullable=True),
    # Fencing token of the leader that last wrote the run (NULL: written without a lease).
    sa.Column("fence", sa.BigInteger(), nullable=True),
    sa.UniqueConstraint("open_target"),
    sa.Index(None, "target", "created_at"),
    sa.Index(None, "created_at"),
)

run_steps = sa.Table(
    "run_steps",
    metadata,
    sa.Column(
        "run_id",
        sa.String(),
        sa.ForeignKey("runs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("step_index", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("state", sa.String(), nullable=False),
    sa.Column("started_at", sa.Float(), nullable=False),
    sa.Column("finished_at", sa.Float(), nullable=True),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("output", sa.Text(), nullable=False),
    # Fencing token of the leader that wrote this step: a deposed leader's late write is
    # refused because its token is below the lease's current one.
    sa.Column("fence", sa.BigInteger(), nullable=True),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    # Assigned by the store from audit_head under the write lock, never by the database.
    sa.Column("seq", BigId, primary_key=True, autoincrement=False),
    sa.Column("time", sa.Float(), nullable=False),
    sa.Column("actor", sa.Text(), nullable=False),
    sa.Column("action", sa.String(), nullable=False),
    sa.Column("target", sa.String(), nullable=True),
    sa.Column("run_id", sa.String(), nullable=True),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Column("result", sa.Text(), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index(None, "target", "seq"),
    sa.Index(None, "run_id"),
)

audit_head = sa.Table(
    "audit_head",
    metadata,
    # One row, updated in the same transaction as every append: deleting the newest events
    # leaves the log shorter than its head, which ``audit verify`` reports.
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger(), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.CheckConstraint(f"id = {AUDIT_HEAD_ROW}", name="single_row"),
)

shipping_cursors = sa.Table(
    "shipping_cursors",
    metadata,
    # One row per audit-shipping sink: the last audit seq that sink acknowledged. Shipping
    # resumes after it, so a restart or an outage of the sink neither loses nor skips events.
    sa.Column("name", sa.String(), primary_key=True),
    sa.Column("seq", sa.BigInteger(), nullable=False),
    sa.Column("updated_at", sa.Float(), nullable=False),
)

approval_links = sa.Table(
    "approval_links",
    metadata,
    # One row per signed approve/reject link that was used, keyed by the link's nonce: the
    # primary key makes a second use fail in the database, whichever process tries it.
    sa.Column("id", sa.String(), primary_key=True),
    sa.Column("run_id", sa.String(), nullable=False),
    sa.Column("action", sa.String(), nullable=False),
    sa.Column("used_by", sa.Text(), nullable=False),
    sa.Column("used_at", sa.Float(), nullable=False),
    sa.Index(None, "run_id"),
)

rollouts = sa.Table(
    "rollouts",
    metadata,
    sa.Column("id", sa.String(), primary_key=True),
    sa.Column("plan", sa.String(), nullable=False),
    sa.Column("state", sa.String(), nullable=False),
    # What a person asked for (run, pause, abort). Only people write it, only the controller
    # acts on it, so neither ever overwrites the other's change.
    sa.Column("desired", sa.String(), nullable=False),
    sa.Column("created_at", sa.Float(), nullable=False),
    sa.Column("updated_at", sa.Float(), nullable=False),
    sa.Column("actor", sa.Text(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("wave", sa.Integer(), nullable=False),
    sa.Column("spec", sa.JSON(), nullable=False),
    sa.Column("halt_reason", sa.Text(), nullable=True),
    sa.Column("wave_log", sa.JSON(), nullable=False),
    # "active" while the rollout is open, NULL once it ended: unique, so the database itself
    # refuses a second rollout in progress, whichever process opens it.
    sa.Column("active", sa.String(), nullable=True),
    sa.UniqueConstraint("active"),
    sa.Index(None, "created_at"),
)

rollout_targets = sa.Table(
    "rollout_targets",
    metadata,
    sa.Column(
        "rollout_id",
        sa.String(),
        sa.ForeignKey("rollouts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("target", sa.String(), primary_key=True),
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
    sa.Index(None, "target"),
)

inbox = sa.Table(
    "inbox",
    metadata,
    # Webhook bodies as received, committed before the sender gets its 2xx: the processor
    # (runtime/inbox) reads pending rows, and a controller killed in between loses nothing.
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("received_at", sa.Float(), nullable=False),
    sa.Column("endpoint", sa.String(), nullable=False),
    sa.Column("headers", sa.JSON(), nullable=False),  # secrets redacted before storing
    sa.Column("body", sa.LargeBinary(), nullable=False),
    sa.Column("dedupe_key", sa.String(64), nullable=False),
    sa.Column("processed_at", sa.Float(), nullable=True),
    sa.Column("outcome", sa.Text(), nullable=True),
    # "Seen this body lately?" at the door; "what is pending?" for the processor; pruning.
    sa.Index(None, "dedupe_key", "received_at"),
    sa.Index(None, "processed_at", "id"),
    sa.Index(None, "received_at"),
)

leases = sa.Table(
    "leases",
    metadata,
    # One row per lease (``leader``). ``token`` grows by one with every change of holder: it is
    # the fencing token a leader writes with its run steps.
    sa.Column("name", sa.String(), primary_key=True),
    sa.Column("holder", sa.Text(), nullable=False),
    sa.Column("token", sa.BigInteger(), nullable=False),
    sa.Column("acquired_at", sa.Float(), nullable=False),
    sa.Column("renewed_at", sa.Float(), nullable=False),
    sa.Column("expires_at", sa.Float(), nullable=False),
)

flags = sa.Table(
    "flags",
    metadata,
    # Controller-wide switches shared by every replica (the fleet circuit breaker's state).
    sa.Column("name", sa.String(), primary_key=True),
    sa.Column("value", sa.JSON(), nullable=False),
    sa.Column("updated_at", sa.Float(), nullable=False),
    sa.Column("updated_by", sa.Text(), nullable=False),
)

intake_replays = sa.Table(
    "intake_replays",
    metadata,
    # Webhook signatures already accepted (a SHA-256 of endpoint + normalised signature), each
    # until its timestamp leaves the endpoint's tolerance: the primary key refuses a replay in
    # the database, in any replica, and across restarts.
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("keep_until", sa.Float(), nullable=False),
    sa.Index(None, "keep_until"),
)
