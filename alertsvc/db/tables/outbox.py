"""The outbox: one ``Delivery`` row per message, and what hangs on a row.

``Delivery`` is the durable row and its state machine (every state write goes through
``alertsvc.dispatch.moves``); ``NoticeWait`` a notice owed to a row still in flight;
``SupporterDisclosure`` each person a supporter digest names, with its legal basis.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from alertsvc.db.tables.base import Base, UTCDateTime, utcnow

__all__ = ["Delivery", "NoticeWait", "SupporterDisclosure"]


class Delivery(Base):
    """One message to one address on one channel: the outbox row and its state machine.

    States (see the README, "Delivery"): held, queued, claimed,
    sending, sent, delivered, acknowledged, failed, unknown, cancelled, skipped.
    ``supporter_id`` is 0 for the resident's own rows: a NULL would make the UNIQUE
    constraint below ineffective (NULLs are distinct on both SQLite and PostgreSQL).
    """

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # "<alert id>:<row number>": travels to providers and back in webhooks
    key: Mapped[str] = mapped_column(String(64), unique=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(16))  # resident | supporter
    resident_id: Mapped[str] = mapped_column(String(64))
    supporter_id: Mapped[int] = mapped_column(Integer, default=0)
    step: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16), default="ja")
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[list[Any]] = mapped_column(JSON, default=list)
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    # copied from the alert so that claiming needs no join
    level: Mapped[int] = mapped_column(Integer)
    is_cancellation: Mapped[bool] = mapped_column(Boolean, default=False)
    legal_basis: Mapped[str] = mapped_column(String(32), default="")
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    provider_ref: Mapped[str | None] = mapped_column(String(100), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    error_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    queued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint(
            "alert_id",
            "recipient",
            "resident_id",
            "supporter_id",
            "channel",
            "address",
            name="uq_delivery",
        ),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
        Index("ix_deliveries_alert_person", "alert_id", "resident_id", "step"),
    )


class NoticeWait(Base):
    """A notice (update, correction, all-clear) owed to a row that was in flight (state
    'sending') when the notice was made: added to the notice once the row settles as
    reached, dropped when it settles otherwise (#9; ``dispatch.maintenance``)."""

    __tablename__ = "notice_waits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notice_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("notice_id", "delivery_id", name="uq_notice_wait"),)


class SupporterDisclosure(Base):
    """One person named in one supporter digest, with the legal basis of naming them.

    A supporter digest (``Delivery`` with ``recipient='supporter'`` and an empty
    ``resident_id``) names every person the supporter looks after who is in scope; each
    one disclosed gets a row here (consent, or 災害対策基本法 第49条の11 第3項).
    ``position`` is the order the message and the supporter page list them in.
    """

    __tablename__ = "supporter_disclosures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    delivery_key: Mapped[str] = mapped_column(String(64), index=True)
    resident_id: Mapped[str] = mapped_column(String(64))
    supporter_id: Mapped[int] = mapped_column(Integer, default=0)
    legal_basis: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer, default=0)
    action: Mapped[str] = mapped_column(String(32), default="")

    __table_args__ = (
        UniqueConstraint("delivery_key", "resident_id", name="uq_supporter_disclosure"),
    )
