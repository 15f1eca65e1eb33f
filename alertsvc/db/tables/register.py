"""The register of residents who need help to evacuate (避難行動要支援者名簿).

A resident with their contacts and supporters (each in register order) (避難支援者), and the
register rows an import could not store (``RejectedRow``). The outbox names residents
by id only, never by foreign key, so that it outlives register re-imports.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from alertsvc.db.tables.base import Base, UTCDateTime, utcnow

__all__ = ["Contact", "RejectedRow", "Resident", "Supporter"]


class Resident(Base):
    __tablename__ = "residents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # 名簿番号
    name: Mapped[str] = mapped_column(Text)
    kana: Mapped[str] = mapped_column(Text, default="")
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    floor: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(16), default="ja")
    needs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # explicit preference from the register; empty = derived from contacts and needs
    channel_pref: Mapped[list[Any]] = mapped_column(JSON, default=list)
    consent: Mapped[bool | None] = mapped_column(Boolean)
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    no_working_channel: Mapped[bool] = mapped_column(Boolean, default=False)
    # set by `registry import --skip-invalid` when a bad optional cell was cleared: an
    # officer must check this person; review_reasons says which cells and why
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    review_reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # hash of the normalised register row, to report unchanged rows
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    deactivated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    contacts: Mapped[list[Contact]] = relationship(
        back_populates="resident",
        cascade="all, delete-orphan",
        order_by="Contact.position",
        passive_deletes=True,
    )
    supporters: Mapped[list[Supporter]] = relationship(
        back_populates="resident",
        cascade="all, delete-orphan",
        order_by="Supporter.position",
        passive_deletes=True,
    )


class RejectedRow(Base):
    """A register row `--skip-invalid` could not store (no usable id, name or address).

    Replaced as a whole by every written register import, so a row stays listed by
    `registry health` until an import no longer has it wrong.
    """

    __tablename__ = "register_rejected_rows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(Text)  # file name of the import
    line: Mapped[int] = mapped_column(Integer)  # physical line in that file
    # the id cell as read (may be empty or damaged): a hint, never a key
    resident_id: Mapped[str] = mapped_column(Text, default="")
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # ContactKind
    address: Mapped[str] = mapped_column(Text)  # E.164 or push token
    position: Mapped[int] = mapped_column(Integer, default=0)
    # false once a provider said the address can never work (opted out, dead token)
    healthy: Mapped[bool] = mapped_column(Boolean, default=True)
    # channels refused for good on this address ("sms" after 21610 opt-out, …)
    blocked_channels: Mapped[list[Any]] = mapped_column(JSON, default=list)
    health_detail: Mapped[str] = mapped_column(Text, default="")
    health_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    resident: Mapped[Resident] = relationship(back_populates="contacts")

    __table_args__ = (UniqueConstraint("resident_id", "kind", "address", name="uq_contact"),)


class Supporter(Base):
    __tablename__ = "supporters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resident_id: Mapped[str] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)  # E.164
    phone_kind: Mapped[str | None] = mapped_column(String(16))

    resident: Mapped[Resident] = relationship(back_populates="supporters")
