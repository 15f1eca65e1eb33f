"""watch_stations and watch_events: the river watcher's state and its decisions

Revision ID: 0005_i8watch
Revises: 0004
Create Date: 2026-11-30 22:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import alertsvc.db.tables

revision = "0005_i8watch"
down_revision = "0005_i7import"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watch_stations",
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("memory", sa.JSON(), nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.Column("alerts", sa.JSON(), nullable=False),
        sa.Column("reading", sa.Float(), nullable=True),
        sa.Column("observed_at", alertsvc.db.tables.UTCDateTime(), nullable=True),
        sa.Column("quality", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("predicted_level3_at", alertsvc.db.tables.UTCDateTime(), nullable=True),
        sa.Column("updated_at", alertsvc.db.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("station_id"),
    )
    op.create_table(
        "watch_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", alertsvc.db.tables.UTCDateTime(), nullable=False),
        sa.Column("reading", sa.Float(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("predicted_at", alertsvc.db.tables.UTCDateTime(), nullable=True),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("draft_id", sa.String(length=32), nullable=True),
        sa.Column("alert_id", sa.String(length=32), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.Column("recorded_at", alertsvc.db.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"]),
        sa.ForeignKeyConstraint(["draft_id"], ["alert_drafts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("watch_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_watch_events_station_id"), ["station_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("watch_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watch_events_station_id"))
    op.drop_table("watch_events")
    op.drop_table("watch_stations")
