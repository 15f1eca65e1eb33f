"""alert_drafts: alerts prepared (saved previews, watcher recommendations) but not sent

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 20:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import alertsvc.db.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_drafts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("exercise", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", alertsvc.db.tables.UTCDateTime(), nullable=False),
        sa.Column("alert_id", sa.String(length=32), nullable=True),
        sa.Column("sent_by", sa.String(length=200), nullable=True),
        sa.Column("sent_at", alertsvc.db.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_drafts_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alert_drafts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_drafts_state"))
    op.drop_table("alert_drafts")
