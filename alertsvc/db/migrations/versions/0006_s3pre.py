"""zone_grown_cache: zones grown by the edge tolerance, stored at zone import (#12)

Revision ID: 0006_s3pre
Revises: 0005_i9life
Create Date: 2026-12-01 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import alertsvc.db.tables

revision = "0006_s3pre"
down_revision = "0006_s3sup"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "zone_grown_cache",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("set_name", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", alertsvc.db.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["set_name"], ["zone_sets.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("zone_grown_cache", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_zone_grown_cache_set_name"), ["set_name"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("zone_grown_cache", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_zone_grown_cache_set_name"))
    op.drop_table("zone_grown_cache")
