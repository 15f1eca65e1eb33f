"""supporter digests: one message per supporter, one disclosure row per person named

Revision ID: 0006_s3sup
Revises: 0005_i9life
Create Date: 2026-12-01 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_s3sup"
down_revision = "0006_s3life"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "supporter_disclosures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(length=32), nullable=False),
        sa.Column("delivery_key", sa.String(length=64), nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("supporter_id", sa.Integer(), nullable=False),
        sa.Column("legal_basis", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("delivery_key", "resident_id", name="uq_supporter_disclosure"),
    )
    with op.batch_alter_table("supporter_disclosures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_supporter_disclosures_alert_id"), ["alert_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_supporter_disclosures_delivery_key"), ["delivery_key"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("supporter_disclosures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supporter_disclosures_delivery_key"))
        batch_op.drop_index(batch_op.f("ix_supporter_disclosures_alert_id"))
    op.drop_table("supporter_disclosures")
