"""Alerts and drafts: what was decided, at which level, for whom (migration 0002, 0004).

``Alert`` is one alert or notice as sent (its family by ``parent_id``); ``AlertTarget``
every person it concerns, reached or not; ``AlertDraft`` an alert prepared but not yet
sent (an officer's saved preview or the river watcher's recommendation).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from alertsvc.db.tables.base import Base, UTCDateTime, utcnow

__all__ = ["Alert", "AlertDraft", "AlertTarget"]


class Alert(Base):
    """One alert (or cancellation) as sent. Its deliveries are the durable outbox."""

    __tablename__ = "alerts"

    # "A" + UTC yyyymmddHHMMSS + 4 hex: short, unique, readable over the phone
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="alert")  # alert | cancellation
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    scope: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    exercise: Mapped[bool] = mapped_column(Boolean, default=False)
    # active | cancelled (the per-row states say how far sending got)
    state: Mapped[str] = mapped_column(String(16), default="active", index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(200))
    cancel_reason: Mapped[str | None] = mapped_column(Text)


class AlertTarget(Base):
    """Every person an alert concerns, including those with no delivery at all."""

    __tablename__ = "alert_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    # no FK to residents: the outbox must outlive register re-imports
    resident_id: Mapped[str] = mapped_column(String(64), index=True)
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    located: Mapped[bool] = mapped_column(Boolean, default=True)
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    ack_answer: Mapped[str | None] = mapped_column(String(16))  # safe | need_help
    ack_via: Mapped[str | None] = mapped_column(String(32))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("alert_id", "resident_id", name="uq_alert_target"),)


class AlertDraft(Base):
    """An alert prepared but not sent: a saved preview (officer) or a recommendation
    (the river watcher). ``alertsvc alert send --draft ID`` sends it once."""

    __tablename__ = "alert_drafts"

    # "D" + UTC yyyymmddHHMMSS + 4 hex
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    # zone sets, zone ids and the area polygon (WKT), as the preview resolved them
    scope: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    exercise: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(32), default="officer")
    note: Mapped[str] = mapped_column(Text, default="")
    # open | sent | discarded
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    alert_id: Mapped[str | None] = mapped_column(ForeignKey("alerts.id"))
    sent_by: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # two-person rule (migration 0005): held for a second officer's approval
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
