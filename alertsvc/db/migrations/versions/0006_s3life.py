"""notice_waits: notices owed to rows that were in flight at an update, correction or clear

Revision ID: 0006_s3life
Revises: 0005_i9life
Create Date: 2026-12-01 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import alertsvc.db.tables

revision = "0006_s3life"
down_revision = "0005_i9life"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notice_waits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("notice_id", sa.String(length=32), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", alertsvc.db.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["notice_id"], ["alerts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notice_id", "delivery_id", name="uq_notice_wait"),
    )
    with op.batch_alter_table("notice_waits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notice_waits_delivery_id"), ["delivery_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notice_waits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_waits_delivery_id"))
    op.drop_table("notice_waits")
