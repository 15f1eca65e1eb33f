"""SQLAlchemy 2 typed tables. Same models on SQLite (embedded) and PostgreSQL.

Geometries are WKB blobs with bounding-box columns, so no PostGIS is needed: the
bounding boxes give a cheap SQL pre-filter and shapely does the exact work.
Every timestamp is stored in UTC and comes back timezone-aware.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Acknowledgement",
    "Alert",
    "AlertDraft",
    "AlertTarget",
    "AuditChainHead",
    "AuditEntry",
    "Base",
    "Contact",
    "Delivery",
    "GrownZoneCache",
    "InboundEvent",
    "NoticeWait",
    "Resident",
    "Shelter",
    "Supporter",
    "UTCDateTime",
    "WatchEvent",
    "WatchStation",
    "Zone",
    "ZoneSet",
    "utcnow",
]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive values are refused."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class ZoneSet(Base):
    __tablename__ = "zone_sets"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(Text)
    source_crs: Mapped[str] = mapped_column(String(64))
    depth_field: Mapped[str | None] = mapped_column(String(100))
    feature_count: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    zones: Mapped[list[Zone]] = relationship(
        back_populates="zone_set", cascade="all, delete-orphan", passive_deletes=True
    )


class Zone(Base):
    __tablename__ = "zones"

    # "<set>/<feature index>": stable across re-imports of the same file
    id: Mapped[str] = mapped_column(String(300), primary_key=True)
    set_name: Mapped[str] = mapped_column(
        ForeignKey("zone_sets.name", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    depth_rank: Mapped[int | None] = mapped_column(Integer)
    depth_m: Mapped[float | None] = mapped_column(Float)
    name: Mapped[str] = mapped_column(Text, default="")
    geom_wkb: Mapped[bytes] = mapped_column(LargeBinary)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    zone_set: Mapped[ZoneSet] = relationship(back_populates="zones")

    __table_args__ = (Index("ix_zones_bbox", "min_lon", "max_lon", "min_lat", "max_lat"),)


class GrownZoneCache(Base):
    """Zones grown by the edge tolerance (``geo.grown_zones``), computed at zone import.

    Keyed by content (metric CRS, tolerance, the zones' WKB: ``grown_zones.cache_key``), so
    a row is never stale; deleting or re-importing the zone set deletes its rows.
    """

    __tablename__ = "zone_grown_cache"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    set_name: Mapped[str] = mapped_column(
        ForeignKey("zone_sets.name", ondelete="CASCADE"), index=True
    )
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Shelter(Base):
    __tablename__ = "shelters"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    name_kana: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(Text, default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    kinds: Mapped[list[Any]] = mapped_column(JSON, default=list)
    hazards: Mapped[list[Any]] = mapped_column(JSON, default=list)
    capacity: Mapped[int | None] = mapped_column(Integer)
    wheelchair: Mapped[bool | None] = mapped_column(Boolean)
    floors: Mapped[int | None] = mapped_column(Integer)
    source_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


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


class AuditEntry(Base):
    """Append-only: who did what, when, with which arguments, and what came of it."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # hash chain (migration 0005; see alertsvc.audit): set when the row is flushed
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """One row (id 1): how many audit entries there are and the last one's hash.

    Anchors the end of the chain, so deleting the newest entries is detectable.
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


# --- outbox (migration 0002): alerts, the people they concern, one row per message ---


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


# --- river watcher (migration 0005_i8watch) ---


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


# --- supporter digests (migration 0006_s3sup) ---


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
