"""The river watcher's memory (migration 0005_i8watch): gauge state and decisions.

``WatchStation`` holds one gauge's state between polls; ``WatchEvent`` one decision with
its inputs, so that every draft, alert or warning the watcher made can be explained.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from alertsvc.db.tables.base import Base, UTCDateTime, utcnow

__all__ = ["WatchEvent", "WatchStation"]


class WatchStation(Base):
    """A watched gauge's state between polls: the decision core's memory and the last reading.

    One row per configured station; a poll locks it (``FOR UPDATE`` on PostgreSQL) so that
    cron and the scheduler can never decide twice on the same reading.
    """

    __tablename__ = "watch_stations"

    station_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # the decision core's memory: alertsvc.watcher.decide.StationState.as_dict()
    memory: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # level -> alert id sent in the current event (the parent of a higher level's alert)
    alerts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reading: Mapped[float | None] = mapped_column(Float)
    observed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # ok | stale | missing | invalid
    quality: Mapped[str] = mapped_column(String(16), default="missing")
    level: Mapped[int | None] = mapped_column(Integer)
    predicted_level3_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WatchEvent(Base):
    """One watcher decision with its inputs: why a draft, an alert or a warning exists."""

    __tablename__ = "watch_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # station|kind|time|level: the same decision can never be recorded twice
    key: Mapped[str] = mapped_column(String(200), unique=True)
    station_id: Mapped[str] = mapped_column(String(64), index=True)
    # enter | predict | leave | all_clear_proposal | stale | ignored
    kind: Mapped[str] = mapped_column(String(32))
    # time of the reading that decided (the poll time for a silent gauge)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reading: Mapped[float | None] = mapped_column(Float)
    level: Mapped[int | None] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(Text, default="")
    predicted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # what was done: the draft saved or the alert sent, and who was told
    draft_id: Mapped[str | None] = mapped_column(ForeignKey("alert_drafts.id"))
    alert_id: Mapped[str | None] = mapped_column(ForeignKey("alerts.id"))
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
