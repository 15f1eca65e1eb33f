"""What comes back: residents' and supporters' answers, and provider replay protection.

``Acknowledgement`` is the append-only log of "safe" / "need help" answers;
``InboundEvent`` the provider ids of inbound SMS and keypresses already applied.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from alertsvc.db.tables.base import Base, UTCDateTime, utcnow

__all__ = ["Acknowledgement", "InboundEvent"]


class Acknowledgement(Base):
    """Append-only log of answers (safe / need help) from residents and supporters."""

    __tablename__ = "acknowledgements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    resident_id: Mapped[str] = mapped_column(String(64))
    delivery_key: Mapped[str] = mapped_column(String(64))
    answer: Mapped[str] = mapped_column(String(16))  # safe | need_help
    via: Mapped[str] = mapped_column(String(32))  # sms | voice | push | web | officer
    # who answered: the resident on their own message, or a supporter about the resident.
    # A supporter's "safe" is their answer, never the person's own: it confirms nobody.
    answered_by: Mapped[str] = mapped_column(
        String(16), default="resident", server_default="resident"
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class InboundEvent(Base):
    """Provider ids of inbound SMS and keypresses already applied (replay protection).

    Twilio signatures carry no timestamp, so a captured request stays valid for ever;
    ``provider_id`` (MessageSid, or CallSid + ":" + Digits) is unique, and a second
    request with the same id changes nothing.
    """

    __tablename__ = "inbound_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # sms | keypress
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
