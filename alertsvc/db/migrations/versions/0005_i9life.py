"""audit hash chain and append-only triggers

Two-person rule: ``alert_drafts.needs_approval``, ``approved_by``, ``approved_at``.
Adds ``prev_hash``/``hash`` to ``audit_log`` (existing rows are chained in id order),
the one-row ``audit_chain_head``, and triggers refusing UPDATE and DELETE on
``audit_log`` (PostgreSQL and SQLite).

Revision ID: 0005_i9life
Revises: 0004
Create Date: 2026-11-30 22:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import alertsvc.db.tables

revision = "0005_i9life"
down_revision = "0005_i8watch"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alertsvc.audit import GENESIS, append_only_ddl, entry_hash

    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))

    # chain the rows written before this revision, oldest first
    log = sa.table(
        "audit_log",
        sa.column("id", sa.Integer()),
        sa.column("at", alertsvc.db.tables.UTCDateTime()),
        sa.column("actor", sa.String()),
        sa.column("action", sa.String()),
        sa.column("args", sa.JSON()),
        sa.column("result", sa.JSON()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    bind = op.get_bind()
    prev, count = GENESIS, 0
    for row in bind.execute(sa.select(log).order_by(log.c.id)).all():
        digest = entry_hash(prev, row.at, row.actor, row.action, row.args, row.result)
        bind.execute(log.update().where(log.c.id == row.id).values(prev_hash=prev, hash=digest))
        prev, count = digest, count + 1
    if count:
        head = sa.table(
            "audit_chain_head", sa.column("id"), sa.column("count"), sa.column("last_hash")
        )
        bind.execute(head.insert().values(id=1, count=count, last_hash=prev))

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)

    for sql in append_only_ddl(bind.dialect.name):
        op.execute(sql)

    with op.batch_alter_table("alert_drafts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("needs_approval", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("approved_by", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("approved_at", alertsvc.db.tables.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_drafts", schema=None) as batch_op:
        batch_op.drop_column("approved_at")
        batch_op.drop_column("approved_by")
        batch_op.drop_column("needs_approval")
    from alertsvc.audit import drop_append_only_ddl

    for sql in drop_append_only_ddl(op.get_bind().dialect.name):
        op.execute(sql)
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
    op.drop_table("audit_chain_head")
