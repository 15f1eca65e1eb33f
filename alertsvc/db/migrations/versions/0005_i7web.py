"""acknowledgements.answered_by (resident or supporter) and inbound_events (replay guard)

Revision ID: 0005_i7web
Revises: 0004
Create Date: 2026-11-30 22:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import alertsvc.db.tables

revision = "0005_i7web"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("acknowledgements", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "answered_by", sa.String(length=16), nullable=False, server_default="resident"
            )
        )
    op.create_table(
        "inbound_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider_id", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", alertsvc.db.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_id"),
    )


def downgrade() -> None:
    op.drop_table("inbound_events")
    with op.batch_alter_table("acknowledgements", schema=None) as batch_op:
        batch_op.drop_column("answered_by")
