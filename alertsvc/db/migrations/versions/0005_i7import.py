"""register review flags and rejected rows (`registry import --skip-invalid`)

Revision ID: 0005_i7import
Revises: 0004
Create Date: 2026-11-30 22:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import alertsvc.db.tables

revision = "0005_i7import"
down_revision = "0005_i7web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("needs_review", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("review_reasons", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.create_index(batch_op.f("ix_residents_needs_review"), ["needs_review"])
    op.create_table(
        "register_rejected_rows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Text(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("recorded_at", alertsvc.db.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("register_rejected_rows")
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_residents_needs_review"))
        batch_op.drop_column("review_reasons")
        batch_op.drop_column("needs_review")
