"""outbox: alerts, alert targets, deliveries (the durable outbox), acknowledgements

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 20:03:17.888415
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import alertsvc.db.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.String(length=32), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("exercise", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", alertsvc.db.tables.UTCDateTime(), nullable=False),
        sa.Column("cancelled_at", alertsvc.db.tables.UTCDateTime(), nullable=True),
        sa.Column("cancelled_by", sa.String(length=200), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["alerts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_state"), ["state"], unique=False)

    op.create_table(
        "acknowledgements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(length=32), nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("delivery_key", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=False),
        sa.Column("via", sa.String(length=32), nullable=False),
        sa.Column("at", alertsvc.db.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("acknowledgements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_acknowledgements_alert_id"), ["alert_id"], unique=False
        )

    op.create_table(
        "alert_targets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(length=32), nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("located", sa.Boolean(), nullable=False),
        sa.Column("reachable", sa.Boolean(), nullable=False),
        sa.Column("ack_answer", sa.String(length=16), nullable=True),
        sa.Column("ack_via", sa.String(length=32), nullable=True),
        sa.Column("acknowledged_at", alertsvc.db.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alert_id", "resident_id", name="uq_alert_target"),
    )
    with op.batch_alter_table("alert_targets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_targets_resident_id"), ["resident_id"], unique=False
        )

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("alert_id", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=16), nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("supporter_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("is_cancellation", sa.Boolean(), nullable=False),
        sa.Column("legal_basis", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", alertsvc.db.tables.UTCDateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", alertsvc.db.tables.UTCDateTime(), nullable=True),
        sa.Column("provider_ref", sa.String(length=100), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("created_at", alertsvc.db.tables.UTCDateTime(), nullable=False),
        sa.Column("queued_at", alertsvc.db.tables.UTCDateTime(), nullable=True),
        sa.Column("sent_at", alertsvc.db.tables.UTCDateTime(), nullable=True),
        sa.Column("delivered_at", alertsvc.db.tables.UTCDateTime(), nullable=True),
        sa.Column("acknowledged_at", alertsvc.db.tables.UTCDateTime(), nullable=True),
        sa.Column("finished_at", alertsvc.db.tables.UTCDateTime(), nullable=True),
        sa.Column("updated_at", alertsvc.db.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "alert_id",
            "recipient",
            "resident_id",
            "supporter_id",
            "channel",
            "address",
            name="uq_delivery",
        ),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_alert_person", ["alert_id", "resident_id", "step"], unique=False
        )
        batch_op.create_index("ix_deliveries_due", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_deliveries_provider_ref"), ["provider_ref"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_provider_ref"))
        batch_op.drop_index("ix_deliveries_due")
        batch_op.drop_index("ix_deliveries_alert_person")

    op.drop_table("deliveries")
    with op.batch_alter_table("alert_targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_targets_resident_id"))

    op.drop_table("alert_targets")
    with op.batch_alter_table("acknowledgements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_acknowledgements_alert_id"))

    op.drop_table("acknowledgements")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_state"))
        batch_op.drop_index(batch_op.f("ix_alerts_parent_id"))
        batch_op.drop_index(batch_op.f("ix_alerts_created_at"))

    op.drop_table("alerts")
